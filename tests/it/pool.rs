//! The tenant-scoped transaction wrapper: the context exists only inside its
//! transaction, never lingers on a pooled connection, commits on `Ok`, rolls back on
//! `Err`, and the pool stays clean after cancelled futures and panics.

use std::time::Duration;

use diesel::sql_types::{Integer, Text};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use rowguard::pool::{PoolConfig, Prepared, TenantPool};
use rowguard::schema::{tenants, users};
use rowguard::TenantContext;
use rowguard_testkit::fixtures::N;
use rowguard_testkit::fixtures::{make_tenant, make_user};
use rowguard_testkit::server::TestDatabase;

async fn tenant_names(pool: &TenantPool, ctx: &TenantContext) -> Vec<String> {
    pool.with_tenant(ctx, async |conn| {
        Ok(tenants::table.select(tenants::name).load(conn).await?)
    })
    .await
    .expect("list tenants")
}

/// What a pooled connection carries between transactions: its backend pid, whether it
/// is inside a transaction block, its app.context, and how many tenants rows it sees.
#[derive(Debug)]
struct Idle {
    pid: i32,
    in_transaction: bool,
    tenant_setting: String,
    visible_tenants: i64,
}

#[derive(diesel::QueryableByName)]
struct IdleRow {
    #[diesel(sql_type = Integer)]
    pid: i32,
    #[diesel(sql_type = Text)]
    tenant_setting: String,
}

