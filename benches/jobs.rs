//! Job queue throughput, side by side with graphile-worker, and the queue under a held
//! xmin horizon. A bench binary that prints tables:
//!
//! 1. **Throughput.** N no-op jobs spread over ten tenants are enqueued, then one worker
//!    drains them: claim (admin path), run each in its tenant's context (a tenant
//!    transaction through the tenant pool), complete. Once with a transaction per job,
//!    once with completion batches of ten. In the same run, on the same database,
//!    graphile-worker (`benches/graphile/`, installed with npm on first use) drains N
//!    no-op jobs of its own with the same concurrency. Three rounds, alternating; the
//!    median of each is printed, and rowguard's rates over graphile-worker's.
//! 2. **A held horizon.** A producer enqueues 1,000 jobs a second and a worker keeps up,
//!    for 30 s as they are, then for 60 s while another session holds a REPEATABLE READ
//!    transaction open (so no dead row version can be removed); every 10 s the table
//!    prints jobs completed, the ready backlog, the dead tuples of `jobs` and its size.
//!
//! `cargo bench --bench jobs` (a private PostgreSQL is started unless DATABASE_URL is set;
//! `-- --jobs 20000 --concurrency 8 --rounds 3 --skip-horizon` to change it). Needs
//! `node` and `npm` for graphile-worker; without them that column is left out.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Integer, Uuid as SqlUuid};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use rowguard::jobs::Worker;
use rowguard::pool::{AdminPool, TenantPool};
use uuid::Uuid;

const DATABASE: &str = "rowguard_bench_jobs";
const TENANTS: usize = 10;

struct Options {
    jobs: u64,
    concurrency: usize,
    rounds: usize,
    horizon: bool,
}

fn options() -> Options {
    let mut o = Options {
        jobs: 20_000,
        concurrency: 8,
        rounds: 3,
        horizon: true,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--jobs", Some(v)) => o.jobs = v,
            ("--concurrency", Some(v)) => o.concurrency = v as usize,
            ("--rounds", Some(v)) => o.rounds = v as usize,
            ("--skip-horizon", _) => o.horizon = false,
            _ => {}
        }
        i += 1;
    }
    o
}

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench(o));
}

