//! Behaviour under failure, acting as the application login role (the owner
//! connection only kills backends):
//! - a statement past `statement_timeout` gives `Error::StatementTimeout`, rolls back,
//!   and the pool keeps serving;
//! - a backend killed with `pg_terminate_backend` mid-transaction gives the caller
//!   `Error::ConnectionLost`, and one killed while idle in the pool is never handed
//!   out once the client has seen its socket close: the very next `with_tenant`
//!   succeeds, with no manual step (one that races the close fails as transient,
//!   committing nothing);
//! - a context statement that fails (the login may not act as the configured role)
//!   fails the transaction with that error, typed, though the closure's statement was
//!   pipelined behind it;
//! - a server restart (on a cluster of the test's own, `LocalCluster::start_owned`)
//!   fails the transaction in flight with `ConnectionLost`, and the first transaction
//!   after it succeeds; while the server is down a checkout reports `ConnectionLost`,
//!   not `PoolTimeout`;
//! - a pool whose connections are all busy gives `Error::PoolTimeout` after the
//!   checkout timeout;
//! - unique and foreign-key violations carry the constraint name, RLS rejections are
//!   `Error::Forbidden`, check violations and missing rows are typed too.

use std::time::{Duration, Instant};

use diesel::sql_types::{Integer, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use rowguard::pool::{PoolConfig, TenantPool};
use rowguard::{Error, TenantContext};
use rowguard_testkit::fixtures::{count, exec, make_tenant};
use rowguard_testkit::server::{LocalCluster, TestDatabase};

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

async fn backend_pid<C>(conn: &mut C) -> rowguard::Result<i32>
where
    C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg>,
{
    let p: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(conn)
        .await?;
    Ok(p.pid)
}

fn terminate(db: &TestDatabase, pid: i32) {
    let mut owner = db.owner_conn().expect("owner");
    diesel::RunQueryDsl::execute(
        diesel::sql_query("SELECT pg_terminate_backend($1, 5000)").bind::<Integer, _>(pid),
        &mut owner,
    )
    .expect("terminate");
}

const NEW_TASK: &str =
    "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), 'task')";

async fn tasks(pool: &TenantPool, ctx: &TenantContext) -> i64 {
    pool.with_tenant(ctx, async |conn| count(conn, "tasks").await)
        .await
        .expect("count tasks")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_is_typed_rolls_back_and_the_pool_keeps_serving() {
    let db = TestDatabase::new().expect("db");
    let pool = db
        .app_pool_config()
        .max_size(1)
        .statement_timeout(Some(Duration::from_millis(100)))
        .build()
        .expect("pool");
    let ctx = TenantContext::new(make_tenant(&pool, "slow").await);

    let started = Instant::now();
    let err = pool
        .with_tenant(&ctx, async |conn| {
            exec(conn, NEW_TASK).await?;
            exec(conn, "SELECT pg_sleep(2)").await
        })
        .await
        .expect_err("must time out");
    assert!(matches!(err, Error::StatementTimeout), "got {err:?}");
    // Well under the statement's 2 s: cancelled at 100 ms (the rest is room for a busy
    // machine).
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(1500),
        "cancelled at 100 ms, returned after {elapsed:?}"
    );
    assert_eq!(tasks(&pool, &ctx).await, 0, "the insert rolled back");
    pool.with_tenant(&ctx, async |conn| exec(conn, NEW_TASK).await)
        .await
        .expect("the pool keeps serving");
    assert_eq!(tasks(&pool, &ctx).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_backend_gives_connection_lost_and_the_pool_recovers_by_itself() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let ctx = TenantContext::new(make_tenant(&pool, "killed").await);

    // Killed mid-transaction: the caller gets ConnectionLost and nothing commits.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task_pool = pool.clone();
    let victim = tokio::spawn(async move {
        task_pool
            .with_tenant(&ctx, async |conn| {
                exec(conn, NEW_TASK).await?;
                let _ = tx.send(backend_pid(conn).await?);
                exec(conn, "SELECT pg_sleep(10)").await
            })
            .await
    });
    let pid = rx.await.expect("pid");
    terminate(&db, pid);
    let err = victim.await.expect("join").expect_err("killed");
    assert!(matches!(err, Error::ConnectionLost(_)), "got {err:?}");
    assert!(err.is_transient());

    // The next transaction succeeds, on a new backend.
    let next = pool
        .with_tenant(&ctx, async |conn| backend_pid(conn).await)
        .await
        .expect("the pool recovers without a manual step");
    assert_ne!(next, pid);
    assert_eq!(
        tasks(&pool, &ctx).await,
        0,
        "the killed transaction did not commit"
    );

    // Killed while idle in the pool: never handed out, the next call just works.
    for _ in 0..3 {
        let idle = pool
            .with_tenant(&ctx, async |conn| backend_pid(conn).await)
            .await
            .expect("pid");
        terminate(&db, idle);
        let fresh = pool
            .with_tenant(&ctx, async |conn| backend_pid(conn).await)
            .await
            .expect("a dead idle connection is skipped");
        assert_ne!(fresh, idle);
    }
    // The same without giving the client time to notice the closed socket.
    let idle = pool
        .with_tenant(&ctx, async |conn| backend_pid(conn).await)
        .await
        .expect("pid");
    let mut owner = db.owner_conn().expect("owner");
    diesel::RunQueryDsl::execute(
        diesel::sql_query("SELECT pg_terminate_backend($1)").bind::<Integer, _>(idle),
        &mut owner,
    )
    .expect("terminate without waiting");
    // The transaction is pipelined with its opening, so whether it meets the dead
    // connection depends on the race with the socket's close: it either ran on a
    // fresh connection, or failed as transient (committing nothing), and then the
    // next one does.
    let first = pool
        .with_tenant(&ctx, async |conn| exec(conn, NEW_TASK).await)
        .await;
    match first {
        Ok(_) => {}
        Err(e) => {
            assert!(e.is_transient(), "a dead connection is transient: {e:?}");
            assert_eq!(tasks(&pool, &ctx).await, 0, "nothing committed");
            pool.with_tenant(&ctx, async |conn| exec(conn, NEW_TASK).await)
                .await
                .expect("the next transaction gets a fresh connection");
        }
    }
    assert_eq!(tasks(&pool, &ctx).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_fails_the_transaction_in_flight_and_the_next_one_succeeds() {
    let cluster = LocalCluster::start_owned().expect("own cluster");
    let url = cluster.migrated_database("restart").expect("migrated");
    let mut owner =
        diesel::Connection::establish(&cluster.server().database_url("restart")).expect("owner");
    let pool = PoolConfig::new(&url)
        .context_key(rowguard_testkit::server::context_key(&mut owner).expect("key"))
        .max_size(2)
        .checkout_timeout(Duration::from_secs(10))
        .build()
        .expect("pool");
    let ctx = TenantContext::new(make_tenant(&pool, "restarted").await);
    // Two connections open and idle in the pool.
    let (a, b) = tokio::join!(
        pool.with_tenant(&ctx, async |conn| {
            exec(conn, "SELECT pg_sleep(0.1)").await?;
            backend_pid(conn).await
        }),
        pool.with_tenant(&ctx, async |conn| {
            exec(conn, "SELECT pg_sleep(0.1)").await?;
            backend_pid(conn).await
        }),
    );
    assert_ne!(a.expect("a"), b.expect("b"));
    assert_eq!(pool.state().0, 2);

    let (tx, rx) = tokio::sync::oneshot::channel();
    let task_pool = pool.clone();
    let in_flight = tokio::spawn(async move {
        task_pool
            .with_tenant(&ctx, async |conn| {
                exec(conn, NEW_TASK).await?;
                let _ = tx.send(());
                exec(conn, "SELECT pg_sleep(30)").await
            })
            .await
    });
    rx.await.expect("in flight");
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart().expect("restart");
        cluster
    })
    .await
    .expect("join");
    let err = in_flight.await.expect("join").expect_err("restarted");
    assert!(matches!(err, Error::ConnectionLost(_)), "got {err:?}");

    // Every pooled connection died with the server; the first call after the restart
    // still succeeds, and so do the ones after it.
    for _ in 0..4 {
        pool.with_tenant(&ctx, async |conn| exec(conn, NEW_TASK).await)
            .await
            .expect("the pool recovers by itself after a restart");
    }
    assert_eq!(tasks(&pool, &ctx).await, 4, "the in-flight insert was lost");

    // While the server is down, a checkout says the server is unreachable.
    let short = PoolConfig::new(&url)
        .context_key(pool.config().context_key.clone().expect("key"))
        .max_size(1)
        .checkout_timeout(Duration::from_millis(300))
        .build()
        .expect("pool");
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().expect("stop");
        cluster
    })
    .await
    .expect("join");
    let err = short
        .with_tenant(&ctx, async |conn| exec(conn, "SELECT 1").await)
        .await
        .expect_err("server down");
    assert!(matches!(err, Error::ConnectionLost(_)), "got {err:?}");
    assert!(err.is_transient());
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start().expect("start");
        cluster
    })
    .await
    .expect("join");
    for p in [&short, &pool] {
        p.with_tenant(&ctx, async |conn| exec(conn, "SELECT 1").await)
            .await
            .expect("back up");
    }
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_pool_gives_pool_timeout() {
    let db = TestDatabase::new().expect("db");
    let pool = db
        .app_pool_config()
        .max_size(1)
        .checkout_timeout(Duration::from_millis(100))
        .build()
        .expect("pool");
    let ctx = TenantContext::new(make_tenant(&pool, "busy").await);

    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let holder_pool = pool.clone();
    let holder = tokio::spawn(async move {
        holder_pool
            .with_tenant(&ctx, async |_conn| {
                let _ = held_tx.send(());
                let _ = release_rx.await;
                Ok(())
            })
            .await
    });
    held_rx.await.expect("held");
    let started = Instant::now();
    let err = pool
        .with_tenant(&ctx, async |conn| exec(conn, "SELECT 1").await)
        .await
        .expect_err("no free connection");
    let waited = started.elapsed();
    assert!(
        matches!(err, Error::PoolTimeout(d) if d == Duration::from_millis(100)),
        "got {err:?}"
    );
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_secs(2),
        "waited {waited:?}"
    );
    let _ = release_tx.send(());
    holder.await.expect("join").expect("holder commits");
    pool.with_tenant(&ctx, async |conn| exec(conn, "SELECT 1").await)
        .await
        .expect("free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_errors_are_typed_with_their_constraint() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let a = make_tenant(&pool, "errors-a").await;
    let b = make_tenant(&pool, "errors-b").await;
    let ctx = TenantContext::new(a);
    let run = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            pool.with_tenant(&ctx, async |conn| exec(conn, sql).await)
                .await
        }
    };

    let slack = "INSERT INTO integrations (tenant_id, provider) \
                 VALUES (rowguard.current_tenant_id(), 'slack')";
    run(slack).await.expect("first");
    match run(slack).await {
        Err(Error::UniqueViolation { constraint }) => {
            assert_eq!(constraint, "integrations_tenant_provider_key")
        }
        other => panic!("expected UniqueViolation, got {other:?}"),
    }

    match run("INSERT INTO tasks (tenant_id, title, assignee_id) \
         VALUES (rowguard.current_tenant_id(), 'orphan', gen_random_uuid())")
    .await
    {
        Err(Error::ForeignKeyViolation { constraint }) => {
            assert_eq!(constraint, "tasks_tenant_id_assignee_id_fkey")
        }
        other => panic!("expected ForeignKeyViolation, got {other:?}"),
    }

    match run("INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), ' ')")
        .await
    {
        Err(Error::CheckViolation { constraint }) => {
            assert_eq!(constraint, "tasks_title_not_blank")
        }
        other => panic!("expected CheckViolation, got {other:?}"),
    }

    // RLS WITH CHECK: a row for another tenant.
    let smuggled = pool
        .with_tenant(&ctx, async |conn| {
            Ok(
                diesel::sql_query("INSERT INTO tasks (tenant_id, title) VALUES ($1, 'x')")
                    .bind::<SqlUuid, _>(b.as_uuid())
                    .execute(conn)
                    .await?,
            )
        })
        .await;
    assert!(
        matches!(smuggled, Err(Error::Forbidden(_))),
        "got {smuggled:?}"
    );
    // A missing grant (audit_log is append-only) is Forbidden too.
    assert!(matches!(
        run("DELETE FROM audit_log").await,
        Err(Error::Forbidden(_))
    ));
    // A row that is not there (here: another tenant's) is NotFound.
    let missing = pool
        .with_tenant(&ctx, async |conn| {
            let p: Pid = diesel::sql_query("SELECT 1 AS pid FROM tenants WHERE id = $1")
                .bind::<SqlUuid, _>(b.as_uuid())
                .get_result(conn)
                .await?;
            Ok(p.pid)
        })
        .await;
    assert!(matches!(missing, Err(Error::NotFound)), "got {missing:?}");
    // Malformed input never reaches the database.
    assert!(matches!(
        "not-a-uuid".parse::<rowguard::TenantId>(),
        Err(Error::InvalidInput(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_that_cannot_be_set_fails_the_transaction_with_its_own_error() {
    let db = TestDatabase::new().expect("db");
    let setup = db.app_pool(1).expect("pool");
    let ctx = TenantContext::new(make_tenant(&setup, "alpha").await);
    // The login is no member of pg_monitor, so the context statement's
    // `set_config('role', 'pg_monitor', true)` fails (42501). It went out pipelined
    // with the closure's first statement, which then failed too ("current transaction
    // is aborted"): the caller must get the first error, typed, and nothing commits.
    let pool = db
        .app_pool_config()
        .max_size(1)
        .app_role(Some("pg_monitor"))
        .build()
        .expect("pool");
    for runs_a_statement in [true, false, true] {
        let result = pool
            .with_tenant(&ctx, async |conn| {
                if runs_a_statement {
                    exec(conn, NEW_TASK).await?;
                }
                Ok(())
            })
            .await;
        assert!(
            matches!(result, Err(Error::Forbidden(ref m)) if m.contains("pg_monitor")),
            "statement: {runs_a_statement}: {result:?}"
        );
    }
    assert_eq!(tasks(&setup, &ctx).await, 0);
}
