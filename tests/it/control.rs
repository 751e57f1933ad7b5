//! The tenant lifecycle (`rowguard::control`), through the admin path, and what the
//! application login sees of it through the pool:
//!
//! - provisioning creates the tenant, its owner and its settings once per slug, also
//!   when two calls race;
//! - the tenant reads its typed settings and may change none of its own row;
//! - a suspended, closed or unknown tenant's transactions are refused with a typed
//!   error by every transaction shape (`with_tenant`, `fetch`, the sync twin), its data
//!   untouched, and resuming admits them again;
//! - deleting a tenant removes every row of it and reports the counts per table;
//! - the pool resolves a slug or a host to an active tenant before any tenant is known.

use diesel::QueryDsl;
use rowguard::control::{self, TenantSettings, TenantSpec};
use rowguard::models::{MemberRole, NewTask, Tenant, TenantPlan};
use rowguard::schema::{tasks, tenants};
use rowguard::{Error, TenantContext, TenantId};
use rowguard_testkit::fixtures::{count, exec};
use rowguard_testkit::server::TestDatabase;

fn spec(slug: &str) -> TenantSpec {
    TenantSpec::builder()
        .slug(slug)
        .name(format!("Tenant {slug}"))
        .plan(TenantPlan::Pro)
        .owner_email(format!("owner@{slug}.example"))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_is_idempotent_by_slug_and_makes_an_owner() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(2).expect("admin");
    let pool = db.app_pool(1).expect("pool");

    let made = control::provision(&admin, &spec("lifecycle"))
        .await
        .expect("provision");
    assert!(made.created);
    let owner = made.owner.clone().expect("an owner");
    assert_eq!(owner.role, MemberRole::Owner);
    assert_eq!(owner.tenant_id, made.tenant.id);
    assert_eq!(owner.display_name, "owner");

    let again = control::provision(&admin, &spec("lifecycle"))
        .await
        .expect("provision again");
    assert!(!again.created, "the second call finds the tenant");
    assert_eq!(again.tenant.id, made.tenant.id);
    assert_eq!(again.owner.map(|u| u.id), Some(owner.id));

    // The tenant reads its own typed settings: the plan's defaults.
    let own = pool
        .with_tenant(&TenantContext::new(made.tenant.id), async |conn| {
            Tenant::current(conn).await
        })
        .await
        .expect("current");
    assert_eq!(
        own.typed_settings().expect("settings"),
        TenantSettings::for_plan(TenantPlan::Pro)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_provisions_of_one_slug_create_one_tenant() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(4).expect("admin");
    let s = spec("racing");
    let calls = (0..4).map(|_| control::provision(&admin, &s));
    let outcomes = futures_util::future::join_all(calls).await;
    let outcomes: Vec<_> = outcomes
        .into_iter()
        .map(|o| o.expect("provision"))
        .collect();
    assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1);
    assert!(outcomes
        .iter()
        .all(|o| o.tenant.id == outcomes[0].tenant.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_changes_nothing_of_its_own_row() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(1).expect("admin");
    let pool = db.app_pool(1).expect("pool");
    let t = control::provision(&admin, &spec("self-upgrade"))
        .await
        .expect("provision")
        .tenant;
    for sql in [
        "UPDATE tenants SET plan = 'enterprise'",
        "UPDATE tenants SET status = 'active'",
        "UPDATE tenants SET settings = '{\"seats\": 100000}'",
        "UPDATE tenants SET slug = 'taken-over'",
    ] {
        let err = pool
            .with_tenant(&TenantContext::new(t.id), async |conn| {
                exec(conn, sql).await
            })
            .await
            .expect_err(sql);
        assert!(matches!(err, Error::Forbidden(_)), "{sql}: {err:?}");
    }
    // It may rename itself.
    let renamed = pool
        .with_tenant(&TenantContext::new(t.id), async |conn| {
            Tenant::rename(conn, "Self Upgrade Ltd").await
        })
        .await
        .expect("rename");
    assert_eq!(renamed.name, "Self Upgrade Ltd");
    // The admin path changes settings.
    let mut settings = t.typed_settings().expect("settings");
    settings.seats = 75;
    let changed = control::set_settings(&admin, t.id, &settings)
        .await
        .expect("set settings");
    assert_eq!(changed.typed_settings().expect("settings").seats, 75);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_closed_and_unknown_tenants_are_refused_with_typed_errors() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(1).expect("admin");
    let pool = db.app_pool(2).expect("pool");
    let t = control::provision(&admin, &spec("suspended"))
        .await
        .expect("provision")
        .tenant;
    let ctx = TenantContext::new(t.id);
    pool.with_tenant(&ctx, async |conn| {
        NewTask::builder().title("kept").build().insert(conn).await
    })
    .await
    .expect("a task");

    control::suspend(&admin, t.id).await.expect("suspend");
    let refused = pool
        .with_tenant(&ctx, async |conn| count(conn, "tasks").await)
        .await;
    assert!(
        matches!(refused, Err(Error::TenantSuspended(_))),
        "{refused:?}"
    );
    let fetched = pool
        .fetch::<_, String, _>(&ctx, tasks::table.select(tasks::title))
        .await;
    assert!(
        matches!(fetched, Err(Error::TenantSuspended(_))),
        "{fetched:?}"
    );
    // The sync twin, on its own thread.
    let url = db.url_app();
    let key = db.context_key();
    let sync_ctx = ctx;
    let sync = tokio::task::spawn_blocking(move || {
        let mut conn = rowguard::tenant::SyncConnection::establish(&url)?;
        rowguard::tenant::with_tenant_sync(
            &mut conn,
            &key,
            Some("rowguard_app"),
            &sync_ctx,
            |conn| {
                Ok(diesel::RunQueryDsl::execute(
                    diesel::sql_query("SELECT 1"),
                    &mut **conn,
                )?)
            },
        )
    })
    .await
    .expect("blocking task");
    assert!(matches!(sync, Err(Error::TenantSuspended(_))), "{sync:?}");

    // The data is untouched, as the admin path sees it.
    let kept: i64 = admin
        .as_admin("test: count a suspended tenant's tasks", async |conn| {
            Ok(diesel_async::RunQueryDsl::get_result(
                tasks::table
                    .filter(diesel::ExpressionMethods::eq(tasks::tenant_id, t.id))
                    .count(),
                conn,
            )
            .await?)
        })
        .await
        .expect("count");
    assert_eq!(kept, 1);

    control::resume(&admin, t.id).await.expect("resume");
    let titles: Vec<String> = pool
        .fetch(&ctx, tasks::table.select(tasks::title))
        .await
        .expect("resumed");
    assert_eq!(titles, vec!["kept"]);

    control::close(&admin, t.id).await.expect("close");
    let closed = pool
        .with_tenant(&ctx, async |conn| count(conn, "tasks").await)
        .await;
    assert!(matches!(closed, Err(Error::TenantClosed(_))), "{closed:?}");

    // A context naming no tenant at all is an error, never an empty result.
    let nobody = TenantContext::new(TenantId::new_v7());
    let unknown = pool
        .with_tenant(&nobody, async |conn| count(conn, "tasks").await)
        .await;
    assert!(
        matches!(unknown, Err(Error::UnknownTenant(_))),
        "{unknown:?}"
    );
    let unknown = pool
        .fetch::<_, String, _>(&nobody, tasks::table.select(tasks::title))
        .await;
    assert!(
        matches!(unknown, Err(Error::UnknownTenant(_))),
        "{unknown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_removes_its_rows_and_counts_them() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(1).expect("admin");
    let pool = db.app_pool(1).expect("pool");
    let gone = control::provision(&admin, &spec("deleted"))
        .await
        .expect("provision")
        .tenant;
    let stays = control::provision(&admin, &spec("stays"))
        .await
        .expect("provision")
        .tenant;
    for t in [gone.id, stays.id] {
        pool.with_tenant(&TenantContext::new(t), async |conn| {
            for i in 0..3 {
                NewTask::builder()
                    .title(format!("task {i}"))
                    .build()
                    .insert(conn)
                    .await?;
            }
            Ok(())
        })
        .await
        .expect("tasks");
    }

    let deletion = control::delete(&admin, gone.id).await.expect("delete");
    assert_eq!(deletion.rows.get("tasks"), Some(&3));
    assert_eq!(deletion.rows.get("users"), Some(&1), "the owner");
    assert_eq!(deletion.rows.get("tenants"), Some(&1));
    // Its audit trail: the tenant and its owner (provisioning), the three tasks.
    assert_eq!(deletion.rows.get("audit_log"), Some(&5));
    assert_eq!(deletion.total(), 10);

    let left: Vec<TenantId> = admin
        .as_admin("test: tenants left", async |conn| {
            Ok(diesel_async::RunQueryDsl::load(tenants::table.select(tenants::id), conn).await?)
        })
        .await
        .expect("tenants");
    assert_eq!(left, vec![stays.id]);
    let theirs = pool
        .with_tenant(&TenantContext::new(stays.id), async |conn| {
            count(conn, "tasks").await
        })
        .await
        .expect("the other tenant");
    assert_eq!(theirs, 3, "the other tenant keeps its rows");
    let again = control::delete(&admin, gone.id).await;
    assert!(matches!(again, Err(Error::NotFound)), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_tenant_look_ups_resolve_active_tenants_only() {
    let db = TestDatabase::new().expect("db");
    let admin = db.admin_pool(1).expect("admin");
    let pool = db.app_pool(1).expect("pool");
    let t = control::provision(&admin, &spec("look-up"))
        .await
        .expect("provision")
        .tenant;
    let added = rowguard::domains::add(&admin, t.id, "App.Look-Up.example")
        .await
        .expect("add domain");
    rowguard::domains::verify(&admin, t.id, "app.look-up.example", added.token.expose())
        .await
        .expect("verify domain");

    assert_eq!(
        pool.resolve_slug("look-up").await.expect("slug"),
        Some(t.id)
    );
    assert_eq!(pool.resolve_slug("nobody").await.expect("slug"), None);
    assert_eq!(
        pool.resolve_host("App.Look-Up.Example")
            .await
            .expect("host"),
        Some(t.id),
        "host names compare in lower case"
    );
    // Twice more: the prepared look-up, in one round trip, answers the same.
    for _ in 0..2 {
        assert_eq!(
            pool.resolve_slug("look-up").await.expect("slug"),
            Some(t.id)
        );
    }
    control::suspend(&admin, t.id).await.expect("suspend");
    assert_eq!(pool.resolve_slug("look-up").await.expect("slug"), None);
    assert_eq!(
        pool.resolve_host("app.look-up.example")
            .await
            .expect("host"),
        None
    );
}
