//! The command line over TLS: `sslmode=verify-full` through the pool's rustls and
//! through libpq, against a cluster with a certificate from a test CA.

use rowguard::TenantId;
use rowguard_testkit::tls::Fixture;

fn fixture() -> &'static Fixture {
    rowguard_testkit::tls::fixture(env!("CARGO_TARGET_TMPDIR"))
}

#[test]
fn the_command_line_connects_with_verify_full() {
    let params = format!("sslmode=verify-full&sslrootcert={}", fixture().ca_path());
    // Through the pool's TLS: the admin pool reads the context key.
    let admin = fixture().url_as(
        rowguard_testkit::server::ADMIN_LOGIN_ROLE,
        Some(rowguard_testkit::server::ADMIN_LOGIN_PASSWORD),
        "localhost",
        &params,
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args([
            "context",
            "--tenant",
            &TenantId::new_v7().to_string(),
            "--json",
        ])
        .env_remove("ROWGUARD_CONTEXT_KEY")
        .env("ROWGUARD_ADMIN_URL", &admin)
        .output()
        .expect("rowguard context");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same admin URL with the unrelated CA is refused, naming it.
    let wrong = fixture().url_as(
        rowguard_testkit::server::ADMIN_LOGIN_ROLE,
        Some(rowguard_testkit::server::ADMIN_LOGIN_PASSWORD),
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            fixture().other_ca.display()
        ),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(["context", "--tenant", &TenantId::new_v7().to_string()])
        .env_remove("ROWGUARD_CONTEXT_KEY")
        .env("ROWGUARD_ADMIN_URL", &wrong)
        .output()
        .expect("rowguard context");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sslrootcert"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Through libpq (migrate and doctor open a diesel PgConnection).
    let owner = fixture().url_as("postgres", None, "localhost", &params);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(["migrate"])
        .env("DATABASE_URL", &owner)
        .output()
        .expect("rowguard migrate");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
