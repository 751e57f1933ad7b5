//! What tenant isolation costs per transaction: a point read by primary key and a
//! 20-row list, through rowguard (`with_tenant`: BEGIN, the context and the closure's
//! query pipelined, then COMMIT, two round trips; and `fetch`: all four statements sent
//! at once, one round trip) against the same query run as a bare autocommit read with
//! an explicit `WHERE tenant_id`, the way code without RLS would do it, through a
//! plain bb8/diesel-async pool.
//!
//! `cargo bench --bench tenant_tx` (a private PostgreSQL is started unless
//! DATABASE_URL is set).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rowguard::models::Task;
use rowguard::pool::TenantPool;
use rowguard::schema::tasks;
use rowguard::{TenantContext, TenantId};
use uuid::Uuid;

const ROWS_PER_TENANT: i64 = 10_000;

struct Fixture {
    app: TenantPool,
    bare: Pool<AsyncPgConnection>,
    tenant: TenantId,
    ids: Vec<Uuid>,
}

async fn fixture() -> Fixture {
    let admin_url =
        rowguard_testkit::server::migrated_database("rowguard_bench_tx").expect("bench database");
    let logins = rowguard_testkit::server::prepare_database(&admin_url).expect("logins");
    let (admin, app) = logins.pools(4).await.expect("pools");
    let bare = Pool::builder()
        .max_size(4)
        .test_on_check_out(false)
        .build_unchecked(AsyncDieselConnectionManager::<AsyncPgConnection>::new(
            admin_url.clone(),
        ));

    let tenants: Vec<TenantId> = ["bench-a", "bench-b"]
        .iter()
        .map(|slug| TenantId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, slug.as_bytes())))
        .collect();
    for (tenant, slug) in tenants.iter().zip(["bench-a", "bench-b"]) {
        let tenant = *tenant;
        admin.as_admin("bench fixture", async |conn| {
            diesel::sql_query(
                "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $2) ON CONFLICT (id) DO NOTHING",
            )
            .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
            .bind::<diesel::sql_types::Text, _>(slug)
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO tasks (tenant_id, title)
                 SELECT $1, 'task ' || g FROM generate_series(1, $2 - (SELECT count(*) FROM tasks WHERE tenant_id = $1)) g",
            )
            .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
            .bind::<diesel::sql_types::BigInt, _>(ROWS_PER_TENANT)
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
        .expect("fixture rows");
    }
    // Planner statistics: ANALYZE needs the owner (rowguard_admin may not run it).
    {
        use diesel::Connection;
        let mut owner = diesel::PgConnection::establish(&admin_url).expect("owner connection");
        diesel::RunQueryDsl::execute(diesel::sql_query("ANALYZE tasks"), &mut owner)
            .expect("analyze");
    }
    let tenant = tenants[0];
    let ids = app
        .with_tenant(&TenantContext::new(tenant), async |conn| {
            Ok(tasks::table
                .select(tasks::id)
                .limit(1000)
                .load(conn)
                .await?)
        })
        .await
        .expect("ids");
    Fixture {
        app,
        bare,
        tenant,
        ids,
    }
}

/// Runs one iteration: on the bench thread itself (current-thread runtime), or as a
/// task on the runtime's worker, beside the connection tasks, the way a server runs
/// its request handlers (multi-threaded runtime). Bare and rowguard iterations go
/// through the same path.
async fn iteration<F>(multi: bool, f: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    if multi {
        tokio::spawn(f).await.expect("iteration task")
    } else {
        f.await
    }
}

fn bench(c: &mut Criterion) {
    // current_thread by default: the caller and the connection tasks share a thread,
    // as a single-threaded client such as pgbench does.
    // ROWGUARD_BENCH_RUNTIME=multi runs on a multi-threaded runtime with one worker,
    // each iteration a task on that worker (the bench thread only waits for it).
    let multi = std::env::var("ROWGUARD_BENCH_RUNTIME").as_deref() == Ok("multi");
    let rt = if multi {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(1);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()
    .expect("runtime");
    // Iterations may run as spawned tasks, which need 'static borrows.
    let fx: &'static Fixture = Box::leak(Box::new(rt.block_on(fixture())));
    let ctx = TenantContext::new(fx.tenant);
    let tenant = fx.tenant.as_uuid();
    let mut n = 0usize;
    let mut next_id = || {
        n = (n + 1) % fx.ids.len();
        fx.ids[n]
    };

    let mut point = c.benchmark_group("point_read");
    point.bench_function("bare_autocommit_where_tenant_id", |b| {
        b.to_async(&rt).iter(|| {
            let id = next_id();
            iteration(multi, async move {
                let mut conn = fx.bare.get().await.expect("conn");
                let row: Task = tasks::table
                    .filter(tasks::tenant_id.eq(tenant))
                    .filter(tasks::id.eq(id))
                    .select(Task::as_select())
                    .first(&mut conn)
                    .await
                    .expect("row");
                black_box(row)
            })
        })
    });
    point.bench_function("rowguard_with_tenant", |b| {
        b.to_async(&rt).iter(|| {
            let id = next_id();
            iteration(multi, async move {
                let row = fx
                    .app
                    .with_tenant(&ctx, async |conn| Ok(Task::find(conn, id).await?))
                    .await
                    .expect("row");
                black_box(row)
            })
        })
    });
    point.bench_function("rowguard_fetch", |b| {
        b.to_async(&rt).iter(|| {
            let id = next_id();
            iteration(multi, async move {
                let rows: Vec<Task> = fx
                    .app
                    .fetch(
                        &ctx,
                        tasks::table
                            .filter(tasks::id.eq(id))
                            .select(Task::as_select()),
                    )
                    .await
                    .expect("row");
                black_box(rows)
            })
        })
    });
    point.finish();

    let mut list = c.benchmark_group("list_20");
    list.bench_function("bare_autocommit_where_tenant_id", |b| {
        b.to_async(&rt).iter(|| {
            iteration(multi, async move {
                let mut conn = fx.bare.get().await.expect("conn");
                let rows: Vec<Task> = tasks::table
                    .filter(tasks::tenant_id.eq(tenant))
                    .order(tasks::created_at.desc())
                    .limit(20)
                    .select(Task::as_select())
                    .load(&mut conn)
                    .await
                    .expect("rows");
                black_box(rows)
            })
        })
    });
    list.bench_function("rowguard_with_tenant", |b| {
        b.to_async(&rt).iter(|| {
            iteration(multi, async move {
                let rows = fx
                    .app
                    .with_tenant(&ctx, async |conn| Ok(Task::list(conn, 20).await?))
                    .await
                    .expect("rows");
                black_box(rows)
            })
        })
    });
    list.bench_function("rowguard_fetch", |b| {
        b.to_async(&rt).iter(|| {
            iteration(multi, async move {
                let rows: Vec<Task> = fx
                    .app
                    .fetch(
                        &ctx,
                        tasks::table
                            .order(tasks::created_at.desc())
                            .limit(20)
                            .select(Task::as_select()),
                    )
                    .await
                    .expect("rows");
                black_box(rows)
            })
        })
    });
    list.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(100).measurement_time(std::time::Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
