//! Behind PgBouncer in transaction mode (started by the test on a free port against
//! the test server, `pool_mode = transaction`), many transactions from several
//! tenants, through a pool of more client connections than PgBouncer has server
//! connections, stay isolated: every read sees only its own tenant's rows, every write
//! lands in its own tenant, and no context is left on a server connection that the
//! next client transaction reuses.
//!
//! The PgBouncer used is `$ROWGUARD_PGBOUNCER`, else the 1.21+ build that
//! `scripts/setup.sh` installs into `/opt/rowguard/pgbouncer` when the Debian package
//! is older, else the Debian package (`/usr/sbin/pgbouncer`). With 1.21 or later the
//! isolation test runs over two server connections with `max_prepared_statements =
//! 200`, and a control shows that the same two connections break without it. When the
//! Debian package is older than 1.21 (Debian 12: 1.18), it is tested too: isolation
//! over its one workable server connection, and the failure with two.
//! Each test is skipped (with a message) when it has no binary to run.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::{Integer, Text};
use diesel::{QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use rowguard::pool::{PoolConfig, TenantPool};
use rowguard::schema::tasks;
use rowguard::{Error, TenantContext, TenantId};
use rowguard_testkit::fixtures::{count, exec, make_tenant};
use rowguard_testkit::server::TestDatabase;
use tokio::sync::Barrier;

/// Debian's package.
const DEBIAN_PGBOUNCER: &str = "/usr/sbin/pgbouncer";
/// Where `scripts/setup.sh` installs PgBouncer 1.21+ when Debian's is older.
const BUILT_PGBOUNCER: &str = "/opt/rowguard/pgbouncer/bin/pgbouncer";
/// PgBouncer follows named prepared statements across server connections from here.
const PREPARED_STATEMENTS_SINCE: (u32, u32) = (1, 21);

/// The PgBouncer to test: `$ROWGUARD_PGBOUNCER` (which must exist when set), else
/// setup.sh's build, else Debian's package, else none.
fn pgbouncer() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ROWGUARD_PGBOUNCER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "ROWGUARD_PGBOUNCER={} does not exist",
            path.display()
        );
        return Some(path);
    }
    [BUILT_PGBOUNCER, DEBIAN_PGBOUNCER]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Debian's package, when it is installed, older than 1.21 and not already the
/// PgBouncer that [`pgbouncer`] picks (whose tests then cover it).
fn older_debian_pgbouncer() -> Option<PathBuf> {
    let debian = PathBuf::from(DEBIAN_PGBOUNCER);
    (debian.exists()
        && pgbouncer_version(&debian) < PREPARED_STATEMENTS_SINCE
        && pgbouncer().as_deref() != Some(debian.as_path()))
    .then_some(debian)
}

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
    fn start(binary: &Path, app_url: &str, server_conns: usize, extra: &str) -> Bouncer {
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
        let mut cmd = Command::new(binary);
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
                            "SELECT rowguard.current_tenant_id()::text AS tenant_setting, \
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

/// Holds transactions of two tenants open at the same time. In transaction mode each
/// keeps its own server connection until it ends, so PgBouncer must open a second one;
/// returns the two backend pids (checked to differ, with each its own context), or the
/// first error.
async fn two_at_once(pool: &TenantPool, tenants: &[TenantId]) -> rowguard::Result<HashSet<i32>> {
    let barrier = Arc::new(Barrier::new(2));
    let mut handles = Vec::new();
    for tenant in tenants.iter().take(2).copied() {
        let pool = pool.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let met = AtomicBool::new(false);
            let seen = pool
                .with_tenant(&TenantContext::new(tenant), async |conn| {
                    let seen: Seen = diesel::sql_query(
                        "SELECT rowguard.current_tenant_id()::text AS tenant_setting, \
                                pg_backend_pid() AS pid",
                    )
                    .get_result(conn)
                    .await?;
                    // This transaction now holds its server connection: wait for the
                    // other one to hold one too.
                    tokio::time::timeout(Duration::from_secs(10), barrier.wait())
                        .await
                        .expect("the other transaction never started: no second server connection");
                    met.store(true, Ordering::SeqCst);
                    Ok(seen)
                })
                .await;
            if !AtomicBool::load(&met, Ordering::SeqCst) {
                // Failed before the meeting point: do not keep the other one waiting.
                barrier.wait().await;
            }
            let seen = seen?;
            assert_eq!(seen.tenant_setting, tenant.to_string());
            Ok::<_, rowguard::Error>(seen.pid)
        }));
    }
    let mut pids = HashSet::new();
    for h in handles {
        pids.insert(h.await.expect("held transaction")?);
    }
    assert_eq!(
        pids.len(),
        2,
        "two open transactions on one server connection"
    );
    Ok(pids)
}

