//! The job queue (`rowguard::jobs`) against the real database: jobs enqueued by the
//! application login in tenant transactions, claimed by workers on the admin path, run
//! in their tenant's context through the tenant pool.
//!
//! - enqueueing is part of the caller's transaction, and an idempotency key makes a
//!   duplicate (also a racing one) return the existing job;
//! - four workers run 2,000 jobs of five tenants, each exactly once, each handler's
//!   write in its own tenant (the ledger: one `events` row per job, written in the
//!   transaction that completes it);
//! - failures back off exponentially, dead-letter at the limit, list and requeue;
//! - a worker that dies mid-job loses the job after its lease, and another runs it;
//! - a handler cannot reach another tenant, raise its role, or forge its context;
//! - a tenant with thousands of queued jobs does not hold back another tenant's one;
//! - workers wake on NOTIFY, poll without it, skip suspended tenants, and stop
//!   gracefully;
//! - completion batches commit a tenant's jobs together, and fall back to one
//!   transaction per job when one fails;
//! - priority and run-at order a tenant's jobs, the heartbeat keeps a long job's lease,
//!   and dead letters requeue by tenant and by kind.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use rowguard::jobs::admin::{self, DeadFilter};
use rowguard::jobs::{self, Backoff, ClaimedJob, Enqueue, Worker, WorkerReport};
use rowguard::models::MemberRole;
use rowguard::pool::{AdminPool, TenantConn, TenantPool};
use rowguard::{control, Error, TenantContext, TenantId};
use rowguard_testkit::fixtures::{count, exec, make_tenant, make_user, RunningWorker};
use rowguard_testkit::server::TestDatabase;
use serde_json::json;
use uuid::Uuid;

/// A worker of `pools` for `kind` with `handler`, polling every 50 ms.
fn worker<F>(
    pools: &(AdminPool, TenantPool),
    kind: &str,
    handler: F,
) -> rowguard::jobs::WorkerBuilder
where
    F: for<'a> Fn(
            &'a ClaimedJob,
            &'a mut TenantConn,
        ) -> futures_util::future::BoxFuture<'a, Result<(), jobs::BoxError>>
        + Send
        + Sync
        + 'static,
{
    Worker::builder(pools.0.clone(), pools.1.clone())
        .handler(kind, handler)
        .poll_interval(Duration::from_millis(50))
}

/// Waits until `check` holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How many jobs of `kind` exist (any tenant, any state), read on the admin path.
async fn jobs_left(admin: &AdminPool, kind: &str) -> i64 {
    let kind = kind.replace('\'', "");
    admin
        .as_admin("test: count jobs", async |conn| {
            count(conn, &format!("jobs WHERE kind = '{kind}'")).await
        })
        .await
        .expect("count jobs")
}

#[derive(QueryableByName, Debug)]
struct JobRow {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    last_error: Option<String>,
}

/// One job's state, attempts and last error, on the admin path; `None` once deleted.
async fn job_row(admin: &AdminPool, id: Uuid) -> Option<JobRow> {
    admin
        .as_admin("test: read a job", async |conn| {
            Ok(diesel::sql_query(
                "SELECT state::text AS state, attempts, last_error FROM jobs WHERE id = $1",
            )
            .bind::<SqlUuid, _>(id)
            .load::<JobRow>(conn)
            .await?
            .into_iter()
            .next())
        })
        .await
        .expect("read job")
}

async fn enqueue(pool: &TenantPool, tenant: TenantId, job: Enqueue) -> Uuid {
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        jobs::enqueue(conn, job).await
    })
    .await
    .expect("enqueue")
    .id
}

fn pools(db: &TestDatabase, size: u32) -> (AdminPool, TenantPool) {
    (
        db.admin_pool(size).expect("admin pool"),
        db.app_pool(size).expect("app pool"),
    )
}

/// The ledger handlers write: an `events` row per run, `{"job": id}`.
async fn write_ledger(job: &ClaimedJob, conn: &mut TenantConn) -> rowguard::Result<()> {
    diesel::sql_query(
        "INSERT INTO events (tenant_id, event_type, payload) VALUES ($1, 'job.ran', jsonb_build_object('job', $2::text))",
    )
    .bind::<SqlUuid, _>(conn.context().tenant_id.as_uuid())
    .bind::<Text, _>(job.id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct LedgerRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = Text)]
    job: String,
}

