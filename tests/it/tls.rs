//! TLS on the pool's connections (`src/pool/tls.rs`), with libpq's `sslmode` and
//! `sslrootcert`, against a private cluster of this file's own
//! (`LocalCluster::start_owned_with_tls`) serving a certificate for `localhost` and
//! 127.0.0.1 signed by a CA made here with rcgen. Each connection is opened the way the
//! pool opens its own (`rowguard::tls_testing::connect`), as the application login:
//! - `sslmode=require` encrypts (`pg_stat_ssl` says so for the backend);
//! - `verify-full` with the CA as `sslrootcert` connects by name and by IP address, and
//!   `channel_binding=require` succeeds (SCRAM-SHA-256-PLUS over `tls-server-end-point`);
//! - an unrelated CA fails `verify-full`, `verify-ca` and `require` with `sslrootcert`,
//!   naming the `sslrootcert`; a host name the certificate does not carry fails
//!   `verify-full`, naming the host, and passes `verify-ca`;
//! - over TLS the tap still reads the plaintext protocol: a division by zero is
//!   classified by its SQLSTATE (class 22, `Error::InvalidInput`), and the
//!   `ReadyForQuery` statuses are seen;
//! - against the shared plaintext server, `disable` and `prefer` connect (`prefer`
//!   after the server declined the `SSLRequest`, which the tap must not take for a
//!   message) and `require` fails, saying the server does not accept TLS;
//! - a `TenantPool` built from a `verify-full` URL connects over TLS, and an error in
//!   `with_tenant` is classified by its SQLSTATE there too.

use diesel::sql_types::{Bool, Integer};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use rowguard::pool::PoolConfig;
use rowguard::tls_testing::{connect, TappedConnection};
use rowguard::{Error, TenantContext};
use rowguard_testkit::server::TestDatabase;
use rowguard_testkit::tls::Fixture;

fn fixture() -> &'static Fixture {
    rowguard_testkit::tls::fixture(env!("CARGO_TARGET_TMPDIR"))
}

fn url(host: &str, params: &str) -> String {
    fixture().url(host, params)
}

fn ca_path() -> String {
    fixture().ca_path()
}

#[derive(QueryableByName)]
struct Ssl {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

const BACKEND_SSL: &str = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

async fn backend_uses_tls(c: &mut TappedConnection) -> bool {
    let row: Ssl = diesel::sql_query(BACKEND_SSL)
        .get_result(&mut c.conn)
        .await
        .expect("pg_stat_ssl");
    row.ssl
}

async fn refused(url: &str) -> String {
    match connect(url).await {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn require_encrypts() {
    let mut c = connect(&url("127.0.0.1", "sslmode=require"))
        .await
        .expect("connect");
    assert_eq!(c.ssl_answer(), Some(b'S'));
    assert!(backend_uses_tls(&mut c).await);
}

#[tokio::test]
async fn verify_full_connects_by_name_and_by_address_with_channel_binding() {
    for host in ["localhost", "127.0.0.1"] {
        let params = format!(
            "sslmode=verify-full&sslrootcert={}&channel_binding=require",
            ca_path()
        );
        let mut c = connect(&url(host, &params))
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        assert!(backend_uses_tls(&mut c).await, "{host}");
    }
}

#[tokio::test]
async fn an_unrelated_ca_is_refused_and_named() {
    let other = fixture().other_ca.display().to_string();
    for mode in ["verify-full", "verify-ca", "require"] {
        let e = refused(&url(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={other}"),
        ))
        .await;
        assert!(
            e.contains("server certificate not trusted by sslrootcert") && e.contains(&other),
            "{mode}: {e}"
        );
    }
}

#[tokio::test]
async fn a_host_name_the_certificate_lacks_fails_verify_full_only() {
    // The name is checked against `host`; the socket goes to `hostaddr`.
    let params = |mode: &str| {
        format!(
            "hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={}",
            ca_path()
        )
    };
    let e = refused(&url("db.example.test", &params("verify-full"))).await;
    assert!(e.contains("not valid for host 'db.example.test'"), "{e}");
    let mut c = connect(&url("db.example.test", &params("verify-ca")))
        .await
        .expect("verify-ca ignores the name");
    assert!(backend_uses_tls(&mut c).await);
}

#[derive(Debug, QueryableByName)]
struct Quotient {
    #[diesel(sql_type = Integer)]
    q: i32,
}

#[tokio::test]
async fn sqlstates_are_read_through_tls() {
    let mut c = connect(&url("localhost", "sslmode=require"))
        .await
        .expect("connect");
    assert!(c.is_idle());
    let err = diesel::sql_query("SELECT 1/0 AS q")
        .get_result::<Quotient>(&mut c.conn)
        .await
        .expect_err("division by zero");
    assert!(
        matches!(c.classify(err), Error::InvalidInput(_)),
        "class 22 is invalid input"
    );
    assert!(c.is_idle());
}

#[tokio::test]
async fn a_plaintext_server_serves_disable_and_prefer_and_refuses_require() {
    let db = TestDatabase::new().expect("db");
    let base = db.url_app();
    let with = |params: &str| format!("{base}?{params}");

    let mut c = connect(&with("sslmode=disable")).await.expect("disable");
    assert_eq!(c.ssl_answer(), None, "disable sends no SSLRequest");
    assert!(!backend_uses_tls(&mut c).await);

    for url in [with("sslmode=prefer"), base.clone()] {
        let mut c = connect(&url).await.expect("prefer");
        assert_eq!(c.ssl_answer(), Some(b'N'), "{url}");
        assert!(!backend_uses_tls(&mut c).await);
        let err = diesel::sql_query("SELECT 1/0 AS q")
            .get_result::<Quotient>(&mut c.conn)
            .await
            .expect_err("division by zero");
        assert!(matches!(c.classify(err), Error::InvalidInput(_)));
    }

    let e = refused(&with("sslmode=require")).await;
    assert!(e.contains("does not accept TLS"), "{e}");
}

#[tokio::test]
async fn a_tenant_pool_runs_its_transactions_over_tls() {
    let url = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", ca_path()),
    );
    // One connection, so both checks below are about the same one.
    let pool = PoolConfig::new(url)
        .context_key(fixture().key.clone())
        .max_size(1)
        .build()
        .expect("pool");
    let ctx = TenantContext::new(rowguard_testkit::fixtures::make_tenant(&pool, "tls").await);
    let err = pool
        .with_tenant(&ctx, async |conn| {
            let q: Quotient = diesel::sql_query("SELECT 1/0 AS q")
                .get_result(conn)
                .await?;
            Ok(q.q)
        })
        .await
        .expect_err("division by zero");
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    // Read outside the tenant transaction: inside it the session acts as
    // rowguard_app, which may not see the login's row in pg_stat_ssl.
    let ssl = pool
        .unscoped_for_tests(async |conn| {
            let row: Ssl = diesel::sql_query(BACKEND_SSL).get_result(conn).await?;
            Ok(row.ssl)
        })
        .await
        .expect("pg_stat_ssl");
    assert!(ssl);
}