/// `pgbouncer --version` as (major, minor).
fn pgbouncer_version(binary: &Path) -> (u32, u32) {
    let out = Command::new(binary)
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
    let Some(binary) = pgbouncer() else {
        eprintln!("skipped: no PgBouncer (run scripts/setup.sh)");
        return;
    };
    // diesel-async prepares every statement under a name (tokio-postgres "sN") in one
    // round trip and runs it in the next. Only PgBouncer 1.21+ with
    // max_prepared_statements follows named statements from one server connection to
    // another; older versions work only with a single server connection per pool
    // (see docs/pgbouncer.md and the tests below).
    if pgbouncer_version(&binary) >= PREPARED_STATEMENTS_SINCE {
        check_isolation(&binary, 2, "max_prepared_statements = 200").await;
    } else {
        check_isolation(&binary, 1, "").await;
    }
}

/// Debian 12's PgBouncer 1.18 next to setup.sh's build: still isolated with the one
/// server connection docs/pgbouncer.md allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_holds_behind_pgbouncer_before_1_21_with_one_server_connection() {
    let Some(binary) = older_debian_pgbouncer() else {
        eprintln!("skipped: no separate PgBouncer older than 1.21 installed");
        return;
    };
    check_isolation(&binary, 1, "").await;
}

/// Runs [`run_tenants`] through `binary` with `server_conns` server connections and
/// `extra` settings, and checks isolation, that every server connection took part,
/// and that no context stays behind.
async fn check_isolation(binary: &Path, server_conns: usize, extra: &str) {
    let (major, minor) = pgbouncer_version(binary);
    let db = TestDatabase::new().expect("db");
    let tenants = tenants(&db).await;
    let bouncer = Bouncer::start(binary, &db.url_app(), server_conns, extra);
    let pool = PoolConfig::new(bouncer.url(&db.url_app()))
        .context_key(db.context_key())
        .max_size(TENANTS as u32)
        .build()
        .expect("pool through pgbouncer");

    let mut pids = HashSet::new();
    if server_conns >= 2 {
        // Make sure PgBouncer has two server connections open, whatever the timing of
        // the run below: a test over two that ran on one would prove nothing.
        pids.extend(two_at_once(&pool, &tenants).await.unwrap_or_else(|e| {
            panic!("through pgbouncer {major}.{minor}: {e}\n{}", bouncer.log())
        }));
    }
    pids.extend(
        run_tenants(&pool, &tenants, ROUNDS)
            .await
            .unwrap_or_else(|e| {
                panic!("through pgbouncer {major}.{minor}: {e}\n{}", bouncer.log())
            }),
    );
    assert_eq!(
        pids.len(),
        server_conns,
        "{TENANTS} client connections shared {} server connections",
        pids.len()
    );
    // Between transactions, the server connections carry no context: a read with
    // none is refused.
    for _ in 0..TENANTS {
        let (setting, visible) = pool
            .unscoped_for_tests(async |conn| {
                let seen: Seen = diesel::sql_query(
                    "SELECT coalesce(current_setting('app.context', true), '') AS tenant_setting, \
                            pg_backend_pid() AS pid",
                )
                .get_result(conn)
                .await?;
                let refused = matches!(
                    count(conn, "tenants").await,
                    Err(e) if e.to_string().contains("no tenant context")
                );
                Ok((seen.tenant_setting, refused))
            })
            .await
            .expect("unscoped read");
        assert_eq!((setting.as_str(), visible), ("", true));
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
        "pgbouncer {major}.{minor} ({}): {} transactions from {TENANTS} tenants over {} server connection(s) {extra}",
        binary.display(),
        2 * TENANTS * ROUNDS,
        pids.len()
    );
}

/// Documents why docs/pgbouncer.md asks for max_prepared_statements: without it, two
/// server connections are enough for a statement prepared on one to be executed on the
/// other, and the transaction fails (it never runs on the wrong tenant: the error comes
/// before any row is touched). With 1.21 or later, the same PgBouncer as the isolation
/// test above, with `max_prepared_statements = 0` (1.24 defaults to 200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_max_prepared_statements_two_server_connections_break_diesel_async() {
    let Some(binary) = pgbouncer() else {
        eprintln!("skipped: no PgBouncer (run scripts/setup.sh)");
        return;
    };
    if pgbouncer_version(&binary) >= PREPARED_STATEMENTS_SINCE {
        check_missing_statement(&binary, "max_prepared_statements = 0").await;
    } else {
        // Before 1.21 there is no such setting: this is the PgBouncer's only behaviour.
        check_missing_statement(&binary, "").await;
    }
}

/// The same failure with Debian 12's PgBouncer 1.18 next to setup.sh's build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_1_21_two_server_connections_break_diesel_async() {
    let Some(binary) = older_debian_pgbouncer() else {
        eprintln!("skipped: no separate PgBouncer older than 1.21 installed");
        return;
    };
    check_missing_statement(&binary, "").await;
}

