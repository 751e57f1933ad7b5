//! `rowguard audit` as a process, through `ROWGUARD_ADMIN_URL`: a tenant's trail by
//! target and actor, a page at a time with `--after`, JSON that parses, and exit codes
//! a script can act on (0 rows, 1 nothing matched, 2 usage, 3 bad input).

use std::process::Output;

use rowguard::{MemberRole, TenantContext};
use rowguard_testkit::fixtures::{exec, make_tenant, make_user};
use rowguard_testkit::server::TestDatabase;

use crate::{as_admin, assert_exit, json, stderr, stdout};

fn audit(db: &TestDatabase, args: &[&str]) -> Output {
    as_admin(db, "audit", args)
}

#[test]
fn the_audit_trail_from_the_command_line() {
    let db = TestDatabase::new().expect("test database");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (member, task) = rt.block_on(async {
        let pool = db.app_pool(1).expect("pool");
        let tenant = make_tenant(&pool, "cli-audit").await;
        let member = make_user(&pool, tenant, MemberRole::Member).await;
        let ctx = TenantContext::new(tenant).with_user(member, MemberRole::Member);
        pool.with_tenant(&ctx, async |conn| {
            exec(
                conn,
                "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), 'a')",
            )
            .await?;
            exec(conn, "UPDATE tasks SET title = 'b'").await?;
            exec(conn, "UPDATE tasks SET title = 'c'").await
        })
        .await
        .expect("writes");
        let task: uuid::Uuid = pool
            .with_tenant(&ctx, async |conn| {
                use diesel::QueryDsl;
                use diesel_async::RunQueryDsl;
                Ok(rowguard::schema::tasks::table
                    .select(rowguard::schema::tasks::id)
                    .first(conn)
                    .await?)
            })
            .await
            .expect("task id");
        (member, task)
    });
    let task_s = task.to_string();
    let member_s = member.to_string();

    // By target, as JSON: the three writes, newest first.
    let out = audit(
        &db,
        &["--tenant", "cli-audit", "--target", &task_s, "--json"],
    );
    assert_exit(&out, 0);
    let page = json(&out);
    let actions: Vec<&str> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["update", "update", "insert"], "{page}");
    assert_eq!(page["entries"][0]["changes"]["new"]["title"], "c");
    assert_eq!(page["entries"][0]["actor"], format!("user:{member}"));
    assert!(page["next"].is_null());

    // By actor, one a page: --after continues where the last page ended.
    let out = audit(
        &db,
        &[
            "--tenant",
            "cli-audit",
            "--actor",
            &member_s,
            "--limit",
            "2",
            "--json",
        ],
    );
    assert_exit(&out, 0);
    let first = json(&out);
    assert_eq!(first["entries"].as_array().map(Vec::len), Some(2));
    let cursor = first["next"].as_str().expect("a next cursor").to_owned();
    let out = audit(
        &db,
        &[
            "--tenant",
            "cli-audit",
            "--actor",
            &member_s,
            "--limit",
            "2",
            "--after",
            &cursor,
            "--json",
        ],
    );
    assert_exit(&out, 0);
    let second = json(&out);
    assert_eq!(second["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["entries"][0]["action"], "insert");

    // Text: one tab-separated line per row.
    let out = audit(
        &db,
        &[
            "--tenant",
            "cli-audit",
            "--target",
            &task_s,
            "--since",
            "1h",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 3, "{}", stdout(&out));
    assert!(stdout(&out).lines().all(|l| l.split('\t').count() == 6));

    // Nothing matched: 1. Bad input: 3, with the reason. Usage: 2.
    let nobody = uuid::Uuid::now_v7().to_string();
    assert_exit(
        &audit(&db, &["--tenant", "cli-audit", "--target", &nobody]),
        1,
    );
    let out = audit(&db, &["--tenant", "no-such-tenant"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("no-such-tenant"), "{}", stderr(&out));
    assert_exit(
        &audit(&db, &["--tenant", "cli-audit", "--since", "yesterday-ish"]),
        3,
    );
    assert_exit(&audit(&db, &["--tenant", "cli-audit", "--limit", "0"]), 3);
    assert_exit(
        &audit(&db, &["--tenant", "cli-audit", "--after", "garbage"]),
        3,
    );
    assert_exit(&audit(&db, &["--target", &task_s]), 2);
}