async fn idle_state(pool: &TenantPool) -> Idle {
    pool.unscoped_for_tests(async |conn: &mut AsyncPgConnection| {
        // SAVEPOINT fails outside a transaction block (SQLSTATE 25P01): succeeding
        // means the connection was handed out inside someone else's transaction.
        let in_transaction = diesel::sql_query("SAVEPOINT rowguard_probe")
            .execute(conn)
            .await
            .is_ok();
        let row: IdleRow = diesel::sql_query(
            "SELECT pg_backend_pid() AS pid, \
                    coalesce(current_setting('app.context', true), '') AS tenant_setting",
        )
        .get_result(conn)
        .await?;
        // With no context, reading a tenant table is refused (42501): no tenant is
        // visible. A connection that still carried one would count its rows instead.
        let visible_tenants = match diesel::sql_query("SELECT count(*) AS n FROM tenants")
            .get_result::<N>(conn)
            .await
        {
            Ok(c) => c.n,
            Err(e) if e.to_string().contains("no tenant context") => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(Idle {
            pid: row.pid,
            in_transaction,
            tenant_setting: row.tenant_setting,
            visible_tenants,
        })
    })
    .await
    .expect("idle state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_sees_only_itself_and_nothing_lingers_on_the_pooled_connection() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let a = make_tenant(&pool, "alpha").await;
    let b = make_tenant(&pool, "beta").await;
    let before = idle_state(&pool).await;

    assert_eq!(
        tenant_names(&pool, &TenantContext::new(a)).await,
        vec!["alpha"]
    );
    assert_eq!(
        tenant_names(&pool, &TenantContext::new(b)).await,
        vec!["beta"]
    );

    let after = idle_state(&pool).await;
    assert_eq!(
        before.pid, after.pid,
        "the single pooled connection served both tenants"
    );
    assert!(!after.in_transaction);
    assert_eq!(
        after.tenant_setting, "",
        "app.tenant_id lingered after the transaction"
    );
    assert_eq!(
        after.visible_tenants, 0,
        "without a context no tenant row is visible"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_commits_and_err_rolls_back() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let a = make_tenant(&pool, "alpha").await;
    let ctx = TenantContext::new(a);

    let err = pool
        .with_tenant(&ctx, async |conn| {
            diesel::update(tenants::table)
                .set(tenants::name.eq("renamed"))
                .execute(conn)
                .await?;
            Err::<(), _>(rowguard::Error::InvalidInput(
                "caller changed its mind".into(),
            ))
        })
        .await
        .expect_err("closure error is returned");
    assert!(matches!(err, rowguard::Error::InvalidInput(_)));
    assert_eq!(
        tenant_names(&pool, &ctx).await,
        vec!["alpha"],
        "Err must roll back"
    );

    pool.with_tenant(&ctx, async |conn| {
        diesel::update(tenants::table)
            .set(tenants::name.eq("renamed"))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
    .expect("update");
    assert_eq!(
        tenant_names(&pool, &ctx).await,
        vec!["renamed"],
        "Ok must commit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_transaction_never_returns_a_dirty_connection() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let a = make_tenant(&pool, "alpha").await;
    let ctx = TenantContext::new(a);

    for _ in 0..3 {
        let slow = pool.with_tenant(&ctx, async |conn| {
            diesel::update(tenants::table)
                .set(tenants::name.eq("half-done"))
                .execute(conn)
                .await?;
            diesel::sql_query("SELECT pg_sleep(5)")
                .execute(conn)
                .await?;
            Ok(())
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(200), slow)
                .await
                .is_err(),
            "must time out"
        );

        let idle = idle_state(&pool).await;
        assert!(
            !idle.in_transaction,
            "a cancelled transaction was handed out again: {idle:?}"
        );
        assert_eq!(idle.tenant_setting, "");
        assert_eq!(
            tenant_names(&pool, &ctx).await,
            vec!["alpha"],
            "the cancelled update must not commit"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_rolls_back_and_the_pool_keeps_serving() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let a = make_tenant(&pool, "alpha").await;
    let ctx = TenantContext::new(a);

    let task_pool = pool.clone();
    let joined = tokio::spawn(async move {
        task_pool
            .with_tenant(&ctx, async |conn| {
                diesel::update(tenants::table)
                    .set(tenants::name.eq("panicked"))
                    .execute(conn)
                    .await?;
                if conn_is_alive() {
                    // A panic that skips the panic hook: no backtrace of it in the
                    // output, where it could hide a real failure's message.
                    std::panic::resume_unwind(Box::new("handler bug"));
                }
                Ok(())
            })
            .await
    })
    .await;
    assert!(joined.is_err_and(|e| e.is_panic()));

    assert_eq!(
        tenant_names(&pool, &ctx).await,
        vec!["alpha"],
        "the panicked update must not commit"
    );
    let idle = idle_state(&pool).await;
    assert!(!idle.in_transaction);
    assert_eq!(idle.tenant_setting, "");
}

// Keeps the panic reachable-looking to the compiler without a constant condition lint.
fn conn_is_alive() -> bool {
    std::hint::black_box(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_on_a_fresh_connection_runs_a_new_query_inside_its_transaction() {
    let db = TestDatabase::new().expect("db");
    let setup = db.app_pool(1).expect("pool");
    let a = make_tenant(&setup, "alpha").await;
    drop(setup);
    // A new pool: its connection has never seen this query, so the statement still
    // needs a Parse when the transaction is pipelined. It must still run after the
    // context and before COMMIT, and so see the tenant's row.
    for _ in 0..3 {
        let pool = db.app_pool(1).expect("pool");
        let names: Vec<String> = pool
            .fetch(&TenantContext::new(a), tenants::table.select(tenants::name))
            .await
            .expect("fetch");
        assert_eq!(names, vec!["alpha"]);
        let idle = idle_state(&pool).await;
        assert!(!idle.in_transaction && idle.tenant_setting.is_empty());
    }
}

/// Span-close lines written by rowguard's tracing while `f` runs, on this thread.
async fn traced<T>(f: impl std::future::Future<Output = T>) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("rowguard=info")
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    let text = String::from_utf8_lossy(&buffer.0.lock().expect("buffer")).into_owned();
    (out, text)
}

/// For each `fetch` in `log`, whether it took the one-round-trip shape (1) or
/// committed after the result (2).
fn round_trips(log: &str) -> Vec<u32> {
    log.lines()
        .filter_map(|l| l.split("one_round_trip=").nth(1))
        .map(|rest| if rest.starts_with("true") { 1 } else { 2 })
        .collect()
}

// current_thread: the tracing subscriber set for this thread sees every span.
#[tokio::test]
async fn fetch_sends_the_whole_transaction_at_once_once_the_query_is_prepared() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let a = make_tenant(&pool, "alpha").await;
    let b = make_tenant(&pool, "beta").await;
    let ctx_a = TenantContext::new(a);
    let by_slug = |slug: &'static str| {
        tenants::table
            .filter(tenants::slug.eq(slug))
            .select(tenants::name)
    };
    let (names, log) = traced(async {
        let mut seen = Vec::new();
        for slug in ["alpha", "beta", "alpha"] {
            let names: Vec<String> = pool.fetch(&ctx_a, by_slug(slug)).await.expect("fetch");
            seen.push(names);
        }
        seen
    })
    .await;
    // Isolation holds on the one-round-trip path too: beta's row is not alpha's.
    assert_eq!(names, vec![vec!["alpha"], vec![], vec!["alpha"]]);
    assert_eq!(round_trips(&log), vec![2, 1, 1], "{log}");
    let idle = idle_state(&pool).await;
    assert!(!idle.in_transaction && idle.tenant_setting.is_empty());

    // A statement that fails in the one-round-trip shape is typed by its SQLSTATE
    // (2201W, a negative LIMIT), rolls back, and leaves the connection in service:
    // same backend, nothing lingering.
    let pid = idle.pid;
    let limited = |n: i64| tenants::table.select(tenants::name).limit(n);
    let (results, log) = traced(async {
        let mut results = Vec::new();
        for n in [1, -1, 1] {
            results.push(pool.fetch::<_, String, _>(&ctx_a, limited(n)).await);
        }
        results
    })
    .await;
    assert_eq!(round_trips(&log), vec![2, 1, 1], "{log}");
    assert!(
        matches!(results[1], Err(rowguard::Error::InvalidInput(_))),
        "{results:?}"
    );
    assert_eq!(
        results[0].as_ref().expect("limit 1"),
        &vec!["alpha".to_owned()]
    );
    assert_eq!(
        results[2].as_ref().expect("limit 1 again"),
        &vec!["alpha".to_owned()]
    );
    let idle = idle_state(&pool).await;
    assert_eq!(
        idle.pid, pid,
        "a failed statement does not cost the connection"
    );
    assert!(!idle.in_transaction && idle.tenant_setting.is_empty());

    // A boxed query has no static query id: it is recognised by its SQL.
    let boxed = |slug: &'static str| {
        tenants::table
            .filter(tenants::slug.eq(slug))
            .select(tenants::name)
            .into_boxed()
    };
    let (names, log) = traced(async {
        let mut seen = Vec::new();
        for slug in ["alpha", "beta"] {
            let names: Vec<String> = pool.fetch(&ctx_a, boxed(slug)).await.expect("boxed");
            seen.push(names);
        }
        seen
    })
    .await;
    assert_eq!(names, vec![vec!["alpha"], vec![]]);
    assert_eq!(round_trips(&log), vec![2, 1], "{log}");

    // diesel never caches an UPDATE: prepared on every run, it never goes in one
    // round trip. It commits, and fails typed.
    let rename = |name: &'static str| {
        diesel::update(tenants::table)
            .set(tenants::name.eq(name))
            .returning(tenants::name)
    };
    let (renamed, log) = traced(async {
        let first = pool.fetch::<_, String, _>(&ctx_a, rename("alpha 2")).await;
        let second = pool.fetch::<_, String, _>(&ctx_a, rename("alpha 3")).await;
        (first.expect("rename"), second.expect("rename again"))
    })
    .await;
    assert_eq!(renamed, (vec!["alpha 2".into()], vec!["alpha 3".into()]));
    assert_eq!(round_trips(&log), vec![2, 2], "{log}");
    // Two users of A given one e-mail: a unique violation, typed with its index.
    for _ in 0..2 {
        make_user(&pool, a, rowguard::MemberRole::Member).await;
    }
    let taken = diesel::update(users::table)
        .set(users::email.eq("same@example.test"))
        .returning(users::display_name);
    let err = pool.fetch::<_, String, _>(&ctx_a, taken).await;
    assert!(
        matches!(err, Err(rowguard::Error::UniqueViolation { ref constraint }) if constraint == "users_tenant_email_key"),
        "{err:?}"
    );
    assert_eq!(tenant_names(&pool, &ctx_a).await, vec!["alpha 3"]);
    assert_eq!(
        tenant_names(&pool, &TenantContext::new(b)).await,
        vec!["beta"]
    );
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

// current_thread: the tracing subscriber set for this thread sees every span.
#[tokio::test]
async fn a_prepared_sql_query_is_fetched_in_one_round_trip_once_it_ran() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let ctx = TenantContext::new(make_tenant(&pool, "alpha").await);
    make_tenant(&pool, "beta").await;
    const BY_SLUG: &str = "SELECT name FROM tenants WHERE slug = $1";
    let (names, log) = traced(async {
        let mut seen = Vec::new();
        for slug in ["alpha", "beta", "alpha"] {
            let query = Prepared::new(diesel::sql_query(BY_SLUG).bind::<Text, _>(slug));
            let names: Vec<Name> = pool.fetch(&ctx, query).await.expect("fetch");
            seen.push(names.into_iter().map(|n| n.name).collect::<Vec<_>>());
        }
        seen
    })
    .await;
    assert_eq!(names, vec![vec!["alpha"], vec![], vec!["alpha"]]);
    assert_eq!(round_trips(&log), vec![2, 1, 1], "{log}");
    // The same SQL unwrapped is never kept prepared: two round trips every time.
    let (_, log) = traced(async {
        for slug in ["alpha", "alpha"] {
            let query = diesel::sql_query(BY_SLUG).bind::<Text, _>(slug);
            let _: Vec<Name> = pool.fetch(&ctx, query).await.expect("fetch");
        }
    })
    .await;
    assert_eq!(round_trips(&log), vec![2, 2], "{log}");
    let idle = idle_state(&pool).await;
    assert!(!idle.in_transaction && idle.tenant_setting.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_refuses_results_whose_replies_do_not_match_the_one_round_trip_shape() {
    let db = TestDatabase::new().expect("db");
    let setup = db.app_pool(1).expect("pool");
    let a = make_tenant(&setup, "alpha").await;
    drop(setup);
    let pool = db.app_pool(1).expect("pool");
    let ctx = TenantContext::new(a);
    let query = || tenants::table.select(tenants::name);
    // Claim the query is prepared when it is not: its Bind then waits for a Parse
    // round trip, COMMIT overtakes it, and it runs after the transaction, without a
    // tenant. The replies give that away; no rows may come back as a result.
    pool.pretend_prepared_for_tests(query())
        .await
        .expect("pretend");
    let err = pool
        .fetch::<_, String, _>(&ctx, query())
        .await
        .expect_err("the replies do not match");
    // The reply check catches it (Protocol); should the query run first after COMMIT,
    // it has no context and is refused (Forbidden). Either way: no rows.
    assert!(
        matches!(
            err,
            rowguard::Error::Protocol(_) | rowguard::Error::Forbidden(_)
        ),
        "{err:?}"
    );
    // The connection was not trusted again, and the query works from scratch.
    for _ in 0..2 {
        let names: Vec<String> = pool.fetch(&ctx, query()).await.expect("fetch");
        assert_eq!(names, vec!["alpha"]);
    }
    let idle = idle_state(&pool).await;
    assert!(!idle.in_transaction && idle.tenant_setting.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_error_caught_inside_the_closure_does_not_pass_for_a_commit() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let a = make_tenant(&pool, "alpha").await;
    for _ in 0..2 {
        make_user(&pool, a, rowguard::MemberRole::Member).await;
    }
    let ctx = TenantContext::new(a);
    // PostgreSQL answers COMMIT after a failed statement with a rollback, not an
    // error. The closure swallows the failure and returns Ok; the caller must still
    // learn that nothing committed, and why.
    let result = pool
        .with_tenant(&ctx, async |conn| {
            diesel::update(tenants::table)
                .set(tenants::name.eq("renamed"))
                .execute(conn)
                .await?;
            let clash = diesel::update(users::table)
                .set(users::email.eq("same@example.test"))
                .execute(conn)
                .await;
            Ok(clash.is_err())
        })
        .await;
    assert!(
        matches!(result, Err(rowguard::Error::UniqueViolation { ref constraint }) if constraint == "users_tenant_email_key"),
        "{result:?}"
    );
    assert_eq!(tenant_names(&pool, &ctx).await, vec!["alpha"]);
    let idle = idle_state(&pool).await;
    assert!(!idle.in_transaction && idle.tenant_setting.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_tries_each_host_in_turn_and_refuses_tls_it_cannot_speak() {
    let db = TestDatabase::new().expect("db");
    let setup = db.app_pool(1).expect("pool");
    let ctx = TenantContext::new(make_tenant(&setup, "alpha").await);
    let url = url::Url::parse(&db.url_app()).expect("url");
    let (host, port) = (
        url.host_str().expect("host").to_owned(),
        url.port().expect("port"),
    );
    let (user, name) = (
        url.username().to_owned(),
        url.path().trim_start_matches('/'),
    );

    // The first host refuses the connection; the second is the server.
    let failover = format!("postgres://{user}@{host}:1,{host}:{port}/{name}");
    let pool = PoolConfig::new(failover)
        .context_key(db.context_key())
        .max_size(1)
        .build()
        .expect("pool");
    assert_eq!(tenant_names(&pool, &ctx).await, vec!["alpha"]);
    // The key/value form works too.
    let keyvalue = format!("host={host} port={port} user={user} dbname={name} connect_timeout=5");
    let pool = PoolConfig::new(keyvalue)
        .context_key(db.context_key())
        .max_size(1)
        .build()
        .expect("pool");
    assert_eq!(tenant_names(&pool, &ctx).await, vec!["alpha"]);

    let tls = format!("postgres://{user}@{host}:{port}/{name}?sslmode=require");
    let pool = PoolConfig::new(tls)
        .context_key(db.context_key())
        .max_size(1)
        .checkout_timeout(Duration::from_millis(500))
        .build()
        .expect("pool");
    let err = pool
        .with_tenant(&ctx, async |_conn| Ok(()))
        .await
        .expect_err("no TLS");
    assert!(
        matches!(err, rowguard::Error::ConnectionLost(ref m) if m.contains("sslmode=require")),
        "{err:?}"
    );
}
