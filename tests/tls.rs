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

use std::path::PathBuf;
use std::sync::OnceLock;

use diesel::sql_types::{Bool, Integer};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rowguard::dev::{LocalCluster, OwnedCluster, TestDatabase};
use rowguard::pool::PoolConfig;
use rowguard::tls_testing::{connect, TappedConnection};
use rowguard::{Error, TenantContext, TenantId};

/// The TLS cluster and the files its tests point `sslrootcert` at.
struct Fixture {
    /// Kept for the cluster's lifetime (the process's); its watcher removes it at exit.
    _cluster: OwnedCluster,
    /// The database's context key, for a tenant pool.
    key: rowguard::context::ContextKey,
    /// The application login's URL, on 127.0.0.1, without TLS parameters.
    app_url: url::Url,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
    /// A CA unrelated to the server.
    other_ca: PathBuf,
}

fn ca(name: &str) -> (KeyPair, CertificateParams) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (key, params)
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (ca_key, ca_params) = ca("rowguard test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let (other_key, other_params) = ca("unrelated CA");
        let other_cert = other_params.self_signed(&other_key).expect("other CA cert");

        let server_key = KeyPair::generate().expect("server key");
        let server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        let server_cert = server_params
            .signed_by(&server_key, &Issuer::new(ca_params, ca_key))
            .expect("server cert");

        let dir =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("certificate directory");
        let ca = dir.join("ca.pem");
        let other_ca = dir.join("other-ca.pem");
        std::fs::write(&ca, ca_cert.pem()).expect("write CA");
        std::fs::write(&other_ca, other_cert.pem()).expect("write other CA");

        let cluster =
            LocalCluster::start_owned_with_tls(&server_cert.pem(), &server_key.serialize_pem())
                .expect("TLS cluster");
        let app_url =
            url::Url::parse(&cluster.migrated_database("app").expect("database")).expect("app URL");
        let mut owner = diesel::Connection::establish(&cluster.server().database_url("app"))
            .expect("owner connection");
        let key = rowguard::dev::context_key(&mut owner).expect("context key");
        Fixture {
            _cluster: cluster,
            key,
            app_url,
            ca,
            other_ca,
        }
    })
}

/// The application login's URL for `host` (the cluster listens on 127.0.0.1 only),
/// with `params` as its query.
fn url(host: &str, params: &str) -> String {
    let mut url = fixture().app_url.clone();
    url.set_host(Some(host)).expect("host");
    url.set_query(Some(params));
    url.to_string()
}

fn ca_path() -> String {
    fixture().ca.display().to_string()
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
    let ctx = TenantContext::new(TenantId::new_v7());
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

/// The fixture's URL for `user` on `host`, with `params`.
fn url_as(user: &str, password: Option<&str>, host: &str, params: &str) -> String {
    let mut url = url::Url::parse(&url(host, params)).expect("url");
    url.set_username(user).expect("user");
    url.set_password(password).expect("password");
    url.to_string()
}

#[test]
fn the_command_line_connects_with_verify_full() {
    let params = format!("sslmode=verify-full&sslrootcert={}", ca_path());
    // Through the pool's TLS: the admin pool reads the context key.
    let admin = url_as(
        rowguard::dev::ADMIN_LOGIN_ROLE,
        Some(rowguard::dev::ADMIN_LOGIN_PASSWORD),
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
    let wrong = url_as(
        rowguard::dev::ADMIN_LOGIN_ROLE,
        Some(rowguard::dev::ADMIN_LOGIN_PASSWORD),
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
    let owner = url_as("postgres", None, "localhost", &params);
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
