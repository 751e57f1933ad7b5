//! The tenant boundary holds against SQL inside the transaction.
//!
//! Each attack runs as the application login (a member of `rowguard_app` only, the
//! recommended setup) through the pool, from inside `with_tenant`, with an ordinary
//! `diesel::sql_query`, as a bug or an injected statement would. Each must be refused
//! with an error, or be left without effect, and the next transaction on the same
//! (single) pooled connection must start clean: its own tenant's rows, nobody else's,
//! and its own role tier.
//!
//! Also here: the tenant pool refuses a login that could bypass RLS (and serves one
//! with the opt-out, warning), a closure cannot switch off the statement cache or run
//! `batch_execute`, and the statement-cache-off mode gives correct rows in every
//! transaction shape.

use diesel::sql_types::Text;
use diesel::{QueryDsl, QueryableByName};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use rowguard::pool::TenantPool;
use rowguard::{Error, MemberRole, TenantContext, TenantId};
use rowguard_testkit::fixtures::N;
use rowguard_testkit::fixtures::{count, exec, make_tenant, make_user};
use rowguard_testkit::server::TestDatabase;

/// A pool of one connection, two tenants with one task each, and a viewer of `a`.
async fn setup(db: &TestDatabase) -> (TenantPool, TenantId, TenantId, TenantContext) {
    let pool = db.app_pool(1).expect("pool");
    let a = make_tenant(&pool, &format!("a-{}", uuid::Uuid::now_v7())).await;
    let b = make_tenant(&pool, &format!("b-{}", uuid::Uuid::now_v7())).await;
    for t in [a, b] {
        pool.with_tenant(&TenantContext::new(t), async |conn| {
            exec(
                conn,
                "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), 'mine')",
            )
            .await
        })
        .await
        .expect("seed a task");
    }
    let viewer = make_user(&pool, a, MemberRole::Viewer).await;
    (
        pool,
        a,
        b,
        TenantContext::new(a).with_user(viewer, MemberRole::Viewer),
    )
}

/// The next transaction on the (only) connection: as `a`'s viewer it sees exactly
/// `a`'s one task, none of `b`'s, and still cannot write.
async fn next_transaction_is_clean(pool: &TenantPool, viewer: &TenantContext, b: TenantId) {
    let (mine, theirs, write) = pool
        .with_tenant(viewer, async |conn| {
            let mine = count(conn, "tasks").await?;
            let theirs = diesel::sql_query("SELECT count(*) AS n FROM tasks WHERE tenant_id = $1")
                .bind::<diesel::sql_types::Uuid, _>(b.as_uuid())
                .get_result::<N>(conn)
                .await?
                .n;
            // A viewer's DELETE deletes none of its tenant's rows (the role tier hides
            // them from DELETE): the tier still holds.
            let write = exec(conn, "DELETE FROM tasks").await?;
            Ok((mine, theirs, write))
        })
        .await
        .expect("the next transaction runs");
    assert_eq!((mine, theirs, write), (1, 0, 0));
}

/// Runs `attack` (statements, in order, each allowed to fail) and then reads
/// everything; returns the read's outcome.
async fn attack(pool: &TenantPool, ctx: &TenantContext, statements: &[&str]) -> Result<i64, Error> {
    pool.with_tenant(ctx, async |conn| {
        for sql in statements {
            exec(conn, sql).await?;
        }
        count(conn, "tasks").await
    })
    .await
}

#[tokio::test]
async fn raising_the_role_is_refused() {
    let db = TestDatabase::new().expect("db");
    let (pool, _a, b, viewer) = setup(&db).await;
    for statements in [
        &["SET LOCAL ROLE rowguard_admin"][..],
        &["SET ROLE rowguard_admin"],
        &["SET ROLE postgres"],
        &["SET SESSION AUTHORIZATION postgres"],
        &["SELECT set_config('role', 'rowguard_admin', false)"],
        &["SET row_security = off"],
        &["ALTER TABLE tasks DISABLE ROW LEVEL SECURITY"],
        &["ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY"],
        &["DROP POLICY tenant_isolation ON tasks"],
        &["CREATE POLICY open ON tasks USING (true)"],
        &["ALTER POLICY tenant_isolation ON tasks USING (true)"],
        &["DISCARD ALL"],
        &["CREATE TEMP TABLE tasks (id uuid, tenant_id uuid, title text)"],
        &["GRANT rowguard_admin TO CURRENT_USER"],
    ] {
        let outcome = attack(&pool, &viewer, statements).await;
        assert!(
            outcome.is_err(),
            "{statements:?} was not refused: {outcome:?}"
        );
        next_transaction_is_clean(&pool, &viewer, b).await;
    }
}