async fn bench(o: Options) {
    let url = rowguard_testkit::server::migrated_database(DATABASE).expect("bench database");
    let logins = rowguard_testkit::server::prepare_database(&url).expect("logins");
    let (admin, app) = logins
        .pools(u32::try_from(o.concurrency).unwrap_or(8) + 2)
        .await
        .expect("pools");
    let mut superuser = PgConnection::establish(&url).expect("superuser connection");
    let tenants = make_tenants(&mut superuser);
    let server_version: Version =
        diesel::sql_query("SELECT current_setting('server_version') AS v")
            .get_result(&mut superuser)
            .expect("version");
    let graphile = graphile_ready();

    println!(
        "jobs: {} no-op jobs over {TENANTS} tenants, concurrency {}, PostgreSQL {}, {} rounds",
        o.jobs, o.concurrency, server_version.v, o.rounds
    );
    let mut per_job = Vec::new();
    let mut batched = Vec::new();
    let mut theirs = Vec::new();
    for round in 1..=o.rounds {
        per_job.push(drain(&admin, &app, &mut superuser, &tenants, &o, 1).await);
        batched.push(drain(&admin, &app, &mut superuser, &tenants, &o, 10).await);
        if graphile {
            theirs.push(graphile_rate(&url, o.jobs, o.concurrency));
        }
        println!(
            "  round {round}: rowguard per job {:.0}/s, batched {:.0}/s{}",
            per_job[round - 1],
            batched[round - 1],
            theirs
                .last()
                .map(|r| format!(", graphile-worker {r:.0}/s"))
                .unwrap_or_default()
        );
    }
    let (per_job, batched) = (median(&mut per_job), median(&mut batched));
    println!();
    println!(
        "| queue | completion | jobs/s (median of {}) | vs graphile-worker |",
        o.rounds
    );
    println!("|---|---|---|---|");
    let theirs = (!theirs.is_empty()).then(|| median(&mut theirs));
    let ratio = |r: f64| {
        theirs
            .map(|t| format!("{:.2}×", r / t))
            .unwrap_or("—".into())
    };
    println!("| rowguard (each job in its tenant's context) | a transaction per job | {per_job:.0} | {} |", ratio(per_job));
    println!("| rowguard (each job in its tenant's context) | batches of 10 per tenant | {batched:.0} | {} |", ratio(batched));
    if let Some(t) = theirs {
        println!(
            "| graphile-worker 0.16.6 (no tenant context) | its own (batched) | {t:.0} | 1.00× |"
        );
    } else {
        println!("(graphile-worker left out: node or npm is missing)");
    }

    if o.horizon {
        horizon(&admin, &app, &url, &tenants, o.concurrency).await;
    }
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Ten tenants, made once.
fn make_tenants(conn: &mut PgConnection) -> Vec<Uuid> {
    (0..TENANTS)
        .map(|i| {
            let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("bench-jobs-{i}").as_bytes());
            diesel::sql_query(
                "INSERT INTO tenants (id, slug, name) VALUES ($1, 'bench-jobs-' || $2, 'Bench') ON CONFLICT (id) DO NOTHING",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Integer, _>(i as i32)
            .execute(conn)
            .expect("tenant");
            id
        })
        .collect()
}

/// `n` no-op jobs, spread evenly over `tenants` and interleaved, in one statement.
fn enqueue(conn: &mut PgConnection, tenants: &[Uuid], n: u64) {
    diesel::sql_query(
        "INSERT INTO jobs (tenant_id, kind)
         SELECT ($1::uuid[])[1 + g % cardinality($1::uuid[])], 'bench.noop' FROM generate_series(0, $2 - 1) g",
    )
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(tenants)
    .bind::<BigInt, _>(n as i64)
    .execute(conn)
    .expect("enqueue");
}

/// Empties `jobs` and has VACUUM clean it, so every round starts alike.
fn reset(conn: &mut PgConnection) {
    diesel::sql_query("DELETE FROM jobs")
        .execute(conn)
        .expect("delete");
    diesel::sql_query("VACUUM ANALYZE jobs")
        .execute(conn)
        .expect("vacuum");
}

/// Enqueues `o.jobs` no-op jobs, runs a worker until they are done, returns jobs/s.
async fn drain(
    admin: &AdminPool,
    app: &TenantPool,
    superuser: &mut PgConnection,
    tenants: &[Uuid],
    o: &Options,
    completion_batch: usize,
) -> f64 {
    reset(superuser);
    enqueue(superuser, tenants, o.jobs);
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&done);
    let all_done = Arc::new(tokio::sync::Notify::new());
    let signal = Arc::clone(&all_done);
    let target = o.jobs;
    let worker = Worker::builder(admin.clone(), app.clone())
        .handler("bench.noop", move |_job, _conn| {
            let counter = Arc::clone(&counter);
            let signal = Arc::clone(&signal);
            Box::pin(async move {
                if counter.fetch_add(1, Ordering::SeqCst) + 1 >= target {
                    signal.notify_one();
                }
                Ok(())
            })
        })
        .concurrency(o.concurrency)
        // A claim gives each of the ten tenants a tenth: ten jobs each when batching.
        .batch_size(if completion_batch > 1 { 100 } else { 20 })
        .complete_in_batches(completion_batch)
        .poll_interval(Duration::from_millis(100))
        .build()
        .expect("worker");
    let started = Instant::now();
    let report = worker
        .run(async move { all_done.notified().await })
        .await
        .expect("worker run");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(report.completed, o.jobs, "{report:?}");
    o.jobs as f64 / seconds
}