/// Every ledger row of every tenant, read as the owner (no RLS), as (tenant, job).
async fn ledger(admin: &AdminPool) -> Vec<(Uuid, Uuid)> {
    admin
        .as_admin("test: read the ledger", async |conn| {
            let rows: Vec<LedgerRow> = diesel::sql_query(
                "SELECT tenant_id, payload->>'job' AS job FROM events WHERE event_type = 'job.ran'",
            )
            .load(conn)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| (r.tenant_id, r.job.parse().expect("a job id")))
                .collect())
        })
        .await
        .expect("ledger")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_commits_with_its_transaction_and_dedups_by_key() {
    let db = TestDatabase::new().expect("db");
    let (admin, pool) = pools(&db, 4);
    let tenant = make_tenant(&pool, "enqueue").await;
    let ctx = TenantContext::new(tenant);

    // Rolled back with its transaction.
    let rolled_back = pool
        .with_tenant(&ctx, async |conn| {
            jobs::enqueue(conn, Enqueue::new("test.rollback", json!({}))).await?;
            Err::<(), _>(Error::InvalidInput("the caller changes its mind".into()))
        })
        .await;
    assert!(matches!(rolled_back, Err(Error::InvalidInput(_))));
    assert_eq!(jobs_left(&admin, "test.rollback").await, 0);

    // One key, one job: sequential duplicates...
    let first = pool
        .with_tenant(&ctx, async |conn| {
            jobs::enqueue(
                conn,
                Enqueue::new("test.key", json!({"n": 1})).idempotency_key("k1"),
            )
            .await
        })
        .await
        .expect("first");
    let second = pool
        .with_tenant(&ctx, async |conn| {
            jobs::enqueue(
                conn,
                Enqueue::new("test.key", json!({"n": 2})).idempotency_key("k1"),
            )
            .await
        })
        .await
        .expect("second");
    assert!(first.created && !second.created);
    assert_eq!(first.id, second.id);

    // ... and racing ones, each in a transaction that lingers after enqueueing.
    let racing = (0..4).map(|i| {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.with_tenant(&ctx, async |conn| {
                let e = jobs::enqueue(
                    conn,
                    Enqueue::new("test.race", json!({"i": i})).idempotency_key("race"),
                )
                .await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(e)
            })
            .await
            .expect("racing enqueue")
        })
    });
    let outcomes: Vec<_> = futures_util::future::join_all(racing)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    assert_eq!(
        outcomes.iter().filter(|e| e.created).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes.iter().all(|e| e.id == outcomes[0].id));
    assert_eq!(jobs_left(&admin, "test.race").await, 1);
    assert_eq!(jobs_left(&admin, "test.key").await, 1);

    // The same key in another tenant is another job.
    let other = make_tenant(&pool, "enqueue-other").await;
    let theirs = pool
        .with_tenant(&TenantContext::new(other), async |conn| {
            jobs::enqueue(
                conn,
                Enqueue::new("test.key", json!({})).idempotency_key("k1"),
            )
            .await
        })
        .await
        .expect("other tenant");
    assert!(theirs.created);
    assert_ne!(theirs.id, first.id);

    // A viewer reads jobs but cannot enqueue; bad input never reaches the database.
    let viewer = make_user(&pool, tenant, MemberRole::Viewer).await;
    let refused = pool
        .with_tenant(&ctx.with_user(viewer, MemberRole::Viewer), async |conn| {
            jobs::enqueue(conn, Enqueue::new("test.viewer", json!({}))).await
        })
        .await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let bad = pool
        .with_tenant(&ctx, async |conn| {
            jobs::enqueue(conn, Enqueue::new("Not A Kind", json!({}))).await
        })
        .await;
    assert!(matches!(bad, Err(Error::InvalidInput(_))), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_run_two_thousand_jobs_of_five_tenants_exactly_once() {
    let db = TestDatabase::new().expect("db");
    let p = pools(&db, 8);
    let mut tenants = Vec::new();
    for i in 0..5 {
        tenants.push(make_tenant(&p.1, &format!("exactly-once-{i}")).await);
    }
    // 400 jobs per tenant, each enqueued by the tenant itself.
    let mut enqueued: BTreeMap<Uuid, Uuid> = BTreeMap::new();
    for &t in &tenants {
        let ids =
            p.1.with_tenant(&TenantContext::new(t), async |conn| {
                let mut ids = Vec::new();
                for n in 0..400 {
                    ids.push(
                        jobs::enqueue(conn, Enqueue::new("test.ledger", json!({"n": n})))
                            .await?
                            .id,
                    );
                }
                Ok(ids)
            })
            .await
            .expect("enqueue 400");
        enqueued.extend(ids.into_iter().map(|id| (id, t.as_uuid())));
    }
    assert_eq!(enqueued.len(), 2000);

    let runs = Arc::new(Mutex::new(BTreeMap::<Uuid, u32>::new()));
    let mut handles = Vec::new();
    for w in 0..4 {
        let runs = Arc::clone(&runs);
        let built = worker(&p, "test.ledger", move |job, conn| {
            let runs = Arc::clone(&runs);
            Box::pin(async move {
                assert_eq!(
                    conn.context().tenant_id,
                    job.tenant,
                    "the handler acts for the job's tenant"
                );
                assert!(
                    conn.context().user_id.is_none(),
                    "the tenant's service context"
                );
                *runs.lock().expect("runs").entry(job.id).or_default() += 1;
                write_ledger(job, conn).await?;
                Ok(())
            })
        })
        .id(format!("exactly-once-{w}"))
        .concurrency(4)
        .batch_size(10)
        .build()
        .expect("worker");
        handles.push(RunningWorker::start(built));
    }
    eventually(Duration::from_secs(120), "the queue drains", || async {
        jobs_left(&p.0, "test.ledger").await == 0
    })
    .await;
    let mut total = WorkerReport::default();
    for h in handles {
        let r = h.stop().await;
        assert!(r.completed > 0, "every worker did some of the work: {r:?}");
        total.completed += r.completed;
        total.retried += r.retried + r.dead_lettered + r.lease_lost + r.unrecorded;
    }
    assert_eq!(total.completed, 2000, "{total:?}");
    assert_eq!(
        total.retried, 0,
        "no failures, retries or lost leases: {total:?}"
    );

    // The ledger: one row per job, written in the job's own tenant.
    let rows = ledger(&p.0).await;
    assert_eq!(rows.len(), 2000);
    let distinct: BTreeSet<Uuid> = rows.iter().map(|(_, job)| *job).collect();
    assert_eq!(distinct.len(), 2000, "no job completed twice");
    for (tenant, job) in &rows {
        assert_eq!(
            enqueued.get(job),
            Some(tenant),
            "job {job} ran in its own tenant"
        );
    }
    let runs = runs.lock().expect("runs");
    assert_eq!(runs.len(), 2000);
    assert!(runs.values().all(|&n| n == 1), "each handler ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_dead_letter_at_the_limit_and_requeue() {
    let db = TestDatabase::new().expect("db");
    let p = pools(&db, 4);
    let tenant = make_tenant(&p.1, "retries").await;
    let failing = enqueue(
        &p.1,
        tenant,
        Enqueue::new("test.flaky", json!({})).max_attempts(3),
    )
    .await;
    let panicking = enqueue(
        &p.1,
        tenant,
        Enqueue::new("test.panics", json!({})).max_attempts(1),
    )
    .await;

    let attempts = Arc::new(Mutex::new(Vec::<(i32, Instant)>::new()));
    let succeed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (seen, ok) = (Arc::clone(&attempts), Arc::clone(&succeed));
    let built = worker(&p, "test.flaky", move |job, conn| {
        let (seen, ok) = (Arc::clone(&seen), Arc::clone(&ok));
        Box::pin(async move {
            seen.lock()
                .expect("attempts")
                .push((job.attempt, Instant::now()));
            // A write that must not survive the failure.
            write_ledger(job, conn).await?;
            if std::sync::atomic::AtomicBool::load(&ok, std::sync::atomic::Ordering::SeqCst) {
                Ok(())
            } else {
                Err(format!("boom on attempt {}", job.attempt).into())
            }
        })
    })
    .handler("test.panics", |job, _conn| {
        Box::pin(async move {
            if job.attempt <= 1 {
                // A deliberate panic. resume_unwind skips the panic hook, so no
                // backtrace of it (CI sets RUST_BACKTRACE) buries a real failure's
                // message in the output.
                std::panic::resume_unwind(Box::new("handler bug"));
            }
            Ok(())
        })
    })
    .backoff(Backoff {
        base: Duration::from_millis(400),
        max: Duration::from_secs(10),
    })
    .build()
    .expect("worker");
    let handle = RunningWorker::start(built);

    eventually(Duration::from_secs(60), "the flaky job is dead", || async {
        job_row(&p.0, failing)
            .await
            .is_some_and(|r| r.state == "dead")
    })
    .await;
    eventually(
        Duration::from_secs(60),
        "the panicking job is dead",
        || async {
            job_row(&p.0, panicking)
                .await
                .is_some_and(|r| r.state == "dead")
        },
    )
    .await;
    let dead = job_row(&p.0, failing).await.expect("row");
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error.as_deref(), Some("boom on attempt 3"));
    let panicked = job_row(&p.0, panicking).await.expect("row");
    assert_eq!(panicked.attempts, 1);
    assert_eq!(
        panicked.last_error.as_deref(),
        Some("handler panicked: handler bug")
    );
    assert!(
        ledger(&p.0).await.is_empty(),
        "failed attempts roll their writes back"
    );

    // The schedule: each retry waits at least half its ceiling (400 ms, then 800 ms).
    let seen: Vec<(i32, Instant)> = attempts.lock().expect("attempts").clone();
    assert_eq!(seen.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3]);
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].1 - w[0].1).collect();
    assert!(gaps[0] >= Duration::from_millis(200), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(400), "{gaps:?}");
    // A generous ceiling: a busy CI machine may be slow to poll, never this slow.
    assert!(
        gaps.iter().all(|g| *g < Duration::from_secs(15)),
        "{gaps:?}"
    );

    // Dead letters: listed by tenant and by kind, requeued one at a time.
    let by_tenant = admin::dead_letters(
        &p.0,
        &DeadFilter {
            tenant: Some(tenant),
            ..DeadFilter::default()
        },
        50,
    )
    .await
    .expect("list");
    assert_eq!(by_tenant.len(), 2);
    let by_kind = admin::dead_letters(
        &p.0,
        &DeadFilter {
            kind: Some("test.flaky".into()),
            ..DeadFilter::default()
        },
        50,
    )
    .await
    .expect("list");
    assert_eq!(by_kind.iter().map(|d| d.id).collect::<Vec<_>>(), [failing]);
    assert_eq!(by_kind[0].tenant, "retries");
    assert!(matches!(
        admin::requeue(&p.0, &DeadFilter::default()).await,
        Err(Error::InvalidInput(_))
    ));

    succeed.store(true, std::sync::atomic::Ordering::SeqCst);
    let n = admin::requeue(
        &p.0,
        &DeadFilter {
            id: Some(failing),
            ..DeadFilter::default()
        },
    )
    .await
    .expect("requeue");
    assert_eq!(n, 1);
    eventually(
        Duration::from_secs(60),
        "the requeued job completes",
        || async { job_row(&p.0, failing).await.is_none() },
    )
    .await;
    assert_eq!(
        ledger(&p.0).await.len(),
        1,
        "the successful run's write committed"
    );
    assert_eq!(
        attempts.lock().expect("attempts").last().map(|(n, _)| *n),
        Some(1),
        "a requeued job starts its attempts over"
    );
    let report = handle.stop().await;
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(report.retried, 2, "{report:?}");
    assert_eq!(report.dead_lettered, 2, "{report:?}");
    // The panicking job is still a dead letter.
    assert_eq!(
        job_row(&p.0, panicking).await.map(|r| r.state).as_deref(),
        Some("dead")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_worker_s_job_runs_again_after_its_lease() {
    let db = TestDatabase::new().expect("db");
    let p = pools(&db, 4);
    let tenant = make_tenant(&p.1, "leases").await;
    let job = enqueue(&p.1, tenant, Enqueue::new("test.lease", json!({}))).await;

    // The first worker starts the job and never finishes it; then it dies (its task is
    // aborted mid-job: no completion, no failure recorded, no more heartbeats).
    let started = Arc::new(tokio::sync::Notify::new());
    let signal = Arc::clone(&started);
    let doomed = worker(&p, "test.lease", move |job, conn| {
        let signal = Arc::clone(&signal);
        Box::pin(async move {
            write_ledger(job, conn).await?;
            signal.notify_one();
            std::future::pending::<()>().await;
            Ok(())
        })
    })
    .id("doomed")
    .lease(Duration::from_secs(2))
    .build()
    .expect("worker");
    let doomed = RunningWorker::start(doomed);
    started.notified().await;
    let died = Instant::now();
    doomed.kill().await;
    assert_eq!(
        job_row(&p.0, job).await.map(|r| r.state).as_deref(),
        Some("running")
    );

    // The second worker reaps the expired lease and runs the job, once.
    let runs = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
    let seen = Arc::clone(&runs);
    let heir = worker(&p, "test.lease", move |job, conn| {
        let seen = Arc::clone(&seen);
        Box::pin(async move {
            seen.lock()
                .expect("runs")
                .push((job.attempt.to_string(), Instant::now()));
            write_ledger(job, conn).await?;
            Ok(())
        })
    })
    .id("heir")
    .lease(Duration::from_secs(2))
    .build()
    .expect("worker");
    let handle = RunningWorker::start(heir);
    eventually(Duration::from_secs(30), "the job completes", || async {
        job_row(&p.0, job).await.is_none()
    })
    .await;
    let report = handle.stop().await;
    assert_eq!(report.completed, 1);
    let runs = runs.lock().expect("runs").clone();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].0, "2", "the second claim is the second attempt");
    assert!(
        runs[0].1 - died >= Duration::from_millis(1500),
        "not before the lease expired: {:?}",
        runs[0].1 - died
    );
    // The dead worker's write rolled back; the heir's committed.
    assert_eq!(ledger(&p.0).await, [(tenant.as_uuid(), job)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_cannot_leave_its_tenant() {
    let db = TestDatabase::new().expect("db");
    let p = pools(&db, 4);
    let mine = make_tenant(&p.1, "handler-mine").await;
    let theirs = make_tenant(&p.1, "handler-theirs").await;
    p.1.with_tenant(&TenantContext::new(theirs), async |conn| {
        exec(conn, "INSERT INTO tasks (tenant_id, title) SELECT (SELECT rowguard.current_tenant_id()), 'theirs'").await
    })
    .await
    .expect("their task");

    let attacks: [Vec<String>; 3] = [
        // Write a row for the other tenant.
        vec![format!(
            "INSERT INTO tasks (tenant_id, title) VALUES ('{}', 'planted')",
            theirs.as_uuid()
        )],
        // Become the admin role.
        vec!["SET LOCAL ROLE rowguard_admin".to_owned()],
        // Name the other tenant in the context, then read.
        vec![
            format!(
                "SELECT set_config('app.context', replace(current_setting('app.context'), '{}', '{}'), true)",
                mine.as_uuid(),
                theirs.as_uuid()
            ),
            "SELECT count(*) FROM tasks".to_owned(),
        ],
    ];
    let mut ids = Vec::new();
    for (i, sql) in attacks.iter().enumerate() {
        ids.push(
            enqueue(
                &p.1,
                mine,
                Enqueue::new("test.attack", json!({"sql": sql, "i": i})).max_attempts(1),
            )
            .await,
        );
    }
    // And a read, which sees only the handler's own tenant.
    let reader = enqueue(&p.1, mine, Enqueue::new("test.read", json!({}))).await;
    let seen = Arc::new(Mutex::new(None::<i64>));
    let out = Arc::clone(&seen);
    let built = worker(&p, "test.attack", |job, conn| {
        Box::pin(async move {
            let statements: Vec<String> = serde_json::from_value(job.payload["sql"].clone())?;
            for sql in statements {
                exec(conn, &sql).await?;
            }
            Ok(())
        })
    })
    .handler("test.read", move |_job, conn| {
        let out = Arc::clone(&out);
        Box::pin(async move {
            *out.lock().expect("seen") = Some(count(conn, "tasks").await?);
            Ok(())
        })
    })
    .build()
    .expect("worker");
    let handle = RunningWorker::start(built);
    for id in &ids {
        eventually(
            Duration::from_secs(30),
            "the attack is dead-lettered",
            || async { job_row(&p.0, *id).await.is_some_and(|r| r.state == "dead") },
        )
        .await;
    }
    eventually(Duration::from_secs(30), "the read completes", || async {
        job_row(&p.0, reader).await.is_none()
    })
    .await;
    handle.stop().await;
    assert_eq!(
        *seen.lock().expect("seen"),
        Some(0),
        "the handler sees no other tenant's task"
    );
    for id in &ids {
        let row = job_row(&p.0, *id).await.expect("row");
        let error = row.last_error.unwrap_or_default();
        assert!(
            error.contains("row-level security")
                || error.contains("permission denied")
                || error.contains("signature"),
            "refused by the database: {error}"
        );
    }
    // Their tenant holds only its own task.
    let titles: i64 =
        p.0.as_admin("test: their tasks", async |conn| {
            count(
                conn,
                &format!("tasks WHERE tenant_id = '{}'", theirs.as_uuid()),
            )
            .await
        })
        .await
        .expect("count");
    assert_eq!(titles, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_backlog_does_not_hold_back_another_tenant() {
    let db = TestDatabase::new().expect("db");
    let p = pools(&db, 4);
    let big = make_tenant(&p.1, "fair-big").await;
    let small = make_tenant(&p.1, "fair-small").await;
    // 5,000 jobs of the big tenant, due before anything the small one enqueues.
    p.1.with_tenant(&TenantContext::new(big), async |conn| {
        exec(
            conn,
            "INSERT INTO jobs (tenant_id, kind, run_at, next_attempt_at)
             SELECT (SELECT rowguard.current_tenant_id()), 'test.fair', now() - interval '1 hour', now() - interval '1 hour'
               FROM generate_series(1, 5000)",
        )
        .await
    })
    .await
    .expect("backlog");

    // Each start is recorded in order; a job takes 5 ms.
    let starts = Arc::new(Mutex::new(Vec::<TenantId>::new()));
    let log = Arc::clone(&starts);
    let built = worker(&p, "test.fair", move |job, _conn| {
        let log = Arc::clone(&log);
        Box::pin(async move {
            log.lock().expect("starts").push(job.tenant);
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(())
        })
    })
    .concurrency(2)
    .batch_size(4)
    .build()
    .expect("worker");
    let handle = RunningWorker::start(built);
    eventually(
        Duration::from_secs(30),
        "the backlog is being worked",
        || async { starts.lock().expect("starts").len() >= 20 },
    )
    .await;
    let before = starts.lock().expect("starts").len();
    let job = enqueue(&p.1, small, Enqueue::new("test.fair", json!({}))).await;
    eventually(
        Duration::from_secs(30),
        "the small tenant's job runs",
        || async { starts.lock().expect("starts").contains(&small) },
    )
    .await;
    let report = handle.stop().await;
    let starts = starts.lock().expect("starts").clone();
    let position = starts.iter().position(|t| *t == small).expect("started");
    // Bound: the claim in flight when the job was enqueued (at most `concurrency` jobs)
    // and the next one, which visits both tenants and gives the big one half a batch.
    let overtaken = position - before;
    assert!(
        overtaken <= 2 + 4 / 2,
        "{overtaken} of the big tenant's jobs started first"
    );
    assert!(report.completed as usize >= position);
    assert!(job_row(&p.0, job).await.is_none(), "it completed");
    assert!(
        jobs_left(&p.0, "test.fair").await > 4000,
        "the backlog was not drained first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_wake_on_notify_poll_without_it_skip_suspended_tenants_and_stop_gracefully() {
    let db = TestDatabase::new().expect("db");
    let p = pools(&db, 4);
    let tenant = make_tenant(&p.1, "wakeups").await;
    let done = Arc::new(Mutex::new(Vec::<Uuid>::new()));
    // A worker that polls once a minute wakes on the enqueue's NOTIFY.
    let listening = Worker::builder(p.0.clone(), p.1.clone())
        .handler("test.wake", recorder(Arc::clone(&done), Duration::ZERO))
        .poll_interval(Duration::from_secs(60))
        .listen(db.url_admin())
        .build()
        .expect("worker");
    let handle = RunningWorker::start(listening);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let woken = enqueue(&p.1, tenant, Enqueue::new("test.wake", json!({}))).await;
    eventually(
        Duration::from_secs(10),
        "the notified worker runs the job",
        || async { done.lock().expect("done").contains(&woken) },
    )
    .await;
    handle.stop().await;

    // Without LISTEN it polls.
    let polling = worker(&p, "test.wake", recorder(Arc::clone(&done), Duration::ZERO))
        .build()
        .expect("worker");
    let handle = RunningWorker::start(polling);
    let polled = enqueue(&p.1, tenant, Enqueue::new("test.wake", json!({}))).await;
    eventually(
        Duration::from_secs(10),
        "the polling worker runs the job",
        || async { done.lock().expect("done").contains(&polled) },
    )
    .await;

    // A suspended tenant's jobs wait; resuming lets them run.
    control::suspend(&p.0, tenant).await.expect("suspend");
    let parked =
        p.0.as_admin("test: enqueue for a suspended tenant", async |conn| {
            let row: Vec<IdOnly> = diesel::sql_query(
                "INSERT INTO jobs (tenant_id, kind) VALUES ($1, 'test.wake') RETURNING id",
            )
            .bind::<SqlUuid, _>(tenant.as_uuid())
            .load(conn)
            .await?;
            Ok(row.into_iter().next().expect("inserted").id)
        })
        .await
        .expect("enqueue");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let row = job_row(&p.0, parked).await.expect("still there");
    assert_eq!(
        (row.state.as_str(), row.attempts),
        ("ready", 0),
        "not claimed while suspended"
    );
    control::resume(&p.0, tenant).await.expect("resume");
    eventually(
        Duration::from_secs(10),
        "the resumed tenant's job runs",
        || async { done.lock().expect("done").contains(&parked) },
    )
    .await;
    handle.stop().await;

    // Graceful shutdown: the running job finishes and completes; nothing new is claimed.
    let slow = Worker::builder(p.0.clone(), p.1.clone())
        .handler(
            "test.slow",
            recorder(Arc::clone(&done), Duration::from_millis(800)),
        )
        .poll_interval(Duration::from_millis(50))
        .concurrency(1)
        .build()
        .expect("worker");
    let first = enqueue(&p.1, tenant, Enqueue::new("test.slow", json!({}))).await;
    let second = enqueue(&p.1, tenant, Enqueue::new("test.slow", json!({}))).await;
    let handle = RunningWorker::start(slow);
    eventually(
        Duration::from_secs(10),
        "the first slow job is running",
        || async {
            job_row(&p.0, first)
                .await
                .is_some_and(|r| r.state == "running")
                || job_row(&p.0, second)
                    .await
                    .is_some_and(|r| r.state == "running")
        },
    )
    .await;
    let report = handle.stop().await;
    assert_eq!(report.completed, 1, "the running job finished: {report:?}");
    let mut left = Vec::new();
    for id in [first, second] {
        left.extend(job_row(&p.0, id).await);
    }
    assert_eq!(left.len(), 1, "the other job was not claimed");
    assert_eq!((left[0].state.as_str(), left[0].attempts), ("ready", 0));
}

/// A handler that waits `sleep`, then records the job's id in `done`.
fn recorder(
    done: Arc<Mutex<Vec<Uuid>>>,
    sleep: Duration,
) -> impl for<'a> Fn(
    &'a ClaimedJob,
    &'a mut TenantConn,
) -> futures_util::future::BoxFuture<'a, Result<(), jobs::BoxError>>
       + Send
       + Sync
       + 'static {
    move |job, _conn| {
        let done = Arc::clone(&done);
        let id = job.id;
        Box::pin(async move {
            tokio::time::sleep(sleep).await;
            done.lock().expect("done").push(id);
            Ok(())
        })
    }
}

#[derive(QueryableByName)]
struct IdOnly {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// A worker for `kind` with completion batches of ten, `concurrency` batches at once
/// and claims as large: its handler records each run (job, attempt) in `runs`, writes
/// the ledger, and fails the first attempt of a job whose payload says `fail_once`.
fn fail_once_batches(
    p: &(AdminPool, TenantPool),
    kind: &str,
    runs: Arc<Mutex<Vec<(Uuid, i32)>>>,
    concurrency: usize,
) -> Worker {
    worker(p, kind, move |job, conn| {
        let runs = Arc::clone(&runs);
        Box::pin(async move {
            runs.lock().expect("runs").push((job.id, job.attempt));
            write_ledger(job, conn).await?;
            if job.payload["fail_once"] == true && job.attempt == 1 {
                return Err("a fail_once job fails its first attempt".into());
            }
            Ok(())
        })
    })
    .concurrency(concurrency)
    .batch_size(concurrency)
    .complete_in_batches(10)
    .backoff(Backoff {
        base: Duration::from_millis(50),
        max: Duration::from_millis(50),
    })
    .build()
    .expect("worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_batches_commit_together_and_fall_back_to_one_by_one() {
    let db = TestDatabase::new().expect("db");
    let p = pools(&db, 6);
    let tenants = [
        make_tenant(&p.1, "batches-a").await,
        make_tenant(&p.1, "batches-b").await,
    ];
    let mut enqueued = BTreeMap::new();
    for &t in &tenants {
        for n in 0..150 {
            // One job of each tenant fails its first attempt.
            let id = enqueue(
                &p.1,
                t,
                Enqueue::new("test.batch", json!({"fail_once": n == 75})),
            )
            .await;
            enqueued.insert(id, t.as_uuid());
        }
    }
    let runs = Arc::new(Mutex::new(Vec::<(Uuid, i32)>::new()));
    let built = fail_once_batches(&p, "test.batch", Arc::clone(&runs), 20);
    let handle = RunningWorker::start(built);
    eventually(Duration::from_secs(60), "the queue drains", || async {
        jobs_left(&p.0, "test.batch").await == 0
    })
    .await;
    let report = handle.stop().await;
    assert_eq!(report.completed, 300, "{report:?}");
    assert_eq!(report.retried, 2, "{report:?}");

    // Every job's write committed once, in its tenant, whatever its batch went through.
    let rows = ledger(&p.0).await;
    assert_eq!(rows.len(), 300);
    let distinct: BTreeSet<Uuid> = rows.iter().map(|(_, job)| *job).collect();
    assert_eq!(distinct.len(), 300);
    for (tenant, job) in &rows {
        assert_eq!(enqueued.get(job), Some(tenant));
    }
    let ran: BTreeSet<Uuid> = runs
        .lock()
        .expect("runs")
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ran.len(), 300, "every job's handler ran");

    // One batch, exactly: ten jobs of one tenant claimed at once, the sixth failing its
    // first attempt. The batch rolls back; its jobs run again one by one (the first five
    // a second time, the sixth failing again: it is still its first attempt), and the
    // sixth completes on its retry.
    let solo = make_tenant(&p.1, "batches-solo").await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(
            enqueue(
                &p.1,
                solo,
                Enqueue::new("test.solo", json!({"fail_once": n == 5})),
            )
            .await,
        );
    }
    let order = Arc::new(Mutex::new(Vec::<(Uuid, i32)>::new()));
    let built = fail_once_batches(&p, "test.solo", Arc::clone(&order), 10);
    let handle = RunningWorker::start(built);
    eventually(Duration::from_secs(30), "the solo queue drains", || async {
        jobs_left(&p.0, "test.solo").await == 0
    })
    .await;
    let report = handle.stop().await;
    assert_eq!((report.completed, report.retried), (10, 1), "{report:?}");
    let order = order.lock().expect("order").clone();
    let runs_of = |id: &Uuid| order.iter().filter(|(j, _)| j == id).count();
    let counts: Vec<usize> = ids.iter().map(runs_of).collect();
    assert_eq!(counts, [2, 2, 2, 2, 2, 3, 1, 1, 1, 1], "{order:?}");
    // The batch ran in claim order (priority, due time, id: enqueue order here).
    assert_eq!(
        order[..6].iter().map(|(j, _)| *j).collect::<Vec<_>>(),
        ids[..6]
    );
    assert_eq!(ledger(&p.0).await.len(), 310, "one committed write per job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_run_at_heartbeats_and_requeue_by_tenant_or_kind() {
    let db = TestDatabase::new().expect("db");
    let p = pools(&db, 4);
    let tenant = make_tenant(&p.1, "order").await;
    let other = make_tenant(&p.1, "order-other").await;

    // Within a tenant: lower priority first, then the earlier due time; a job due
    // later is not claimed before its time.
    let later = chrono::Utc::now() + chrono::Duration::seconds(2);
    let scheduled = enqueue(
        &p.1,
        tenant,
        Enqueue::new("test.order", json!({"n": "scheduled"})).run_at(later),
    )
    .await;
    let low = enqueue(
        &p.1,
        tenant,
        Enqueue::new("test.order", json!({"n": "low"})).priority(5),
    )
    .await;
    let high = enqueue(
        &p.1,
        tenant,
        Enqueue::new("test.order", json!({"n": "high"})).priority(-5),
    )
    .await;
    let normal = enqueue(
        &p.1,
        tenant,
        Enqueue::new("test.order", json!({"n": "normal"})),
    )
    .await;
    let order = Arc::new(Mutex::new(
        Vec::<(Uuid, chrono::DateTime<chrono::Utc>)>::new(),
    ));
    let seen = Arc::clone(&order);
    let built = worker(&p, "test.order", move |job, _conn| {
        let seen = Arc::clone(&seen);
        Box::pin(async move {
            seen.lock()
                .expect("order")
                .push((job.id, chrono::Utc::now()));
            Ok(())
        })
    })
    .concurrency(1)
    .batch_size(1)
    .build()
    .expect("worker");
    let handle = RunningWorker::start(built);
    eventually(Duration::from_secs(30), "all four ran", || async {
        order.lock().expect("order").len() == 4
    })
    .await;
    handle.stop().await;
    let order = order.lock().expect("order").clone();
    assert_eq!(
        order.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [high, normal, low, scheduled]
    );
    assert!(order[3].1 >= later, "the scheduled job waited for its time");

    // A job longer than its lease keeps it: the heartbeat extends it, nothing reaps
    // it, and it runs once.
    let long = enqueue(&p.1, tenant, Enqueue::new("test.long", json!({}))).await;
    let runs = Arc::new(AtomicU32::new(0));
    let count_runs = Arc::clone(&runs);
    let built = worker(&p, "test.long", move |job, conn| {
        let count_runs = Arc::clone(&count_runs);
        Box::pin(async move {
            count_runs.fetch_add(1, AtomicOrdering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3)).await;
            write_ledger(job, conn).await?;
            Ok(())
        })
    })
    .lease(Duration::from_millis(900))
    .build()
    .expect("worker");
    // A second worker's reaper runs all along.
    let reaper = worker(&p, "test.nothing", |_job, _conn| Box::pin(async { Ok(()) }))
        .lease(Duration::from_millis(900))
        .build()
        .expect("reaper");
    let (h1, h2) = (RunningWorker::start(built), RunningWorker::start(reaper));
    eventually(
        Duration::from_secs(30),
        "the long job completes",
        || async { job_row(&p.0, long).await.is_none() },
    )
    .await;
    let (r1, _) = (h1.stop().await, h2.stop().await);
    assert_eq!((r1.completed, r1.lease_lost), (1, 0), "{r1:?}");
    assert_eq!(
        AtomicU32::load(&runs, AtomicOrdering::SeqCst),
        1,
        "never reaped and rerun"
    );

    // Requeue by kind (across tenants) and by tenant.
    let dead_sql = "UPDATE jobs SET state = 'dead', dead_at = now(), attempts = max_attempts WHERE kind LIKE 'test.dead%'";
    let mut ids = Vec::new();
    for (t, kind) in [
        (tenant, "test.dead_a"),
        (other, "test.dead_a"),
        (tenant, "test.dead_b"),
        (other, "test.dead_b"),
    ] {
        ids.push(enqueue(&p.1, t, Enqueue::new(kind, json!({}))).await);
    }
    p.0.as_admin("test: dead-letter them", async |conn| {
        exec(conn, dead_sql).await
    })
    .await
    .expect("dead");
    let by_kind = admin::requeue(
        &p.0,
        &DeadFilter {
            kind: Some("test.dead_a".into()),
            ..DeadFilter::default()
        },
    )
    .await
    .expect("by kind");
    assert_eq!(by_kind, 2);
    let by_tenant = admin::requeue(
        &p.0,
        &DeadFilter {
            tenant: Some(other),
            ..DeadFilter::default()
        },
    )
    .await
    .expect("by tenant");
    assert_eq!(by_tenant, 1, "only other's test.dead_b was still dead");
    let mut states = Vec::new();
    for id in &ids {
        let row = job_row(&p.0, *id).await.expect("row");
        states.push((row.state, row.attempts));
    }
    assert_eq!(
        states,
        [
            ("ready".to_owned(), 0),
            ("ready".to_owned(), 0),
            ("dead".to_owned(), 10),
            ("ready".to_owned(), 0)
        ]
    );
}
