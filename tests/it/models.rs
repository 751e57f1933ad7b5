//! The typed models on a real database, as the application login through the pool:
//! an insert lands in the connection's tenant without naming it, ids are typed
//! (`TenantId`, `UserId`), the query fragments of `models::filters` compose into pages,
//! and tenants are created, changed and deleted through the admin path only.

use diesel::{QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use rowguard::models::filters::{self, TaskCursor};
use rowguard::models::{NewTask, NewTenant, Task, TaskStatus, Tenant, TenantChanges, TenantPlan};
use rowguard::schema::tasks;
use rowguard::{Error, MemberRole, TenantContext};
use rowguard_testkit::fixtures::{make_tenant, make_user};
use rowguard_testkit::server::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_lands_in_the_connections_tenant() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let a = make_tenant(&pool, "models-a").await;
    let b = make_tenant(&pool, "models-b").await;
    let author = make_user(&pool, a, MemberRole::Member).await;

    let task = pool
        .with_tenant(&TenantContext::new(a), async |conn| {
            NewTask::builder()
                .title("Call Acme back")
                .assignee_id(author)
                .build()
                .insert(conn)
                .await
        })
        .await
        .expect("insert");
    assert_eq!(
        task.tenant_id, a,
        "the row belongs to the connection's tenant"
    );
    assert_eq!(task.assignee_id, Some(author));
    assert_eq!(task.status, TaskStatus::Todo, "the column default");

    // Tenant B does not see it; tenant A does.
    let from_b = pool
        .with_tenant(&TenantContext::new(b), async |conn| {
            Task::find(conn, task.id).await
        })
        .await;
    assert!(matches!(from_b, Err(Error::NotFound)), "{from_b:?}");
    let from_a = pool
        .with_tenant(&TenantContext::new(a), async |conn| {
            Task::find(conn, task.id).await
        })
        .await
        .expect("find");
    assert_eq!(from_a, task);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_compose_into_keyset_pages() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let t = make_tenant(&pool, "models-pages").await;
    let me = make_user(&pool, t, MemberRole::Member).await;
    let other = make_user(&pool, t, MemberRole::Member).await;
    let ctx = TenantContext::new(t);

    // 7 open tasks of mine, 2 of mine done, 3 open of someone else's.
    let mine: Vec<Task> = pool
        .with_tenant(&ctx, async |conn| {
            let mut mine = Vec::new();
            for i in 0..12 {
                let (assignee, status) = match i {
                    0..7 => (me, TaskStatus::Todo),
                    7..9 => (me, TaskStatus::Done),
                    _ => (other, TaskStatus::Todo),
                };
                let task = NewTask::builder()
                    .title(format!("task {i}"))
                    .assignee_id(assignee)
                    .status(status)
                    .build()
                    .insert(conn)
                    .await?;
                if assignee == me && status == TaskStatus::Todo {
                    mine.push(task);
                }
            }
            Ok(mine)
        })
        .await
        .expect("insert");

    let page = |after: Option<TaskCursor>| {
        let pool = &pool;
        let ctx = &ctx;
        async move {
            pool.with_tenant(ctx, async |conn| {
                let mut query = tasks::table
                    .filter(filters::task_status_is(TaskStatus::Todo))
                    .filter(filters::task_assigned_to(me))
                    .order_by(filters::tasks_newest_first())
                    .limit(3)
                    .select(Task::as_select())
                    .into_boxed();
                if let Some(cursor) = after {
                    query = query.filter(filters::tasks_after(cursor));
                }
                Ok(query.load::<Task>(conn).await?)
            })
            .await
            .expect("page")
        }
    };
    let mut seen = Vec::new();
    let mut after = None;
    let mut sizes = Vec::new();
    loop {
        let rows = page(after).await;
        if rows.is_empty() {
            break;
        }
        sizes.push(rows.len());
        after = rows.last().map(TaskCursor::from);
        seen.extend(rows);
    }
    assert_eq!(sizes, vec![3, 3, 1]);
    let mut expected = mine.clone();
    expected.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
    assert_eq!(
        seen.iter().map(|t| t.id).collect::<Vec<_>>(),
        expected.iter().map(|t| t.id).collect::<Vec<_>>(),
        "every open task of mine once, newest first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_created_changed_and_deleted_through_the_admin_path() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let admin = db.admin_pool(1).expect("admin pool");

    let tenant = admin
        .as_admin("test: create a tenant", async |conn| {
            NewTenant::builder()
                .slug("models-admin")
                .name("Models Admin")
                .plan(TenantPlan::Pro)
                .build()
                .insert(conn)
                .await
        })
        .await
        .expect("create");
    assert_eq!(tenant.plan, TenantPlan::Pro);

    // The tenant reads its own row.
    let ctx = TenantContext::new(tenant.id);
    let own = pool
        .with_tenant(&ctx, async |conn| Tenant::current(conn).await)
        .await
        .expect("current");
    assert_eq!(own.id, tenant.id);
    let task = pool
        .with_tenant(&ctx, async |conn| {
            NewTask::builder().title("x").build().insert(conn).await
        })
        .await
        .expect("task");

    let renamed = admin
        .as_admin("test: rename a tenant", async |conn| {
            TenantChanges {
                name: Some("Renamed".into()),
                ..Default::default()
            }
            .apply(conn, tenant.id)
            .await
        })
        .await
        .expect("rename");
    assert_eq!(renamed.name, "Renamed");

    let deleted = admin
        .as_admin("test: delete a tenant", async |conn| {
            Tenant::delete(conn, tenant.id).await
        })
        .await
        .expect("delete");
    assert!(deleted);
    let gone = admin
        .as_admin("test: look for the tenant's task", async |conn| {
            Ok(tasks::table
                .filter(diesel::ExpressionMethods::eq(tasks::id, task.id))
                .count()
                .get_result::<i64>(conn)
                .await?)
        })
        .await
        .expect("count");
    assert_eq!(gone, 0, "the tenant's rows went with it");
}