#[tokio::test]
async fn a_context_set_inside_the_transaction_is_refused() {
    let db = TestDatabase::new().expect("db");
    let (pool, a, b, viewer) = setup(&db).await;
    let other = format!("v1.1.{b}...9999999999.{}", "0".repeat(64));
    let owner = format!(
        "v1.1.{a}.{}.owner.9999999999.{}",
        viewer.user_id.expect("user"),
        "0".repeat(64)
    );
    for (what, setting) in [
        (
            "another tenant, transaction-local",
            format!("SELECT set_config('app.context', '{other}', true)"),
        ),
        (
            "another tenant, session-wide",
            format!("SELECT set_config('app.context', '{other}', false)"),
        ),
        (
            "a raised role",
            format!("SELECT set_config('app.context', '{owner}', true)"),
        ),
        (
            "nothing",
            "SELECT set_config('app.context', '', true)".to_owned(),
        ),
        ("garbage", "SET LOCAL app.context = 'v1.x'".to_owned()),
        (
            "the unsigned settings of old",
            format!("SELECT set_config('app.tenant_id', '{b}', true)"),
        ),
    ] {
        let outcome = attack(&pool, &viewer, &[setting.as_str()]).await;
        match (what, &outcome) {
            // The old settings are no longer read: the transaction stays its own.
            ("the unsigned settings of old", Ok(1)) => {}
            (_, Err(Error::Forbidden(m))) if m.contains("rowguard") => {}
            _ => panic!("{what}: expected a 42501 refusal, got {outcome:?}"),
        }
        next_transaction_is_clean(&pool, &viewer, b).await;
    }
    // A copy of a genuine context of the same tenant, but for the owner role, cannot
    // be made without the key: tampering with one field breaks the signature.
    let genuine: String = pool
        .with_tenant(&viewer, async |conn| {
            #[derive(QueryableByName)]
            struct S {
                #[diesel(sql_type = Text)]
                s: String,
            }
            Ok(
                diesel::sql_query("SELECT current_setting('app.context') AS s")
                    .get_result::<S>(conn)
                    .await?
                    .s,
            )
        })
        .await
        .expect("read own context");
    let tampered = genuine.replace(".viewer.", ".owner.");
    assert_ne!(tampered, genuine);
    let outcome = attack(
        &pool,
        &viewer,
        &[&format!(
            "SELECT set_config('app.context', '{tampered}', true)"
        )],
    )
    .await;
    assert!(matches!(outcome, Err(Error::Forbidden(_))), "{outcome:?}");
    next_transaction_is_clean(&pool, &viewer, b).await;
}

#[tokio::test]
async fn session_settings_left_behind_do_not_reach_the_next_transaction() {
    let db = TestDatabase::new().expect("db");
    let (pool, _a, b, viewer) = setup(&db).await;
    // Statements that succeed: they change session state that would outlive the
    // transaction if the pool relied on it.
    let outcome = attack(
        &pool,
        &viewer,
        &[
            "SET SESSION statement_timeout = 0",
            "RESET ROLE",
            "SELECT set_config('app.role', 'owner', false)",
            "SELECT set_config('app.user_id', '', false)",
        ],
    )
    .await;
    assert_eq!(outcome.expect("harmless statements run"), 1);
    next_transaction_is_clean(&pool, &viewer, b).await;
}