/// Installs graphile-worker with npm once; false when node or npm is missing.
fn graphile_ready() -> bool {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/graphile");
    if Command::new("node").arg("--version").output().is_err() {
        return false;
    }
    if std::path::Path::new(dir)
        .join("node_modules/graphile-worker")
        .exists()
    {
        return true;
    }
    Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix", dir])
        .status()
        .is_ok_and(|s| s.success())
}

/// graphile-worker's rate for `jobs` no-op jobs, from benches/graphile/bench.mjs.
fn graphile_rate(url: &str, jobs: u64, concurrency: usize) -> f64 {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/graphile/bench.mjs");
    let out = Command::new("node")
        .args([script, url, &jobs.to_string(), &concurrency.to_string()])
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "graphile-worker bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("graphile JSON");
    v["per_second"].as_f64().expect("per_second")
}

#[derive(QueryableByName)]
struct TableState {
    #[diesel(sql_type = BigInt)]
    ready: i64,
    #[diesel(sql_type = BigInt)]
    dead_tuples: i64,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

/// 30 s as the queue is, then 60 s with a REPEATABLE READ transaction held open.
async fn horizon(
    admin: &AdminPool,
    app: &TenantPool,
    url: &str,
    tenants: &[Uuid],
    concurrency: usize,
) {
    let mut superuser = PgConnection::establish(url).expect("superuser");
    reset(&mut superuser);
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&done);
    let worker = Worker::builder(admin.clone(), app.clone())
        .handler("bench.noop", move |_job, _conn| {
            let counter = Arc::clone(&counter);
            Box::pin(async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        })
        .concurrency(concurrency)
        .batch_size(20)
        .poll_interval(Duration::from_millis(100))
        .build()
        .expect("worker");
    let running = rowguard_testkit::fixtures::RunningWorker::start(worker);
    // The producer: 100 jobs every 100 ms.
    let producer_url = url.to_owned();
    let producer_tenants = tenants.to_vec();
    let producing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let keep = Arc::clone(&producing);
    let producer = std::thread::spawn(move || {
        let mut conn = PgConnection::establish(&producer_url).expect("producer");
        let mut next = Instant::now();
        while keep.load(Ordering::SeqCst) {
            enqueue(&mut conn, &producer_tenants, 100);
            next += Duration::from_millis(100);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    });

    println!();
    println!("A held xmin horizon: 1,000 jobs/s enqueued, concurrency {concurrency}; a REPEATABLE READ transaction held from 30 s to 90 s");
    println!();
    println!("| window | horizon | completed/s | ready backlog | dead tuples in jobs | jobs table + indexes |");
    println!("|---|---|---|---|---|---|");
    let mut holder: Option<PgConnection> = None;
    let mut last = 0;
    for window in 0..9 {
        if window == 3 {
            let mut conn = PgConnection::establish(url).expect("holder");
            diesel::sql_query("BEGIN ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut conn)
                .expect("begin");
            diesel::sql_query("SELECT count(*) FROM tenants")
                .execute(&mut conn)
                .expect("snapshot");
            holder = Some(conn);
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let now = done.load(Ordering::SeqCst);
        let state: TableState = diesel::sql_query(
            "SELECT (SELECT count(*) FROM jobs WHERE state = 'ready') AS ready,
                    (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs') AS dead_tuples,
                    pg_total_relation_size('jobs') AS bytes",
        )
        .get_result(&mut superuser)
        .expect("state");
        println!(
            "| {}–{} s | {} | {:.0} | {} | {} | {:.1} MB |",
            window * 10,
            window * 10 + 10,
            if holder.is_some() { "held" } else { "free" },
            (now - last) as f64 / 10.0,
            state.ready,
            state.dead_tuples,
            state.bytes as f64 / 1e6
        );
        last = now;
    }
    if let Some(mut conn) = holder {
        diesel::sql_query("COMMIT")
            .execute(&mut conn)
            .expect("commit");
    }
    producing.store(false, Ordering::SeqCst);
    producer.join().expect("producer");
    running.stop().await;
}
