//! Behind PgBouncer in transaction mode (the Debian package, started by the test on a
//! free port against the test server, `pool_mode = transaction`, 2 server
//! connections), many transactions from several tenants, through a pool of more
//! client connections than PgBouncer has server connections, stay isolated: every
//! read sees only its own tenant's rows, every write lands in its own tenant, and no
//! context is left on a server connection that the next client transaction reuses.
//! Skipped (with a message) when `/usr/sbin/pgbouncer` is not installed.

mod support;

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::sql_types::{Integer, Text};
use diesel::{QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use rowguard::dev::TestDatabase;
use rowguard::pool::{PoolConfig, TenantPool};
use rowguard::schema::tasks;
use rowguard::{Error, TenantContext, TenantId};
use support::{count, exec, make_tenant};

const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// A PgBouncer process of the test's own, killed on drop.
struct Bouncer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Bouncer {
    /// Starts PgBouncer in transaction mode in front of the database of `app_url`,
    /// letting in the user of `app_url` with its password.
    fn start(app_url: &str, server_conns: usize, extra: &str) -> Bouncer {
        let url = url::Url::parse(app_url).expect("url");
        let user = url.username().to_owned();
        let password = url.password().unwrap_or_default().to_owned();
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        let server_port = url.port().unwrap_or(5432);
        let database = url.path().trim_start_matches('/').to_owned();
        let dir = std::env::temp_dir().join(format!(
            "rowguard-pgbouncer-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let port = free_port();
        std::fs::write(
            dir.join("userlist.txt"),
            format!("\"{user}\" \"{password}\"\n"),
        )
        .expect("userlist");
        let ini = format!(
            "[databases]\n\
             {database} = host={host} port={server_port} dbname={database} password={password}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = md5\n\
             auth_file = {dir}/userlist.txt\n\
             pool_mode = transaction\n\
             default_pool_size = {server_conns}\n\
             min_pool_size = 0\n\
             max_client_conn = 200\n\
             server_reset_query =\n\
             logfile = {dir}/pgbouncer.log\n\
             pidfile = {dir}/pgbouncer.pid\n\
             {extra}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini).expect("ini");
        let mut cmd = Command::new(PGBOUNCER);
        if is_root() {
            // PgBouncer refuses to run as root; -u drops to another user, who must be
            // able to read the configuration and write the log.
            Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let bouncer = Bouncer { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen: {}",
                bouncer.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        bouncer
    }

    fn url(&self, app_url: &str) -> String {
        let mut url = url::Url::parse(app_url).expect("url");
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(self.port)).expect("port");
        url.to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

#[derive(QueryableByName)]
struct Seen {
    #[diesel(sql_type = Text)]
    tenant_setting: String,
    #[diesel(sql_type = Integer)]
    pid: i32,
}

/// Runs `rounds` transactions per tenant, all tenants at once, and returns the
/// backend pids that served them (or the first error).
async fn run_tenants(
    pool: &TenantPool,
    tenants: &[TenantId],
    rounds: usize,
) -> rowguard::Result<HashSet<i32>> {
    let mut handles = Vec::new();
    for (i, tenant) in tenants.iter().copied().enumerate() {
        let pool = pool.clone();
        handles.push(tokio::spawn(async move {
            let ctx = TenantContext::new(tenant);
            let mut pids = HashSet::new();
            for round in 0..rounds {
                let (seen, visible, foreign) = pool
                    .with_tenant(&ctx, async |conn| {
                        exec(
                            conn,
                            "INSERT INTO tasks (tenant_id, title) \
                             VALUES (rowguard.current_tenant_id(), 'via pgbouncer')",
                        )
                        .await?;
                        let seen: Seen = diesel::sql_query(
                            "SELECT current_setting('app.tenant_id') AS tenant_setting, \
                                    pg_backend_pid() AS pid",
                        )
                        .get_result(conn)
                        .await?;
                        let visible = count(conn, "tasks").await?;
                        let foreign = count(
                            conn,
                            "tasks WHERE tenant_id <> rowguard.current_tenant_id()",
                        )
                        .await?;
                        Ok((seen, visible, foreign))
                    })
                    .await?;
                assert_eq!(seen.tenant_setting, tenant.to_string());
                assert_eq!(
                    visible,
                    round as i64 + 1,
                    "tenant {i} sees exactly its own rows"
                );
                assert_eq!(foreign, 0);
                pids.insert(seen.pid);
                // The pipelined one-round-trip path too.
                let seen: Vec<uuid::Uuid> = pool
                    .fetch(&ctx, tasks::table.select(tasks::tenant_id))
                    .await?;
                assert_eq!(seen.len(), round + 1);
                assert!(seen.iter().all(|t| *t == tenant.as_uuid()));
            }
            Ok::<_, rowguard::Error>(pids)
        }));
    }
    let mut all = HashSet::new();
    for h in handles {
        all.extend(h.await.expect("tenant task")?);
    }
    Ok(all)
}

/// `pgbouncer --version` as (major, minor).
fn pgbouncer_version() -> (u32, u32) {
    let out = Command::new(PGBOUNCER)
        .arg("--version")
        .output()
        .expect("pgbouncer --version");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected version output {text:?}"));
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

const TENANTS: usize = 6;
const ROUNDS: usize = 40;

async fn tenants(db: &TestDatabase) -> Vec<TenantId> {
    let direct = db.app_pool(1).expect("direct pool");
    let mut out = Vec::new();
    for i in 0..TENANTS {
        out.push(make_tenant(&direct, &format!("bounced-{i}")).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_holds_behind_pgbouncer_in_transaction_mode() {
    if !Path::new(PGBOUNCER).exists() {
        eprintln!("skipped: {PGBOUNCER} is not installed (apt-get install pgbouncer)");
        return;
    }
    let db = TestDatabase::new().expect("db");
    let tenants = tenants(&db).await;
    // diesel-async prepares every statement under a name (tokio-postgres "sN") in one
    // round trip and runs it in the next. Only PgBouncer 1.21+ with
    // max_prepared_statements follows named statements from one server connection to
    // another; older versions work only with a single server connection per pool
    // (see docs/pgbouncer.md and the test below).
    let (major, minor) = pgbouncer_version();
    let (server_conns, extra) = if (major, minor) >= (1, 21) {
        (2, "max_prepared_statements = 200")
    } else {
        (1, "")
    };
    let bouncer = Bouncer::start(&db.url_app(), server_conns, extra);
    let pool = PoolConfig::new(bouncer.url(&db.url_app()))
        .max_size(TENANTS as u32)
        .build()
        .expect("pool through pgbouncer");

    let pids = run_tenants(&pool, &tenants, ROUNDS)
        .await
        .unwrap_or_else(|e| panic!("through pgbouncer {major}.{minor}: {e}\n{}", bouncer.log()));
    assert!(
        !pids.is_empty() && pids.len() <= server_conns,
        "{TENANTS} client connections shared {} server connections",
        pids.len()
    );
    // Between transactions, the server connections carry no context: a read with
    // none sees no tenant at all.
    for _ in 0..TENANTS {
        let (setting, visible) = pool
            .unscoped_for_tests(async |conn| {
                let seen: Seen = diesel::sql_query(
                    "SELECT coalesce(current_setting('app.tenant_id', true), '') AS tenant_setting, \
                            pg_backend_pid() AS pid",
                )
                .get_result(conn)
                .await?;
                Ok((seen.tenant_setting, count(conn, "tenants").await?))
            })
            .await
            .expect("unscoped read");
        assert_eq!((setting.as_str(), visible), ("", 0));
    }
    let mut owner = db.owner_conn().expect("owner");
    let total: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM tasks)",
        )),
        &mut owner,
    )
    .expect("total");
    assert_eq!(total, (TENANTS * ROUNDS) as i64);
    eprintln!(
        "pgbouncer {major}.{minor}: {} transactions from {TENANTS} tenants over {} server connection(s)",
        2 * TENANTS * ROUNDS,
        pids.len()
    );
}

/// Documents why docs/pgbouncer.md asks for max_prepared_statements: without it (any
/// PgBouncer before 1.21), two server connections are enough for a statement prepared
/// on one to be executed on the other, and the transaction fails (it never runs on the
/// wrong tenant: the error comes before any row is touched).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_prepared_statement_support_two_server_connections_break_diesel_async() {
    if !Path::new(PGBOUNCER).exists() || pgbouncer_version() >= (1, 21) {
        eprintln!("skipped: needs a PgBouncer older than 1.21");
        return;
    }
    let db = TestDatabase::new().expect("db");
    let tenants = tenants(&db).await;
    let bouncer = Bouncer::start(&db.url_app(), 2, "");
    let pool = PoolConfig::new(bouncer.url(&db.url_app()))
        .max_size(TENANTS as u32)
        .build()
        .expect("pool through pgbouncer");
    // The statement may go missing in a transaction (Error::Database) or while a
    // connection is set up (diesel-async runs two prepared SETs then, so bb8 cannot
    // connect: Error::ConnectionLost).
    match run_tenants(&pool, &tenants, ROUNDS).await {
        Err(e @ (Error::Database(_) | Error::ConnectionLost(_))) => {
            let text = e.to_string();
            assert!(
                text.contains("prepared statement \"s") && text.contains("does not exist"),
                "unexpected error {text}"
            )
        }
        other => panic!("expected a missing prepared statement, got {other:?}"),
    }
}
