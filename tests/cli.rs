//! The `rowguard` binary as a person runs it: `migrate`, `doctor` (clean, after a
//! deliberate breach, and `--json`), `seed demo` twice, `demo` on a given database and
//! on its own private server, and the exit codes for a missing `DATABASE_URL` (3), an
//! unreachable server (4) and a usage error (2). Each test gets its own database; the
//! binary is given the owner's URL, as an operator would.

mod support;

use std::process::{Command, Output};

use diesel::RunQueryDsl;
use rowguard::dev::TestDatabase;
use support::{assert_exit, stderr, stdout};

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
    assert!(text.contains("checks passed"), "{text}");
}
