//! What the audit trigger costs per write: a single-row insert and a single-row update
//! of `tasks`, each a whole tenant transaction through `with_tenant` (BEGIN, the signed
//! context, the statement, COMMIT) acting for a member user, with the table's `audit`
//! trigger enabled and disabled, side by side in one run.
//!
//! `cargo bench --bench audit` (a private PostgreSQL is started unless DATABASE_URL is
//! set). Short on purpose: 30 samples of 5 s per figure.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::{Connection, ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rowguard::models::NewTask;
use rowguard::pool::TenantPool;
use rowguard::schema::tasks;
use rowguard::{MemberRole, TenantContext, TenantId, UserId};
use uuid::Uuid;

struct Fixture {
    app: TenantPool,
    owner_url: String,
    ctx: TenantContext,
    ids: Vec<Uuid>,
}

async fn fixture() -> Fixture {
    let owner_url = rowguard_testkit::server::migrated_database("rowguard_bench_audit")
        .expect("bench database");
    let logins = rowguard_testkit::server::prepare_database(&owner_url).expect("logins");
    let admin = rowguard::pool::PoolConfig::new(logins.admin_url)
        .max_size(1)
        .build_admin()
        .expect("admin pool");
    let key = admin.context_key().await.expect("context key");
    let app = rowguard::pool::PoolConfig::new(logins.app_url)
        .context_key(key)
        .max_size(2)
        .build()
        .expect("app pool");
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
    Fixture {
        app,
        owner_url,
        ctx,
        ids,
    }
}

/// Enables or disables the audit trigger on `tasks` (as the owner, between benches).
fn audit_tasks(owner_url: &str, on: bool) {
    let mut owner = diesel::PgConnection::establish(owner_url).expect("owner connection");
    let sql = if on {
        "ALTER TABLE tasks ENABLE TRIGGER audit"
    } else {
        "ALTER TABLE tasks DISABLE TRIGGER audit"
    };
    diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut owner).expect("toggle trigger");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let fx: &'static Fixture = Box::leak(Box::new(rt.block_on(fixture())));
    let mut n = 0usize;
    let mut next_id = move || {
        n = (n + 1) % fx.ids.len();
        fx.ids[n]
    };

    // Each write with and without the trigger back to back, so that drift in the
    // machine's load touches both sides of a pair alike.
    let mut group = c.benchmark_group("audit");
    for (name, on) in [("audited", true), ("unaudited", false)] {
        group.bench_function(format!("insert/{name}"), |b| {
            audit_tasks(&fx.owner_url, on);
            b.to_async(&rt).iter(|| async {
                let task = fx
                    .app
                    .with_tenant(&fx.ctx, async |conn| {
                        NewTask::builder()
                            .title("bench insert")
                            .build()
                            .insert(conn)
                            .await
                    })
                    .await
                    .expect("insert");
                black_box(task)
            })
        });
    }
    for (name, on) in [("audited", true), ("unaudited", false)] {
        group.bench_function(format!("update/{name}"), |b| {
            audit_tasks(&fx.owner_url, on);
            b.to_async(&rt).iter(|| {
                let id = next_id();
                async move {
                    let n = fx
                        .app
                        .with_tenant(&fx.ctx, async |conn| {
                            Ok(diesel::update(tasks::table.filter(tasks::id.eq(id)))
                                .set(tasks::title.eq("bench update"))
                                .execute(conn)
                                .await?)
                        })
                        .await
                        .expect("update");
                    black_box(n)
                }
            })
        });
    }
    group.finish();
    audit_tasks(&fx.owner_url, true);
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
