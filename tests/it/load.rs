//! Load with random cancellations, acting as the application login role: 64
//! concurrent tasks over 16 tenants, through a pool of 8, run 20,000 tenant
//! transactions (writes through `with_tenant`, reads through `with_tenant` and the
//! pipelined `fetch`); about one in twelve is dropped mid-flight 0-4 ms after it was
//! called or (two in three) after its transaction began, so cancellations land while
//! queueing for a connection, inside the transaction and during COMMIT.
//! - Every read sees only its own tenant's rows.
//! - Each tenant's final rows are exactly what it committed. Every write inserts a
//!   row whose id is a fresh idempotency key, recorded with its outcome before the
//!   attempt: `Ok` (must be there), `Err` (must not be there) or cancelled (in doubt:
//!   the cancel may have raced COMMIT). The final count per tenant must equal the
//!   `Ok` keys plus the in-doubt keys found in the database, with no other row at all.
//! - Afterwards no session of the pool is left inside a transaction.
//!
//! The test prints its throughput; run `cargo test --test load -- --nocapture`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::dsl::count_star;
use diesel::sql_types::Text;
use diesel::{ExpressionMethods, QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use rowguard::schema::tasks;
use rowguard::{TenantContext, TenantId};
use rowguard_testkit::fixtures::N;
use rowguard_testkit::server::TestDatabase;
use rowguard_testkit::synth::SynthRng;
use uuid::Uuid;

const TASKS: usize = 64;
const TENANTS: usize = 16;
const POOL_SIZE: u32 = 8;
const TRANSACTIONS: usize = 20_000;
/// One transaction in CANCEL_ONE_IN is run under a random short timeout.
const CANCEL_ONE_IN: usize = 12;

#[derive(Default)]
struct Book {
    ok: HashSet<Uuid>,
    failed: HashSet<Uuid>,
    in_doubt: HashSet<Uuid>,
}

#[derive(Default)]
struct Stats {
    writes_ok: AtomicU64,
    reads_ok: AtomicU64,
    cancelled: AtomicU64,
    completed_despite_timeout: AtomicU64,
    errors: Mutex<Vec<String>>,
}

#[derive(QueryableByName)]
struct State {
    #[diesel(sql_type = Text)]
    state: String,
}

enum Outcome<T> {
    Done(rowguard::Result<T>),
    Cancelled,
}

/// Runs `fut`, or drops it `cancel_after` after `started` fires (the closure began,
/// so the transaction is open), or after the call when `started` is `None`. Without
/// the `started` clock most cancellations would land while the call still queues for
/// a connection; with it they land inside the transaction, up to and during COMMIT.
async fn maybe_cancel<T>(
    cancel_after: Option<Duration>,
    started: Option<tokio::sync::oneshot::Receiver<()>>,
    fut: impl std::future::Future<Output = rowguard::Result<T>>,
) -> Outcome<T> {
    let Some(d) = cancel_after else {
        return Outcome::Done(fut.await);
    };
    let clock = async {
        if let Some(started) = started {
            if started.await.is_err() {
                // The closure never ran: let the call finish on its own.
                std::future::pending::<()>().await;
            }
        }
        tokio::time::sleep(d).await;
    };
    tokio::select! {
        biased;
        r = fut => Outcome::Done(r),
        () = clock => Outcome::Cancelled,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_transactions_with_random_cancellations_stay_isolated_and_exact() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(POOL_SIZE).expect("pool");
    let mut tenants = Vec::new();
    for i in 0..TENANTS {
        tenants.push(rowguard_testkit::fixtures::make_tenant(&pool, &format!("load-{i}")).await);
    }
    let tenants: Arc<Vec<TenantId>> = Arc::new(tenants);
    let books: Arc<Vec<Mutex<Book>>> =
        Arc::new((0..TENANTS).map(|_| Mutex::new(Book::default())).collect());
    let stats = Arc::new(Stats::default());
    let next = Arc::new(AtomicUsize::new(0));

    let started = Instant::now();
    let mut handles = Vec::new();
    for worker in 0..TASKS {
        let (pool, tenants, books, stats, next) = (
            pool.clone(),
            tenants.clone(),
            books.clone(),
            stats.clone(),
            next.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut rng = SynthRng::new(0x5eed_0000 + worker as u64);
            // Each task starts on its own tenant and wanders, so tenants interleave on
            // every pooled connection.
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= TRANSACTIONS {
                    break;
                }
                let t = (worker + rng.below(TENANTS)) % TENANTS;
                let tenant = tenants[t];
                let ctx = TenantContext::new(tenant);
                let cancel_after = (rng.below(CANCEL_ONE_IN) == 0)
                    .then(|| Duration::from_micros(rng.below(4_000) as u64));
                let slow = cancel_after.is_some() && rng.below(2) == 0;
                // Two in three cancellations count from the start of the transaction.
                let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
                let started_rx = (rng.below(3) != 0).then_some(started_rx);
                match rng.below(3) {
                    0 | 1 => {
                        let key = Uuid::now_v7();
                        let outcome = maybe_cancel(
                            cancel_after,
                            started_rx,
                            pool.with_tenant(&ctx, async |conn| {
                                let _ = started_tx.send(());
                                diesel::insert_into(tasks::table)
                                    .values((
                                        tasks::tenant_id.eq(tenant.as_uuid()),
                                        tasks::id.eq(key),
                                        tasks::title.eq("load"),
                                    ))
                                    .execute(conn)
                                    .await?;
                                if slow {
                                    diesel::sql_query("SELECT pg_sleep(0.002)")
                                        .execute(conn)
                                        .await?;
                                }
                                Ok(())
                            }),
                        )
                        .await;
                        let mut book = books[t].lock().unwrap_or_else(|p| p.into_inner());
                        match outcome {
                            Outcome::Done(Ok(())) => {
                                book.ok.insert(key);
                                stats.writes_ok.fetch_add(1, Ordering::Relaxed);
                                if cancel_after.is_some() {
                                    stats
                                        .completed_despite_timeout
                                        .fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Outcome::Done(Err(e)) => {
                                book.failed.insert(key);
                                stats
                                    .errors
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .push(format!("write: {e}"));
                            }
                            Outcome::Cancelled => {
                                book.in_doubt.insert(key);
                                stats.cancelled.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    _ => {
                        // Which tenants' rows does this read see? Only its own.
                        let seen: Outcome<Vec<Uuid>> = if rng.below(2) == 0 {
                            maybe_cancel(
                                cancel_after,
                                started_rx,
                                pool.with_tenant(&ctx, async |conn| {
                                    let _ = started_tx.send(());
                                    let groups: Vec<(Uuid, i64)> = tasks::table
                                        .group_by(tasks::tenant_id)
                                        .select((tasks::tenant_id, count_star()))
                                        .load(conn)
                                        .await?;
                                    if slow {
                                        diesel::sql_query("SELECT pg_sleep(0.002)")
                                            .execute(conn)
                                            .await?;
                                    }
                                    Ok(groups.into_iter().map(|(t, _)| t).collect())
                                }),
                            )
                            .await
                        } else {
                            maybe_cancel(
                                cancel_after,
                                None,
                                pool.fetch(&ctx, tasks::table.select(tasks::tenant_id).distinct()),
                            )
                            .await
                        };
                        match seen {
                            Outcome::Done(Ok(seen)) => {
                                assert!(
                                    seen.iter().all(|s| *s == tenant.as_uuid()),
                                    "tenant {tenant} saw rows of {seen:?}"
                                );
                                stats.reads_ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Outcome::Done(Err(e)) => stats
                                .errors
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("read: {e}")),
                            Outcome::Cancelled => {
                                stats.cancelled.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("worker");
    }
    let elapsed = started.elapsed();

    let errors = stats
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");

    // Exact bookkeeping, tenant by tenant, from the database.
    let mut in_doubt_committed = 0;
    for (t, tenant) in tenants.iter().enumerate() {
        let present: HashSet<Uuid> = pool
            .with_tenant(&TenantContext::new(*tenant), async |conn| {
                Ok(tasks::table.select(tasks::id).load::<Uuid>(conn).await?)
            })
            .await
            .expect("final read")
            .into_iter()
            .collect();
        let book = books[t].lock().unwrap_or_else(|p| p.into_inner());
        let missing: Vec<_> = book.ok.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "tenant {t}: committed rows missing: {missing:?}"
        );
        let failed: Vec<_> = book.failed.intersection(&present).collect();
        assert!(
            failed.is_empty(),
            "tenant {t}: failed rows present: {failed:?}"
        );
        let foreign: Vec<_> = present
            .iter()
            .filter(|k| !book.ok.contains(k) && !book.in_doubt.contains(k))
            .collect();
        assert!(
            foreign.is_empty(),
            "tenant {t}: rows it never wrote: {foreign:?}"
        );
        let resolved = book.in_doubt.intersection(&present).count();
        in_doubt_committed += resolved;
        assert_eq!(
            present.len(),
            book.ok.len() + resolved,
            "tenant {t}: final count is what it committed"
        );
    }

    // Nothing is left inside a transaction, on the server or in the pool.
    let mut owner = db.owner_conn().expect("owner");
    let stuck: N = diesel::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND usename = $1 \
               AND state LIKE 'idle in transaction%'",
        )
        .bind::<Text, _>(rowguard_testkit::server::APP_LOGIN_ROLE),
        &mut owner,
    )
    .expect("activity");
    assert_eq!(stuck.n, 0, "a pooled session was left inside a transaction");
    for _ in 0..POOL_SIZE {
        let state = pool
            .unscoped_for_tests(async |conn| {
                let s: State = diesel::sql_query(
                    "SELECT coalesce(current_setting('app.context', true), '') AS state",
                )
                .get_result(conn)
                .await?;
                Ok(s.state)
            })
            .await
            .expect("idle state");
        assert_eq!(state, "", "a context lingered on a pooled connection");
    }

    let total: N = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT count(*) AS n FROM tasks"),
        &mut owner,
    )
    .expect("total");
    eprintln!(
        "load: {TRANSACTIONS} transactions ({} writes ok, {} reads ok, {} cancelled, {} \
         in-doubt writes found committed, {} finished before their timeout) by {TASKS} tasks \
         over {TENANTS} tenants through {POOL_SIZE} connections in {:.2?}: {:.0} tx/s; \
         {} rows",
        AtomicU64::load(&stats.writes_ok, Ordering::Relaxed),
        AtomicU64::load(&stats.reads_ok, Ordering::Relaxed),
        AtomicU64::load(&stats.cancelled, Ordering::Relaxed),
        in_doubt_committed,
        AtomicU64::load(&stats.completed_despite_timeout, Ordering::Relaxed),
        elapsed,
        TRANSACTIONS as f64 / elapsed.as_secs_f64(),
        total.n,
    );
}
