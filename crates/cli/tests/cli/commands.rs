//! The `rowguard` binary as a person runs it: `migrate`, `doctor` (clean, after a
//! deliberate breach, and `--json`), `seed demo` twice, `demo` on a given database and
//! on its own private server, and the exit codes for a missing `DATABASE_URL` (3), an
//! unreachable server (4) and a usage error (2). Each test gets its own database; the
//! binary is given the owner's URL, as an operator would.

use std::process::{Command, Output};

use crate::{assert_exit, stderr, stdout};
use diesel::RunQueryDsl;
use rowguard_testkit::server::TestDatabase;

fn rowguard(database_url: Option<&str>, args: &[&str]) -> Output {
    rowguard_with(database_url, &[], args)
}

/// `rowguard args` with `DATABASE_URL` and the other variables `env` names.
fn rowguard_with(database_url: Option<&str>, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rowguard"));
    cmd.args(args)
        .env_remove("ROWGUARD_ADMIN_URL")
        .env_remove("ROWGUARD_CONTEXT_KEY")
        .envs(env.iter().copied());
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd.output().expect("run rowguard")
}

#[test]
fn migrate_on_a_migrated_database_says_up_to_date() {
    let db = TestDatabase::new().expect("test database");
    let out = rowguard(Some(&db.url_owner()), &["migrate"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("up to date"), "{}", stdout(&out));
}

#[test]
fn doctor_is_clean_then_finds_a_deliberate_breach() {
    let db = TestDatabase::new().expect("test database");
    let url = db.url_owner();
    assert_exit(&rowguard(Some(&url), &["doctor"]), 0);
    let json = rowguard(Some(&url), &["doctor", "--json"]);
    assert_exit(&json, 0);
    serde_json::from_str::<serde_json::Value>(&stdout(&json)).expect("doctor --json is JSON");

    let mut owner = db.owner_conn().expect("owner");
    diesel::sql_query("ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY")
        .execute(&mut owner)
        .expect("breach");
    let out = rowguard(Some(&url), &["doctor"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("tasks"), "{}", stdout(&out));
    let json = rowguard(Some(&url), &["doctor", "--json"]);
    assert_exit(&json, 1);
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&json)).expect("doctor --json is JSON after a breach");
    assert!(report.to_string().contains("tasks"), "{report}");
}

#[test]
fn seed_demo_succeeds_twice_and_writes_nothing_the_second_time() {
    let db = TestDatabase::new().expect("test database");
    let url = db.url_app();
    let admin = [("ROWGUARD_ADMIN_URL", db.url_admin())];
    let admin: Vec<(&str, &str)> = admin.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = rowguard_with(Some(&url), &admin, &["seed", "demo"]);
    assert_exit(&first, 0);
    assert!(stdout(&first).contains("acme"), "{}", stdout(&first));
    let second = rowguard_with(Some(&url), &admin, &["seed", "demo"]);
    assert_exit(&second, 0);
    assert!(
        stdout(&second).contains(" 0 rows written"),
        "{}",
        stdout(&second)
    );
}

