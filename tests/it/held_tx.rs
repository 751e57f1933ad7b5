//! A tenant transaction its caller holds (`TenantPool::begin`, `TenantTx`), as a web
//! request uses one:
//!
//! - it commits on `commit`, and rolls back on `rollback` and when dropped (a cancelled
//!   request), leaving the pool working;
//! - it acts for its context only, and SQL inside it cannot leave the tenant;
//! - a statement that failed inside it makes `commit` fail, never report success;
//! - a suspended tenant's transaction fails with `TenantSuspended`, at its first
//!   statement or at its commit, and writes nothing.

use std::time::Duration;

use rowguard::{control, Error, TenantContext};
use rowguard_testkit::fixtures::{count, exec, make_tenant};
use rowguard_testkit::server::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_rollback_and_drop() {
    let db = TestDatabase::new().expect("db");
    // One connection: every step below reuses or replaces the same one.
    let pool = db.app_pool(1).expect("pool");
    let t = TenantContext::new(make_tenant(&pool, "held").await);
    let insert = "INSERT INTO tasks (tenant_id, title) VALUES ((SELECT rowguard.current_tenant_id()), 'held')";

    let mut tx = pool.begin(&t).await.expect("begin");
    assert_eq!(tx.context(), &t);
    exec(tx.conn(), insert).await.expect("insert");
    assert_eq!(
        count(tx.conn(), "tasks").await.expect("count"),
        1,
        "its own write"
    );
    tx.commit().await.expect("commit");

    let mut tx = pool.begin(&t).await.expect("begin");
    exec(tx.conn(), insert).await.expect("insert");
    tx.rollback().await.expect("rollback");

    let mut tx = pool.begin(&t).await.expect("begin");
    exec(tx.conn(), insert).await.expect("insert");
    drop(tx);

    // A request cancelled mid-transaction: the future holding it is dropped.
    let cancelled = tokio::time::timeout(Duration::from_millis(200), async {
        let mut tx = pool.begin(&t).await.expect("begin");
        exec(tx.conn(), insert).await.expect("insert");
        std::future::pending::<()>().await;
    })
    .await;
    assert!(cancelled.is_err());

    // Only the committed row is there, and the one connection still serves.
    let n = pool
        .with_tenant(&t, async |conn| count(conn, "tasks").await)
        .await
        .expect("count");
    assert_eq!(n, 1);
    let (open, idle) = pool.state();
    assert!(open <= 1 && idle <= 1, "({open}, {idle})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_acts_for_its_tenant_only_and_a_failed_statement_fails_the_commit() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let a = TenantContext::new(make_tenant(&pool, "held-a").await);
    let b = TenantContext::new(make_tenant(&pool, "held-b").await);
    for ctx in [&a, &b] {
        pool.with_tenant(ctx, async |conn| {
            exec(conn, "INSERT INTO tasks (tenant_id, title) VALUES ((SELECT rowguard.current_tenant_id()), 'mine')").await
        })
        .await
        .expect("seed");
    }

    let mut tx = pool.begin(&a).await.expect("begin");
    assert_eq!(count(tx.conn(), "tasks").await.expect("count"), 1);
    // Forging the context for B: the next statement is refused, and so is the commit.
    exec(
        tx.conn(),
        &format!(
            "SELECT set_config('app.context', replace(current_setting('app.context'), '{}', '{}'), true)",
            a.tenant_id, b.tenant_id
        ),
    )
    .await
    .expect("set_config itself runs");
    let refused = count(tx.conn(), "tasks").await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let committed = tx.commit().await;
    assert!(
        committed.is_err(),
        "a failed transaction does not commit: {committed:?}"
    );

    // A write that fails, caught and ignored by the caller, still fails the commit.
    let mut tx = pool.begin(&a).await.expect("begin");
    exec(tx.conn(), "INSERT INTO tasks (tenant_id, title) VALUES ((SELECT rowguard.current_tenant_id()), 'kept?')")
        .await
        .expect("insert");
    let planted = exec(
        tx.conn(),
        &format!(
            "INSERT INTO tasks (tenant_id, title) VALUES ('{}', 'planted')",
            b.tenant_id
        ),
    )
    .await;
    assert!(matches!(planted, Err(Error::Forbidden(_))), "{planted:?}");
    assert!(tx.commit().await.is_err());
    for ctx in [&a, &b] {
        let n = pool
            .with_tenant(ctx, async |conn| count(conn, "tasks").await)
            .await
            .expect("count");
        assert_eq!(n, 1, "nothing of the failed transactions committed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenant_s_transaction_fails_with_its_typed_error() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let admin = db.admin_pool(1).expect("admin");
    let t = TenantContext::new(make_tenant(&pool, "held-suspended").await);
    control::suspend(&admin, t.tenant_id)
        .await
        .expect("suspend");

    match pool.begin(&t).await {
        // With the statement cache off, the opening is awaited and refused at once.
        Err(e) => assert!(matches!(e, Error::TenantSuspended(_)), "{e:?}"),
        // With it on (the default), the opening went out unanswered: the first
        // statement fails, and the commit says why.
        Ok(mut tx) => {
            let first = count(tx.conn(), "tasks").await;
            assert!(first.is_err(), "{first:?}");
            let committed = tx.commit().await;
            assert!(
                matches!(committed, Err(Error::TenantSuspended(_))),
                "{committed:?}"
            );
        }
    }
}