#[tokio::test]
async fn a_deallocate_inside_the_transaction_makes_the_pool_replace_the_connection() {
    let db = TestDatabase::new().expect("db");
    let (pool, _a, b, viewer) = setup(&db).await;
    // The statement itself succeeds, and drops the prepared context statement that the
    // connection's cache still lists: the pool must not use that connection again.
    let outcome = attack(&pool, &viewer, &["DEALLOCATE ALL"]).await;
    assert_eq!(outcome.expect("DEALLOCATE runs"), 1);
    next_transaction_is_clean(&pool, &viewer, b).await;
    next_transaction_is_clean(&pool, &viewer, b).await;
}

#[tokio::test]
async fn a_closure_cannot_batch_execute() {
    let db = TestDatabase::new().expect("db");
    let (pool, _a, b, viewer) = setup(&db).await;
    let outcome = pool
        .with_tenant(&viewer, async |conn| {
            Ok(conn
                .batch_execute("SET LOCAL ROLE rowguard_admin; SELECT 1")
                .await?)
        })
        .await;
    assert!(
        matches!(&outcome, Err(Error::Database(e)) if e.to_string().contains("batch_execute")),
        "{outcome:?}"
    );
    next_transaction_is_clean(&pool, &viewer, b).await;
}

#[tokio::test]
async fn a_pool_whose_key_the_database_does_not_accept_refuses_to_serve() {
    let db = TestDatabase::new().expect("db");
    let (stranger, _) = rowguard::context::ContextKey::generate(977).expect("key");
    let pool = rowguard::pool::PoolConfig::new(db.url_app())
        .context_key(stranger)
        .max_size(1)
        .build()
        .expect("pool");
    // Refused before any statement of the closure runs, whatever the closure reads
    // (here nothing, where a bad key used to read as an empty result).
    let ran = std::sync::atomic::AtomicBool::new(false);
    let err = pool
        .with_tenant(&TenantContext::new(TenantId::new_v7()), async |_conn| {
            std::sync::atomic::AtomicBool::store(&ran, true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
        .await
        .expect_err("a key the database does not know");
    assert!(
        matches!(&err, Error::Config(m) if m.contains("context key 977") && m.contains("unknown or retired key 977")),
        "{err:?}"
    );
    assert!(!std::sync::atomic::AtomicBool::load(
        &ran,
        std::sync::atomic::Ordering::SeqCst
    ));
    // The pool's own key passes the check: the same transaction gets as far as the
    // tenant gate, which refuses a tenant that does not exist.
    let good = db.app_pool(1).expect("pool");
    let err = good
        .with_tenant(
            &TenantContext::new(TenantId::new_v7()),
            async |_conn| Ok(()),
        )
        .await
        .expect_err("no such tenant");
    assert!(matches!(err, Error::UnknownTenant(_)), "{err:?}");
}

#[tokio::test]
async fn the_pool_refuses_a_login_that_could_bypass_rls() {
    let db = TestDatabase::new().expect("db");
    let refusal = async |url: String| {
        let pool = rowguard::pool::PoolConfig::new(url)
            .context_key(db.context_key())
            .max_size(1)
            .build()
            .expect("pool");
        pool.with_tenant(
            &TenantContext::new(TenantId::new_v7()),
            async |_conn| Ok(()),
        )
        .await
        .expect_err("this login must not serve tenants")
    };
    // The admin login (a member of rowguard_admin, BYPASSRLS) as a tenant pool.
    let err = refusal(db.url_admin()).await;
    assert!(
        matches!(&err, Error::UnsafeLogin(m) if m.contains("rowguard_admin") && m.contains("BYPASSRLS")),
        "{err:?}"
    );
    // The owner (a superuser here) likewise.
    let err = refusal(db.url_owner()).await;
    assert!(
        matches!(&err, Error::UnsafeLogin(m) if m.contains("superuser")),
        "{err:?}"
    );
}

/// A `tracing` writer that keeps what was logged.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_opt_out_serves_a_privileged_login_and_warns() {
    let db = TestDatabase::new().expect("db");
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let served = tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let pool = rowguard::pool::PoolConfig::new(db.url_admin())
                .context_key(db.context_key())
                .app_role(None)
                .allow_privileged_login(true)
                .max_size(1)
                .build()
                .expect("pool");
            let tenant = make_tenant(&pool, "privileged-login").await;
            pool.with_tenant(&TenantContext::new(tenant), async |conn| {
                count(conn, "tasks").await
            })
            .await
        })
    });
    assert!(served.is_ok(), "{served:?}");
    let text = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    assert!(
        text.contains("WARN")
            && text.contains("allow_privileged_login")
            && text.contains("BYPASSRLS"),
        "{text}"
    );
}