#[test]
fn missing_database_url_exits_3_and_names_it() {
    for args in [&["migrate"][..], &["doctor"], &["seed", "demo"]] {
        let out = rowguard(None, args);
        assert_exit(&out, 3);
        assert!(
            stderr(&out).contains("DATABASE_URL"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn unreachable_server_exits_4() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let url = "postgres://rowguard@127.0.0.1:1/rowguard";
    for args in [&["migrate"][..], &["doctor"], &["seed", "demo"], &["demo"]] {
        let out = rowguard(Some(url), args);
        assert_exit(&out, 4);
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_exit(&rowguard(None, &["seed"]), 2);
    assert_exit(&rowguard(None, &["seed", "everything"]), 2);
}

#[test]
fn demo_on_a_given_database_shows_two_tenants() {
    let db = TestDatabase::new().expect("test database");
    let out = rowguard(Some(&db.url_owner()), &["demo"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for needle in [
        "Acme Logistics",
        "Globex Energy",
        "resolve_tenant_slug",
        "checks passed",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!text.contains("BREACH"), "{text}");
}

#[test]
fn demo_without_database_url_runs_on_its_own_private_server() {
    let out = rowguard(None, &["demo"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("private PostgreSQL"), "{text}");
    // Its first lines name the server and pgvector it runs on.
    let server = text
        .lines()
        .find(|l| l.starts_with("Server: "))
        .expect("a Server line");
    assert!(
        server.starts_with("Server: PostgreSQL ") && server.contains(", pgvector 0."),
        "{server}"
    );
    // Then the doctor's verdict on the demo's database: no error on any stack, and
    // nothing at all on the default one (pgvector 0.8.6 has no CVE warning).
    let doctor = text
        .lines()
        .find(|l| l.starts_with("rowguard doctor: "))
        .expect("a doctor line");
    assert!(
        doctor.contains("no findings") || doctor.contains(": 0 errors"),
        "{text}"
    );
    if server.contains("pgvector 0.8.6") {
        assert_eq!(
            doctor, "rowguard doctor: no findings, the isolation rules hold.",
            "{text}"
        );
    }
    assert!(text.contains("checks passed"), "{text}");
}

/// Runs psql (a real client) on `url` with `commands`, each its own `-c`, in one session.
fn psql(url: &str, commands: &[&str]) -> Output {
    let mut cmd = Command::new("psql");
    cmd.arg(url)
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]);
    for c in commands {
        cmd.arg("-c").arg(c);
    }
    cmd.output().expect("run psql")
}

#[test]
fn a_context_from_rowguard_context_acts_as_the_tenant_in_psql_and_a_tampered_one_is_refused() {
    let db = TestDatabase::new().expect("test database");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let pool = rt.block_on(async { db.app_pool(1) }).expect("pool");
    let (a, b) = rt.block_on(async {
        let a = rowguard_testkit::fixtures::make_tenant(&pool, "psql-a").await;
        let b = rowguard_testkit::fixtures::make_tenant(&pool, "psql-b").await;
        for (t, n) in [(a, 1), (b, 2)] {
            for _ in 0..n {
                pool.with_tenant(&rowguard::TenantContext::new(t), async |conn| {
                    rowguard_testkit::fixtures::exec(
                        conn,
                        "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), 't')",
                    )
                    .await
                })
                .await
                .expect("task");
            }
        }
        (a, b)
    });
    let admin = db.url_admin();
    let out = rowguard_with(
        None,
        &[("ROWGUARD_ADMIN_URL", admin.as_str())],
        &[
            "context",
            "--tenant",
            &a.to_string(),
            "--ttl",
            "2m",
            "--sql",
        ],
    );
    assert_exit(&out, 0);
    let statement = stdout(&out).trim().to_owned();
    assert!(
        statement.starts_with("SELECT rowguard.tenant_gate(set_config('app.context', 'v1."),
        "{statement}"
    );

    // The statement acts as tenant a: a's one task, none of b's two.
    let run = psql(
        &db.url_app(),
        &["BEGIN", &statement, "SELECT count(*) FROM tasks", "COMMIT"],
    );
    assert_exit(&run, 0);
    assert_eq!(stdout(&run).lines().last(), Some("1"), "{}", stdout(&run));

    // The same statement naming b instead: the signature no longer matches.
    let tampered = statement.replace(&a.to_string(), &b.to_string());
    assert_ne!(tampered, statement);
    let run = psql(
        &db.url_app(),
        &["BEGIN", &tampered, "SELECT count(*) FROM tasks", "COMMIT"],
    );
    assert_ne!(run.status.code(), Some(0), "{}", stdout(&run));
    assert!(stderr(&run).contains("bad signature"), "{}", stderr(&run));

    // --json names the setting and its value.
    let out = rowguard_with(
        None,
        &[("ROWGUARD_ADMIN_URL", admin.as_str())],
        &["context", "--tenant", &a.to_string(), "--json"],
    );
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert!(json["settings"]["app.context"]
        .as_str()
        .is_some_and(|v| v.starts_with("v1.")));
}

#[test]
fn keys_rotate_adds_a_key_both_stay_valid_through_the_grace_period() {
    let db = TestDatabase::new().expect("test database");
    let admin = db.url_admin();
    let out = rowguard_with(
        None,
        &[("ROWGUARD_ADMIN_URL", admin.as_str())],
        &["keys", "rotate", "--grace", "1h"],
    );
    assert_exit(&out, 0);
    let line = stdout(&out);
    let key = line
        .trim()
        .strip_prefix("ROWGUARD_CONTEXT_KEY=")
        .expect("the new key")
        .to_owned();
    assert!(key.starts_with("2:"), "{key}");
    // The new key signs a context the database accepts, and so does the old one.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for signer in [key.parse().expect("key"), db.context_key()] {
        let n = rt
            .block_on(async {
                let pool = db
                    .app_pool_config()
                    .context_key(signer)
                    .max_size(1)
                    .build()?;
                let slug = format!("rotated-{}", rowguard::TenantId::new_v7());
                let tenant = rowguard_testkit::fixtures::make_tenant(&pool, &slug).await;
                pool.with_tenant(&rowguard::TenantContext::new(tenant), async |conn| {
                    rowguard_testkit::fixtures::count(conn, "tasks").await
                })
                .await
            })
            .expect("a context signed with either key is accepted");
        assert_eq!(n, 0);
    }
    let list = rowguard_with(
        None,
        &[("ROWGUARD_ADMIN_URL", admin.as_str())],
        &["keys", "list"],
    );
    assert_exit(&list, 0);
    assert!(stdout(&list).contains("retires"), "{}", stdout(&list));
}
