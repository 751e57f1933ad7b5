//! A private PostgreSQL cluster that serves TLS with a certificate signed by a CA made
//! here ([`fixture`]), and the URLs that reach it with each `sslmode`.

use std::path::PathBuf;
use std::sync::OnceLock;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::server::{LocalCluster, OwnedCluster};

/// The TLS cluster and the files its tests point `sslrootcert` at.
pub struct Fixture {
    /// Kept for the cluster's lifetime (the process's); its watcher removes it at exit.
    _cluster: OwnedCluster,
    /// The database's context key, for a tenant pool.
    pub key: rowguard::context::ContextKey,
    /// The application login's URL, on 127.0.0.1, without TLS parameters.
    pub app_url: url::Url,
    /// The CA that signed the server's certificate (for `localhost` and `127.0.0.1`).
    pub ca: PathBuf,
    /// A CA unrelated to the server.
    pub other_ca: PathBuf,
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

/// The process's TLS cluster, started on first use, with a migrated database `app`.
/// Its certificate files are written under `dir` (a test's `CARGO_TARGET_TMPDIR`).
///
/// # Panics
/// When the cluster cannot start: this is test scaffolding.
pub fn fixture(dir: &str) -> &'static Fixture {
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

        let dir = PathBuf::from(dir).join(format!("tls-{}", std::process::id()));
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
        let key = crate::server::context_key(&mut owner).expect("context key");
        Fixture {
            _cluster: cluster,
            key,
            app_url,
            ca,
            other_ca,
        }
    })
}

impl Fixture {
    /// The application login's URL for `host` (the cluster listens on 127.0.0.1 only),
    /// with `params` as its query.
    pub fn url(&self, host: &str, params: &str) -> String {
        let mut url = self.app_url.clone();
        url.set_host(Some(host)).expect("host");
        url.set_query(Some(params));
        url.to_string()
    }

    /// [`Fixture::url`] as `user` with `password`.
    pub fn url_as(&self, user: &str, password: Option<&str>, host: &str, params: &str) -> String {
        let mut url = url::Url::parse(&self.url(host, params)).expect("url");
        url.set_username(user).expect("user");
        url.set_password(password).expect("password");
        url.to_string()
    }

    /// The path of [`Fixture::ca`], for `sslrootcert`.
    pub fn ca_path(&self) -> String {
        self.ca.display().to_string()
    }
}
