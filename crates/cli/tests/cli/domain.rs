//! `rowguard domain ...` as a process: add prints a token once, verify refuses a wrong
//! one (exit 9) and takes the right one, a host verified for one tenant is refused to
//! another (exit 7), primary and remove act, and `domain resolve` answers as the
//! application does (by verified host and by `<slug>.<base domain>`, exit 1 for none).

use std::process::{Command, Output};

use rowguard_testkit::server::TestDatabase;

use crate::{as_admin, assert_exit, json, stdout};

fn domain(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .arg("domain")
        .args(args)
        .env("ROWGUARD_ADMIN_URL", db.url_admin())
        .env("DATABASE_URL", db.url_app())
        .env_remove("ROWGUARD_CONTEXT_KEY")
        .env_remove("ROWGUARD_BASE_DOMAIN")
        .output()
        .expect("run rowguard")
}

/// Creates a tenant with `rowguard tenant create`; returns its id.
pub fn create_tenant(db: &TestDatabase, slug: &str) -> String {
    let email = format!("owner@{slug}.example");
    let out = as_admin(
        db,
        "tenant",
        &[
            "create",
            "--slug",
            slug,
            "--name",
            slug,
            "--owner-email",
            &email,
            "--json",
        ],
    );
    assert_exit(&out, 0);
    json(&out)["tenant"]["id"].as_str().expect("id").to_owned()
}

#[test]
fn domains_from_the_command_line() {
    let db = TestDatabase::new().expect("test database");
    let id = create_tenant(&db, "dom-co");
    create_tenant(&db, "dom-rival");

    let out = domain(&db, &["add", "dom-co", "Shop.Dom-Co.example", "--json"]);
    assert_exit(&out, 0);
    let added = json(&out);
    assert_eq!(added["domain"]["host"], "shop.dom-co.example");
    let token = added["verification_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(token.starts_with("rgd_"), "{added}");

    assert_exit(&domain(&db, &["resolve", "shop.dom-co.example"]), 1);
    assert_exit(
        &domain(
            &db,
            &["verify", "dom-co", "shop.dom-co.example", "rgd_wrong"],
        ),
        9,
    );
    let out = domain(
        &db,
        &["verify", "dom-co", "shop.dom-co.example", &token, "--json"],
    );
    assert_exit(&out, 0);
    assert!(json(&out)["verified_at"].is_string());

    let out = domain(&db, &["resolve", "shop.dom-co.example:443", "--json"]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["tenant_id"], id.as_str());
    let out = domain(
        &db,
        &[
            "resolve",
            "dom-co.tenants.example",
            "--base-domain",
            "tenants.example",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), id);

    // The rival may claim the host, never verify it.
    let out = domain(&db, &["add", "dom-rival", "shop.dom-co.example", "--json"]);
    assert_exit(&out, 0);
    let rival_token = json(&out)["verification_token"]
        .as_str()
        .expect("t")
        .to_owned();
    assert_exit(
        &domain(
            &db,
            &["verify", "dom-rival", "shop.dom-co.example", &rival_token],
        ),
        7,
    );

    assert_exit(
        &domain(&db, &["primary", "dom-co", "shop.dom-co.example"]),
        0,
    );
    let out = domain(&db, &["list", "dom-co"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out).trim(),
        "shop.dom-co.example\tverified\tprimary"
    );

    assert_exit(
        &domain(&db, &["remove", "dom-co", "shop.dom-co.example"]),
        0,
    );
    assert_exit(
        &domain(&db, &["remove", "dom-co", "shop.dom-co.example"]),
        3,
    );
    assert_exit(&domain(&db, &["resolve", "shop.dom-co.example"]), 1);
    assert_exit(&domain(&db, &["add", "no-such-tenant", "x.example"]), 3);
}
