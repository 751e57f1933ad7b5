//! `rowguard tenant ...` as a process, through `ROWGUARD_ADMIN_URL`: create is
//! idempotent by slug, suspend refuses the tenant's transactions through the pool until
//! resume, delete needs `--yes` and prints the rows it removed; every command's `--json`
//! parses.

use std::process::{Command, Output};

use rowguard::{Error, TenantContext, TenantId};
use rowguard_testkit::server::TestDatabase;

use crate::{assert_exit, stderr, stdout};

fn tenant(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .arg("tenant")
        .args(args)
        .env("ROWGUARD_ADMIN_URL", db.url_admin())
        .env_remove("DATABASE_URL")
        .env_remove("ROWGUARD_CONTEXT_KEY")
        .output()
        .expect("run rowguard")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// Counts the tenant's tasks through the tenant pool, as the application login.
fn tasks_of(db: &TestDatabase, tenant: TenantId) -> rowguard::Result<i64> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let pool = db.app_pool(1)?;
        pool.with_tenant(&TenantContext::new(tenant), async |conn| {
            rowguard_testkit::fixtures::count(conn, "tasks").await
        })
        .await
    })
}

#[test]
fn the_tenant_lifecycle_from_the_command_line() {
    let db = TestDatabase::new().expect("test database");
    let create = [
        "create",
        "--slug",
        "cli-co",
        "--name",
        "CLI Co",
        "--plan",
        "pro",
        "--owner-email",
        "owner@cli-co.example",
        "--json",
    ];
    let out = tenant(&db, &create);
    assert_exit(&out, 0);
    let made = json(&out);
    assert_eq!(made["created"], true, "{made}");
    assert_eq!(made["tenant"]["plan"], "pro");
    let id: TenantId = made["tenant"]["id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a tenant id");

    let again = json(&tenant(&db, &create));
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(again["tenant"]["id"], made["tenant"]["id"]);

    let out = tenant(&db, &["list"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains(&format!("cli-co\t{id}\tactive\tpro")),
        "{}",
        stdout(&out)
    );
    let shown = json(&tenant(&db, &["show", "cli-co", "--json"]));
    assert_eq!(shown["settings"]["seats"], 50, "{shown}");

    assert_eq!(tasks_of(&db, id).expect("active"), 0);
    let out = tenant(&db, &["suspend", "cli-co", "--json"]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["status"], "suspended");
    let refused = tasks_of(&db, id);
    assert!(
        matches!(refused, Err(Error::TenantSuspended(_))),
        "{refused:?}"
    );
    assert_exit(&tenant(&db, &["resume", "cli-co"]), 0);
    assert_eq!(tasks_of(&db, id).expect("resumed"), 0);

    // Delete asks for --yes, and deletes nothing without it.
    let out = tenant(&db, &["delete", "cli-co"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_exit(&tenant(&db, &["show", "cli-co"]), 0);
    let out = tenant(&db, &["delete", "cli-co", "--yes", "--json"]);
    assert_exit(&out, 0);
    let deleted = json(&out);
    assert_eq!(deleted["rows"]["tenants"], 1, "{deleted}");
    assert_eq!(deleted["rows"]["users"], 1, "the owner");
    let out = tenant(&db, &["show", "cli-co"]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("no tenant has the slug"),
        "{}",
        stderr(&out)
    );
    let unknown = tasks_of(&db, id);
    assert!(
        matches!(unknown, Err(Error::UnknownTenant(_))),
        "{unknown:?}"
    );
}
