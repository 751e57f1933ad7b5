//! `rowguard tenant ...` as a process, through `ROWGUARD_ADMIN_URL`: create is
//! idempotent by slug, suspend refuses the tenant's transactions through the pool until
//! resume, delete needs `--yes` and prints the rows it removed; export and import
//! round-trip a tenant and import a copy, with the documented exit codes for a tenant
//! that exists (7), a taken slug (7), another schema version (6) and a file that cannot
//! be written or read (8); every command's `--json` parses.

use std::process::Output;

use rowguard::{Error, TenantContext, TenantId};
use rowguard_testkit::server::TestDatabase;

use crate::{as_admin, assert_exit, json, stderr, stdout};

fn tenant(db: &TestDatabase, args: &[&str]) -> Output {
    as_admin(db, "tenant", args)
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

/// A directory of its own under the system's temporary one, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "rowguard-cli-transfer-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn export_and_import_from_the_command_line() {
    let db = TestDatabase::new().expect("test database");
    let dir = TempDir::new();
    let file = dir.0.join("cli-co.sqlite");
    let file_arg = file.to_str().expect("a UTF-8 path");
    let out = tenant(
        &db,
        &[
            "create",
            "--slug",
            "cli-co",
            "--name",
            "CLI Co",
            "--owner-email",
            "owner@cli-co.example",
            "--json",
        ],
    );
    assert_exit(&out, 0);
    let id = json(&out)["tenant"]["id"].clone();

    let out = tenant(&db, &["export", "cli-co", "--to", file_arg, "--json"]);
    assert_exit(&out, 0);
    let exported = json(&out);
    assert_eq!(exported["tenant"], id, "{exported}");
    assert_eq!(exported["rows"]["tenants"], 1, "{exported}");
    assert_eq!(exported["rows"]["users"], 1, "the owner");
    assert_eq!(
        exported["rows"]["audit_log"], 2,
        "provisioning's two rows, audited"
    );
    assert_eq!(exported["total"], 4);
    assert!(exported["schema_version"].is_string(), "{exported}");
    // An export never overwrites: exit 8, the file's own code.
    assert_exit(&tenant(&db, &["export", "cli-co", "--to", file_arg]), 8);

    // Restoring over the tenant that exists: exit 7.
    let out = tenant(&db, &["import", file_arg, "--json"]);
    assert_exit(&out, 7);
    assert!(stderr(&out).contains("exists"), "{}", stderr(&out));

    assert_exit(&tenant(&db, &["delete", "cli-co", "--yes"]), 0);
    let out = tenant(&db, &["import", file_arg, "--json"]);
    assert_exit(&out, 0);
    let restored = json(&out);
    assert_eq!(restored["tenant"], id, "{restored}");
    assert_eq!(restored["copy_of"], serde_json::Value::Null);
    assert_eq!(restored["rows"], exported["rows"], "{restored}");
    assert_eq!(json(&tenant(&db, &["show", "cli-co", "--json"]))["id"], id);

    let out = tenant(
        &db,
        &["import", file_arg, "--slug", "cli-co-copy", "--json"],
    );
    assert_exit(&out, 0);
    let copy = json(&out);
    assert_eq!(copy["copy_of"], id, "{copy}");
    assert_ne!(copy["tenant"], id);
    assert_eq!(copy["slug"], "cli-co-copy");
    assert_eq!(copy["rows"]["users"], 1, "{copy}");
    let shown = json(&tenant(&db, &["show", "cli-co-copy", "--json"]));
    assert_eq!(shown["name"], "CLI Co (copy)", "{shown}");
    // The slug is taken now.
    assert_exit(
        &tenant(&db, &["import", file_arg, "--slug", "cli-co-copy"]),
        7,
    );

    // A file from another schema version: exit 6, and a clear message.
    let other = dir.0.join("other-version.sqlite");
    std::fs::copy(&file, &other).expect("copy");
    rusqlite::Connection::open(&other)
        .expect("open")
        .execute(
            "UPDATE rowguard_manifest SET value = '20000101000000' WHERE key = 'schema_version'",
            [],
        )
        .expect("tamper");
    let out = tenant(
        &db,
        &[
            "import",
            other.to_str().expect("utf-8"),
            "--slug",
            "cli-co-old",
        ],
    );
    assert_exit(&out, 6);
    assert!(
        stderr(&out).contains("schema version") && stderr(&out).contains("20000101000000"),
        "{}",
        stderr(&out)
    );
    // Not a file at all: exit 8.
    let out = tenant(
        &db,
        &[
            "import",
            dir.0.join("missing.sqlite").to_str().expect("utf-8"),
        ],
    );
    assert_exit(&out, 8);
}