/// Runs [`run_tenants`] through `binary` with two server connections and `extra`
/// settings, and expects a named statement to go missing.
async fn check_missing_statement(binary: &Path, extra: &str) {
    let db = TestDatabase::new().expect("db");
    let tenants = tenants(&db).await;
    let bouncer = Bouncer::start(binary, &db.url_app(), 2, extra);
    let pool = PoolConfig::new(bouncer.url(&db.url_app()))
        .context_key(db.context_key())
        .max_size(TENANTS as u32)
        .build()
        .expect("pool through pgbouncer");
    // Two server connections open for sure (on one alone nothing can go missing),
    // then the workload of the isolation test. The statement may go missing in a
    // transaction (Error::Database) or while a connection is set up (diesel-async runs
    // two prepared SETs then, so bb8 cannot connect: Error::ConnectionLost).
    let outcome = match two_at_once(&pool, &tenants).await {
        Ok(_) => run_tenants(&pool, &tenants, ROUNDS).await,
        Err(e) => Err(e),
    };
    match outcome {
        Err(e @ (Error::Database(_) | Error::ConnectionLost(_))) => {
            let text = e.to_string();
            assert!(
                text.contains("prepared statement \"s") && text.contains("does not exist"),
                "unexpected error {text}"
            )
        }
        other => panic!(
            "expected a missing prepared statement through {} {extra:?}, got {other:?}",
            binary.display()
        ),
    }
}

/// A job worker behind PgBouncer in transaction mode: its claims (the admin login) and
/// its jobs (the application login) each go through a PgBouncer of their own over two
/// server connections. LISTEN cannot work there, so the worker polls, and every job
/// still runs once, in its own tenant (docs/pgbouncer.md, README "Job queues").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_worker_behind_pgbouncer_polls_and_runs_each_job_in_its_tenant() {
    let Some(binary) = pgbouncer() else {
        eprintln!("skipped: no PgBouncer (run scripts/setup.sh)");
        return;
    };
    if pgbouncer_version(&binary) < PREPARED_STATEMENTS_SINCE {
        eprintln!("skipped: PgBouncer before 1.21 (one server connection per pool only)");
        return;
    }
    let extra = "max_prepared_statements = 200";
    let db = TestDatabase::new().expect("db");
    let tenants = tenants(&db).await;
    let app_bouncer = Bouncer::start(&binary, &db.url_app(), 2, extra);
    let admin_bouncer = Bouncer::start(&binary, &db.url_admin(), 2, extra);
    let pool = PoolConfig::new(app_bouncer.url(&db.url_app()))
        .context_key(db.context_key())
        .max_size(4)
        .build()
        .expect("tenant pool through pgbouncer");
    let admin = PoolConfig::new(admin_bouncer.url(&db.url_admin()))
        .max_size(2)
        .build_admin()
        .expect("admin pool through pgbouncer");
    for &t in &tenants {
        pool.with_tenant(&TenantContext::new(t), async |conn| {
            for n in 0..20 {
                rowguard::jobs::enqueue(
                    conn,
                    rowguard::jobs::Enqueue::new("bounced.ledger", serde_json::json!({"n": n})),
                )
                .await?;
            }
            Ok(())
        })
        .await
        .expect("enqueue");
    }
    let worker = rowguard::jobs::Worker::builder(admin.clone(), pool.clone())
        .handler("bounced.ledger", |job, conn| {
            Box::pin(async move {
                diesel::sql_query(
                    "INSERT INTO events (tenant_id, event_type, payload) \
                     VALUES ((SELECT rowguard.current_tenant_id()), 'job.ran', jsonb_build_object('job', $1::text, 'for', $2::text))",
                )
                .bind::<Text, _>(job.id.to_string())
                .bind::<Text, _>(job.tenant.to_string())
                .execute(conn)
                .await
                .map_err(rowguard::Error::from)?;
                Ok(())
            })
        })
        .poll_interval(Duration::from_millis(50))
        .concurrency(3)
        .build()
        .expect("worker");
    let running = rowguard_testkit::fixtures::RunningWorker::start(worker);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = admin
            .as_admin("test: jobs left", async |conn| count(conn, "jobs").await)
            .await
            .expect("count");
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} jobs left\n{}",
            app_bouncer.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = running.stop().await;
    assert_eq!(report.completed, (TENANTS * 20) as u64, "{report:?}");
    // One ledger row per job, each written in the tenant the job was enqueued for.
    let (rows, misplaced) = admin
        .as_admin("test: the ledger", async |conn| {
            Ok((
                count(
                    conn,
                    "(SELECT DISTINCT payload->>'job' FROM events WHERE event_type = 'job.ran') jobs",
                )
                .await?,
                count(
                    conn,
                    "events WHERE event_type = 'job.ran' AND payload->>'for' <> tenant_id::text",
                )
                .await?,
            ))
        })
        .await
        .expect("ledger");
    assert_eq!((rows, misplaced), ((TENANTS * 20) as i64, 0));
    assert_eq!(
        admin
            .as_admin("test: ledger rows", async |conn| count(
                conn,
                "events WHERE event_type = 'job.ran'"
            )
            .await)
            .await
            .expect("rows"),
        (TENANTS * 20) as i64,
        "no job ran twice"
    );
}