#[tokio::test]
async fn with_the_statement_cache_off_every_shape_returns_correct_rows() {
    let db = TestDatabase::new().expect("db");
    let (setup_pool, a, b, viewer) = setup(&db).await;
    drop(setup_pool);
    let pool = db
        .app_pool_config()
        .statement_cache(false)
        .max_size(1)
        .build()
        .expect("cache-off pool");
    let admin = rowguard_testkit::fixtures::admin_for(&pool);
    for _ in 0..3 {
        for (ctx, mine) in [
            (TenantContext::new(a), 1),
            (viewer, 1),
            (TenantContext::new(b), 1),
        ] {
            let n = pool
                .with_tenant(&ctx, async |conn| {
                    Ok(rowguard::schema::tasks::table
                        .count()
                        .get_result::<i64>(conn)
                        .await?)
                })
                .await
                .expect("with_tenant");
            assert_eq!(n, mine);
            let n: Vec<i64> = pool
                .fetch(&ctx, rowguard::schema::tasks::table.count())
                .await
                .expect("fetch");
            assert_eq!(n, vec![mine]);
            let titles: Vec<String> = pool
                .fetch(
                    &ctx,
                    rowguard::schema::tasks::table
                        .select(rowguard::schema::tasks::title)
                        .into_boxed(),
                )
                .await
                .expect("fetch boxed");
            assert_eq!(titles, vec!["mine".to_owned()]);
        }
        let all = admin
            .as_admin("cache-off test", async |conn| {
                Ok(rowguard::schema::tasks::table
                    .count()
                    .get_result::<i64>(conn)
                    .await?)
            })
            .await
            .expect("as_admin");
        assert_eq!(all, 2);
    }
}

#[tokio::test]
async fn the_closure_sees_its_context() {
    let db = TestDatabase::new().expect("db");
    let (pool, _a, _b, viewer) = setup(&db).await;
    let seen = pool
        .with_tenant(&viewer, async |conn| Ok(*conn.context()))
        .await
        .expect("context");
    assert_eq!(seen, viewer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_their_sqlstate_in_a_spawned_task_and_in_the_sync_twin() {
    let db = TestDatabase::new().expect("db");
    let (pool, _a, _b, viewer) = setup(&db).await;
    const WRITE: &str =
        "INSERT INTO tasks (tenant_id, title) VALUES (rowguard.current_tenant_id(), 'no')";
    // A viewer's write fails with 42501; the closure converts the diesel error in a
    // task of its own.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = std::sync::Arc::clone(&slot);
    let _ = pool
        .with_tenant(&viewer, async move |conn| {
            let raw = diesel::sql_query(WRITE)
                .execute(conn)
                .await
                .expect_err("a viewer may not write");
            let converted = tokio::spawn(async move { Error::from(raw) })
                .await
                .expect("task");
            *seen.lock().expect("slot") = Some(converted);
            Ok(())
        })
        .await;
    let converted = slot.lock().expect("slot").take();
    assert!(
        matches!(converted, Some(Error::Forbidden(_))),
        "{converted:?}"
    );
    // The sync twin, on its own thread.
    let url = db.url_app();
    let key = db.context_key();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut conn = rowguard::tenant::SyncConnection::establish(&url)?;
        rowguard::tenant::with_tenant_sync(&mut conn, &key, Some("rowguard_app"), &viewer, |conn| {
            Ok(diesel::RunQueryDsl::execute(
                diesel::sql_query(WRITE),
                &mut **conn,
            )?)
        })
    })
    .await
    .expect("blocking task");
    assert!(matches!(outcome, Err(Error::Forbidden(_))), "{outcome:?}");
}
