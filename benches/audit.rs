//! What the audit trigger costs per write: a single-row insert and a single-row update
//! of `tasks`, each a whole tenant transaction through `with_tenant` (BEGIN, the signed
//! context, the statement, COMMIT) acting for a member user, with the table's `audit`
//! trigger enabled and disabled, side by side in one run.
//!
//! The two sides are two databases on the same server, one with the trigger disabled.
//! Every iteration writes once to each, alternately, and each benchmark counts only its
//! own side's time: the machine's load drifts, and this way it touches both alike.
//!
//! `cargo bench --bench audit` (a private PostgreSQL is started unless DATABASE_URL is
//! set). Short on purpose: 30 samples of 5 s per figure.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::{Connection, ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rowguard::models::NewTask;
use rowguard::pool::TenantPool;
use rowguard::schema::tasks;
use rowguard::{MemberRole, TenantContext, TenantId, UserId};
use uuid::Uuid;

struct Side {
    app: TenantPool,
    ctx: TenantContext,
    ids: Vec<Uuid>,
}

async fn side(database: &str, audited: bool) -> Side {
    let owner_url = rowguard_testkit::server::migrated_database(database).expect("bench database");
    let logins = rowguard_testkit::server::prepare_database(&owner_url).expect("logins");
    let (admin, app) = logins.pools(1).await.expect("pools");
    let tenant = TenantId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, b"bench-audit"));
    let user = UserId::from_uuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, b"bench-audit-member"));
    admin
        .as_admin("bench fixture", async |conn| {
            diesel::sql_query(
                "INSERT INTO tenants (id, slug, name) VALUES ($1, 'bench-audit', 'Bench') ON CONFLICT (id) DO NOTHING",
            )
            .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO users (tenant_id, id, email, display_name, role) \
                 VALUES ($1, $2, 'member@bench.test', 'member', 'member') ON CONFLICT DO NOTHING",
            )
            .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
            .bind::<diesel::sql_types::Uuid, _>(user.as_uuid())
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO tasks (tenant_id, title) \
                 SELECT $1, 'task ' || g FROM generate_series(1, 1000 - (SELECT count(*) FROM tasks WHERE tenant_id = $1)) g",
            )
            .bind::<diesel::sql_types::Uuid, _>(tenant.as_uuid())
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
        .expect("fixture rows");
    // The owner switches the trigger (the application role owns nothing) and gathers
    // planner statistics.
    {
        let mut owner = diesel::PgConnection::establish(&owner_url).expect("owner connection");
        let toggle = if audited {
            "ALTER TABLE tasks ENABLE TRIGGER audit"
        } else {
            "ALTER TABLE tasks DISABLE TRIGGER audit"
        };
        for sql in [toggle, "ANALYZE tasks"] {
            diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut owner).expect(sql);
        }
    }
    let ctx = TenantContext::new(tenant).with_user(user, MemberRole::Member);
    let ids = app
        .with_tenant(&ctx, async |conn| {
            Ok(tasks::table
                .select(tasks::id)
                .limit(1000)
                .load(conn)
                .await?)
        })
        .await
        .expect("ids");
    Side { app, ctx, ids }
}

#[derive(Clone, Copy)]
enum Write {
    Insert,
    Update,
}

/// One write as one tenant transaction on `side`.
async fn write(side: &Side, what: Write, n: usize) {
    match what {
        Write::Insert => {
            let task = side
                .app
                .with_tenant(&side.ctx, async |conn| {
                    NewTask::builder()
                        .title("bench insert")
                        .build()
                        .insert(conn)
                        .await
                })
                .await
                .expect("insert");
            black_box(task);
        }
        Write::Update => {
            let id = side.ids[n % side.ids.len()];
            let rows = side
                .app
                .with_tenant(&side.ctx, async |conn| {
                    Ok(diesel::update(tasks::table.filter(tasks::id.eq(id)))
                        .set(tasks::title.eq("bench update"))
                        .execute(conn)
                        .await?)
                })
                .await
                .expect("update");
            black_box(rows);
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sides: &'static [Side; 2] = Box::leak(Box::new(rt.block_on(async {
        [
            side("rowguard_bench_audit_on", true).await,
            side("rowguard_bench_audit_off", false).await,
        ]
    })));

    let mut group = c.benchmark_group("audit");
    for (what, label) in [(Write::Insert, "insert"), (Write::Update, "update")] {
        for (mine, name) in [(0usize, "audited"), (1, "unaudited")] {
            group.bench_function(format!("{label}/{name}"), |b| {
                b.to_async(&rt).iter_custom(|iters| async move {
                    let mut spent = Duration::ZERO;
                    for i in 0..iters {
                        for (s, side) in sides.iter().enumerate() {
                            let started = Instant::now();
                            write(side, what, i as usize).await;
                            if s == mine {
                                spent += started.elapsed();
                            }
                        }
                    }
                    spent
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
