//! The async connection pool and its tenant-scoped transactions.
//!
//! [`TenantPool`] wraps a bb8 pool of diesel-async connections, opened through
//! `crate::wire` so that each error's SQLSTATE and each reply's transaction status can
//! be read. Every use of a
//! connection is one transaction, opened by [`TenantPool::with_tenant`] (acting for a
//! tenant, as `rowguard_app`) or [`TenantPool::as_admin`] (acting as `rowguard_admin`,
//! with a recorded reason). There is no way to borrow a bare connection: the setting
//! that RLS reads exists only inside these transactions.
//!
//! Round trips:
//! - `with_tenant` sends `BEGIN` and the context statement without waiting, so they
//!   travel with the closure's first statement; then one round trip per statement,
//!   and one for `COMMIT`. Their replies are checked once the transaction is over.
//! - [`TenantPool::fetch`] sends `BEGIN`, the context, the query and `COMMIT`
//!   together: one round trip. diesel-async sends a statement's Bind only once its
//!   Parse has answered, so `COMMIT` could overtake a query not yet prepared on the
//!   connection and leave it to run after the transaction, without a tenant. The pool
//!   therefore pipelines `COMMIT` only for query types it has seen complete on that
//!   connection, and otherwise commits after the result (two round trips).
//! - Every pipelined transaction is checked against the server's replies: the
//!   transaction status of each `ReadyForQuery`, in order, must be the one the
//!   statements sent imply. A mismatch discards the connection with
//!   [`Error::Protocol`] and returns no rows.
//! - A closure that catches a statement's error and returns `Ok` does not get a
//!   silent rollback: PostgreSQL answers `COMMIT` of a failed transaction with
//!   `ROLLBACK`, and the pool reports the error that failed it.
//!
//! The transaction manager is told it is inside a transaction *before* anything is
//! sent. A future dropped halfway (a timeout, a cancelled request) therefore returns a
//! connection the pool sees as mid-transaction, and bb8 discards it instead of handing
//! a connection with an open transaction, or a lingering context, to the next caller.
//!
//! Checkouts are served first come, first served, and skip connections whose socket
//! closed while idle (a restarted server, a terminated backend), so after a server
//! restart or a killed backend the pool recovers by itself: only transactions in
//! flight fail, with [`Error::ConnectionLost`], as does one that raced the socket's
//! close (`is_transient()` says to retry). While the server cannot
//! be reached, a checkout that times out reports `ConnectionLost`, not
//! [`Error::PoolTimeout`], which means every connection is busy.

use std::any::TypeId;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bb8::{Pool, PooledConnection};
use diesel::connection::{TransactionDepthChange, TransactionManagerStatus};
use diesel::deserialize::FromSqlRow;
use diesel::expression::QueryMetadata;
use diesel::pg::Pg;
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel::query_dsl::CompatibleType;
use diesel::ConnectionError;
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    TransactionManager,
};
use futures_util::FutureExt;
use ref_cast::{ref_cast_custom, RefCastCustom};
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::tenant::{set_context_query, TenantConn, TenantContext};
use crate::wire::{self, Wire};

/// How the pool connects and what each transaction is allowed.
///
/// ```
/// use std::time::Duration;
/// let config = rowguard::pool::PoolConfig::new("postgres://app@localhost/app")
///     .max_size(16)
///     .statement_timeout(Some(Duration::from_secs(5)));
/// assert_eq!(config.max_size, 16);
/// ```
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// libpq-style URL of the server, as the application's login role.
    pub database_url: String,
    /// Most connections the pool opens.
    pub max_size: u32,
    /// How long a caller waits for a free connection before [`Error::PoolTimeout`].
    pub checkout_timeout: Duration,
    /// `statement_timeout` for each transaction; `None` keeps the server's.
    pub statement_timeout: Option<Duration>,
    /// `idle_in_transaction_session_timeout` for each transaction; `None` keeps the server's.
    pub idle_in_transaction_timeout: Option<Duration>,
    /// The role tenant transactions act as (`SET LOCAL ROLE`); `None` acts as the
    /// login role itself, which must then be a member of `rowguard_app` (not its owner).
    pub app_role: Option<String>,
    /// The role [`TenantPool::as_admin`] acts as.
    pub admin_role: String,
}

impl PoolConfig {
    /// Defaults for `database_url`: 16 connections, a 5 s checkout timeout, 30 s
    /// statement timeout, 60 s idle-in-transaction timeout, acting as `rowguard_app`.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_size: 16,
            checkout_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            idle_in_transaction_timeout: Some(Duration::from_secs(60)),
            app_role: Some("rowguard_app".to_owned()),
            admin_role: "rowguard_admin".to_owned(),
        }
    }

    /// Reads the configuration from the environment: `DATABASE_URL` (required),
    /// `ROWGUARD_POOL_SIZE`, `ROWGUARD_CHECKOUT_TIMEOUT_MS`, `ROWGUARD_STATEMENT_TIMEOUT_MS`,
    /// `ROWGUARD_IDLE_IN_TRANSACTION_TIMEOUT_MS` (0 keeps the server's), `ROWGUARD_APP_ROLE`
    /// (empty: act as the login role) and `ROWGUARD_ADMIN_ROLE`.
    pub fn from_env() -> Result<Self> {
        let url = std::env::var("DATABASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| Error::Config("DATABASE_URL is not set".into()))?;
        let mut config = Self::new(url);
        if let Some(n) = env_number("ROWGUARD_POOL_SIZE")? {
            config.max_size = u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::Config("ROWGUARD_POOL_SIZE must be between 1 and 2^32-1".into())
            })?;
        }
        if let Some(ms) = env_number("ROWGUARD_CHECKOUT_TIMEOUT_MS")? {
            config.checkout_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = env_number("ROWGUARD_STATEMENT_TIMEOUT_MS")? {
            config.statement_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(ms) = env_number("ROWGUARD_IDLE_IN_TRANSACTION_TIMEOUT_MS")? {
            config.idle_in_transaction_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Ok(role) = std::env::var("ROWGUARD_APP_ROLE") {
            config.app_role = (!role.is_empty()).then_some(role);
        }
        if let Ok(role) = std::env::var("ROWGUARD_ADMIN_ROLE") {
            if !role.is_empty() {
                config.admin_role = role;
            }
        }
        Ok(config)
    }

    /// Sets the most connections the pool opens.
    pub fn max_size(mut self, n: u32) -> Self {
        self.max_size = n;
        self
    }

    /// Sets how long a checkout waits.
    pub fn checkout_timeout(mut self, d: Duration) -> Self {
        self.checkout_timeout = d;
        self
    }

    /// Sets each transaction's `statement_timeout`.
    pub fn statement_timeout(mut self, d: Option<Duration>) -> Self {
        self.statement_timeout = d;
        self
    }

    /// Sets each transaction's `idle_in_transaction_session_timeout`.
    pub fn idle_in_transaction_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_in_transaction_timeout = d;
        self
    }

    /// Sets the role tenant transactions act as; `None` acts as the login role.
    pub fn app_role(mut self, role: Option<&str>) -> Self {
        self.app_role = role.map(str::to_owned);
        self
    }

    /// Builds the pool. Connections open lazily, so this succeeds with the server down.
    pub fn build(self) -> Result<TenantPool> {
        TenantPool::new(self)
    }
}

fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::Config(format!("{name} must be a whole number, got {v:?}"))),
        Err(_) => Ok(None),
    }
}

/// A pool of connections that only hands them out inside tenant or admin transactions.
#[derive(Clone)]
pub struct TenantPool {
    pool: Pool<Manager>,
    config: PoolConfig,
    connect_errors: ConnectErrors,
    /// One permit per connection, handed out first come, first served.
    fair: std::sync::Arc<tokio::sync::Semaphore>,
}

/// A checked-out connection and its place in the queue. The connection goes back to
/// bb8 before the permit is released (fields drop in order), so the next caller in
/// line finds it idle.
struct Checkout<'a> {
    conn: PooledConnection<'a, Manager>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

/// A pooled connection: diesel-async's connection, what its socket has seen, and the
/// statements known to be prepared on it.
struct Pooled {
    conn: AsyncPgConnection,
    wire: Arc<Wire>,
    /// Statements that completed on this connection, so diesel-async holds them in
    /// its (unbounded) statement cache, with any custom types they bind resolved: a
    /// new execution of one sends Bind/Execute on its first poll, with no Parse first.
    prepared: HashSet<StatementKey>,
}

impl Pooled {
    /// Broken or not idle: the socket closed, the transaction manager is in error or
    /// inside a transaction, or the server last said it was inside one.
    fn is_unusable(&mut self) -> bool {
        PoolableConnection::is_broken(&mut self.conn) || !self.wire.is_idle()
    }
}

/// What diesel-async's statement cache is keyed by, for one query: its type, when the
/// type alone fixes the SQL (a static query id), else its SQL and its type (the type
/// fixes the bind types, which diesel-async keys by alongside the SQL). `None` for a
/// query diesel does not cache at all.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum StatementKey {
    Type(TypeId),
    Sql(&'static str, String),
}

impl StatementKey {
    fn of<T: QueryFragment<Pg> + QueryId>(query: &T) -> Option<Self> {
        if !query.is_safe_to_cache_prepared(&Pg).ok()? {
            return None;
        }
        if let Some(id) = T::query_id() {
            return Some(StatementKey::Type(id));
        }
        let mut sql = diesel::pg::PgQueryBuilder::default();
        query.to_sql(&mut sql, &Pg).ok()?;
        Some(StatementKey::Sql(
            std::any::type_name::<T>(),
            diesel::query_builder::QueryBuilder::finish(sql),
        ))
    }
}

/// Opens the pool's connections (through [`wire::connect`]) and tells bb8 which are
/// broken.
struct Manager {
    url: String,
}

impl bb8::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = ConnectionError;

    async fn connect(&self) -> std::result::Result<Pooled, ConnectionError> {
        let (mut conn, wire) = wire::connect(&self.url).await?;
        prepare_context_statement(&mut conn).await?;
        Ok(Pooled {
            conn,
            wire,
            prepared: HashSet::new(),
        })
    }

    async fn is_valid(&self, conn: &mut Pooled) -> std::result::Result<(), ConnectionError> {
        conn.conn
            .batch_execute("SELECT 1")
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.is_unusable()
    }
}

/// The last error bb8 met opening a connection (it retries until the checkout
/// timeout and reports only "timed out"), so that a checkout that times out while the
/// server is unreachable says so ([`Error::ConnectionLost`]) rather than
/// [`Error::PoolTimeout`], which is kept for a pool whose connections are all busy.
#[derive(Clone, Debug, Default)]
struct ConnectErrors(std::sync::Arc<std::sync::Mutex<Option<(std::time::Instant, String)>>>);

impl ConnectErrors {
    /// The last connection error recorded at or after `since`.
    fn since(&self, since: std::time::Instant) -> Option<String> {
        let last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref()
            .filter(|(at, _)| *at >= since)
            .map(|(_, e)| e.clone())
    }
}

impl bb8::ErrorSink<ConnectionError> for ConnectErrors {
    fn sink(&self, error: ConnectionError) {
        tracing::warn!(%error, "cannot open a database connection");
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *last = Some((std::time::Instant::now(), error.to_string()));
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<ConnectionError>> {
        Box::new(self.clone())
    }
}

impl std::fmt::Debug for TenantPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantPool")
            .field("max_size", &self.config.max_size)
            .field("state", &self.pool.state())
            .finish()
    }
}

/// A connection inside an admin transaction (`rowguard_admin`, BYPASSRLS). A distinct
/// type from [`TenantConn`], so tenant code cannot be handed one by accident. Only
/// [`TenantPool::as_admin`] creates it.
#[derive(RefCastCustom)]
#[repr(transparent)]
pub struct AdminConn(AsyncPgConnection);

impl AdminConn {
    #[ref_cast_custom]
    fn wrap(conn: &mut AsyncPgConnection) -> &mut AdminConn;
}

impl std::ops::Deref for AdminConn {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        &self.0
    }
}

impl std::ops::DerefMut for AdminConn {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.0
    }
}

fn millis(d: Option<Duration>) -> Option<String> {
    d.map(|d| format!("{}ms", d.as_millis().max(1)))
}

impl TenantPool {
    /// Builds a pool from `config`. Connections open lazily.
    pub fn new(config: PoolConfig) -> Result<Self> {
        if config.max_size == 0 {
            return Err(Error::Config("pool size must be at least 1".into()));
        }
        // bb8 spawns its reaper task on the current runtime and panics without one.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(
                "a TenantPool must be built inside a tokio runtime (e.g. within #[tokio::main])"
                    .into(),
            ));
        }
        let manager = Manager {
            url: config.database_url.clone(),
        };
        let connect_errors = ConnectErrors::default();
        let pool = Pool::builder()
            .error_sink(Box::new(connect_errors.clone()))
            .max_size(config.max_size)
            .connection_timeout(config.checkout_timeout)
            // A checkout test costs a round trip on every transaction. Broken
            // connections are found instead by the transaction manager (an open or
            // failed transaction marks them broken) and by the failing query itself.
            .test_on_check_out(false)
            .build_unchecked(manager);
        let fair = std::sync::Arc::new(tokio::sync::Semaphore::new(config.max_size as usize));
        Ok(Self {
            pool,
            config,
            connect_errors,
            fair,
        })
    }

    /// Builds a pool from [`PoolConfig::from_env`].
    pub fn from_env() -> Result<Self> {
        Self::new(PoolConfig::from_env()?)
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Connections open and idle right now: `(open, idle)`.
    pub fn state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// Checks out a connection, in arrival order, skipping any whose socket has closed
    /// while it sat idle (a server restart, a terminated backend, a network cut): the
    /// check reads local state only, so it costs no round trip. A skipped connection
    /// is broken, so bb8 discards it when it is dropped here and opens a fresh one.
    ///
    /// bb8's own queue is not fair: a returned connection goes to whichever caller
    /// looks first, and a woken waiter that loses the race waits again at the back.
    /// With many more callers than connections (the load test runs 64 tasks on 8),
    /// a few checkouts in 20,000 waited past a 5 s timeout that way. Callers
    /// therefore first take a permit from a FIFO semaphore with one permit per
    /// connection, so bb8 only ever sees as many callers as it has connections.
    async fn checkout(&self) -> Result<Checkout<'_>> {
        let started = std::time::Instant::now();
        let timed_out = || match self.connect_errors.since(started) {
            Some(e) => Error::ConnectionLost(format!("cannot connect: {e}")),
            None => Error::PoolTimeout(self.config.checkout_timeout),
        };
        let permit = tokio::time::timeout(self.config.checkout_timeout, self.fair.acquire())
            .await
            .map_err(|_| timed_out())?
            .map_err(|_| Error::Config("the pool was closed".to_owned()))?;
        for _ in 0..=self.config.max_size {
            let mut conn = self.pool.get().await.map_err(|e| match e {
                bb8::RunError::TimedOut => timed_out(),
                bb8::RunError::User(e) => Error::ConnectionLost(e.to_string()),
            })?;
            if !conn.is_unusable() {
                return Ok(Checkout {
                    conn,
                    _permit: permit,
                });
            }
            tracing::debug!("discarding a pooled connection that was closed while idle");
        }
        Err(Error::ConnectionLost(
            "every pooled connection was closed".to_owned(),
        ))
    }

    /// Runs `body` in one transaction whose context statement is `set`: checks out a
    /// connection, sends `BEGIN` and `set` without waiting ([`send_opening`]), runs
    /// `body`, commits or rolls back, and then checks the opening's replies.
    async fn transaction<Q, R, B>(&self, set: Q, body: B) -> Result<R>
    where
        Q: QueryFragment<Pg> + QueryId + Send + 'static,
        B: for<'r> AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<R>,
    {
        let mut checkout = self.checkout().await?;
        let Pooled { conn, wire, .. } = &mut *checkout.conn;
        send_opening(conn, wire, set).await?;
        let outcome = wire::CURRENT
            .scope(Arc::clone(wire), async {
                let result = body(conn).await;
                finish(conn, wire, result).await
            })
            .await;
        // COMMIT or ROLLBACK has answered, so BEGIN's and the context's replies are
        // in: a failed opening explains whatever the body then ran into.
        match wire.opening_failure() {
            Some(e) => {
                if outcome.is_ok() {
                    AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
                }
                Err(e)
            }
            None => outcome,
        }
    }

    /// Runs `f` in one transaction acting for `ctx`, and returns its result.
    ///
    /// The transaction acts as `rowguard_app` (see [`PoolConfig::app_role`]) with
    /// `app.tenant_id`, `app.user_id` and `app.role` set from `ctx`, all bound, all
    /// gone when it ends. It commits when `f` returns `Ok` and rolls back on `Err`, on
    /// panic and when the future is dropped.
    ///
    /// Round trips: `BEGIN` and the context go out pipelined with the first statement
    /// of `f`, so the transaction costs one round trip per statement of `f`, plus one
    /// for `COMMIT`. A transaction of one statement is cheaper through
    /// [`TenantPool::fetch`], which sends `COMMIT` with it.
    ///
    /// Nothing waits for `BEGIN` and the context before `f` runs; their replies are
    /// checked once the transaction has ended. If the context failed (the login may
    /// not act as the app role, say), `f`'s statements failed with it, nothing
    /// committed, and that first error is returned. A connection that turns out dead
    /// fails the transaction with [`Error::ConnectionLost`] (`is_transient()`), and
    /// the pool replaces it.
    ///
    /// Errors that `f` converts from diesel's with `?` are classified by their
    /// SQLSTATE ([`Error::Forbidden`], [`Error::StatementTimeout`], ...).
    ///
    /// ```no_run
    /// use diesel_async::RunQueryDsl;
    /// use rowguard::{pool::TenantPool, TenantContext};
    ///
    /// # async fn demo(pool: TenantPool, ctx: TenantContext) -> rowguard::Result<()> {
    /// let open_tasks: i64 = pool
    ///     .with_tenant(&ctx, async |conn| {
    ///         use diesel::QueryDsl;
    ///         Ok(rowguard::schema::tasks::table.count().get_result(conn).await?)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_tenant<R, F>(&self, ctx: &TenantContext, f: F) -> Result<R>
    where
        F: for<'r> AsyncFnOnce(&'r mut TenantConn) -> Result<R>,
        R: Send,
    {
        let span = tracing::info_span!(
            "rowguard.tenant_tx",
            tenant_id = %ctx.tenant_id,
            user_id = ctx.user_id.map(tracing::field::display),
            role = ctx.role.map(|r| r.as_str()),
        );
        let set = set_context_query(self.config.app_role.as_deref(), ctx, self.timeouts());
        self.transaction(set, async |conn| f(TenantConn::wrap(conn)).await)
            .instrument(span)
            .await
    }

    /// Runs one query acting for `ctx`, as one transaction: `BEGIN`, the context, the
    /// query and `COMMIT` are sent together, one round trip in all.
    ///
    /// That needs the query's statement to be prepared on the connection already, so
    /// that its Bind and Execute leave at once, ahead of `COMMIT`. The pool remembers,
    /// per connection, the statements that completed there, keyed as diesel-async's
    /// statement cache keys them (the query type, or the SQL for types whose SQL
    /// varies, such as boxed queries). The first time on a connection, `COMMIT` waits
    /// for the query's result instead: two round trips. diesel never caches some
    /// statements, among them every `update`, inserts with defaulted columns and
    /// `sql_query`; each of those is prepared on every run, which costs a round trip
    /// of its own before it executes, so through `fetch` they take three. The span's
    /// `one_round_trip` field tells which shape a call took. Either way the server's
    /// replies are checked against the shape sent, and a connection that does not
    /// match is discarded with [`Error::Protocol`] rather than trusted.
    ///
    /// Reads and writes alike (an `INSERT ... RETURNING` is a query). Like
    /// `with_tenant`, it is never retried: the query has been sent by the time a dead
    /// connection shows, and it may have committed.
    ///
    /// ```no_run
    /// use diesel::QueryDsl;
    /// use rowguard::{pool::TenantPool, TenantContext};
    ///
    /// # async fn demo(pool: TenantPool, ctx: TenantContext) -> rowguard::Result<()> {
    /// let n: Vec<i64> = pool.fetch(&ctx, rowguard::schema::tasks::table.count()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch<'q, Q, U, ST>(&self, ctx: &TenantContext, query: Q) -> Result<Vec<U>>
    where
        Q: AsQuery + Send + 'q,
        Q::Query: QueryFragment<Pg> + QueryId + Send + 'q,
        Q::SqlType: CompatibleType<U, Pg, SqlType = ST>,
        U: FromSqlRow<ST, Pg> + Send + 'static,
        Pg: QueryMetadata<Q::SqlType>,
        ST: 'static,
    {
        let span = tracing::info_span!(
            "rowguard.tenant_tx",
            tenant_id = %ctx.tenant_id,
            one_round_trip = tracing::field::Empty,
        );
        async {
            let mut checkout = self.checkout().await?;
            let Pooled {
                conn,
                wire,
                prepared,
            } = &mut *checkout.conn;
            let query = query.as_query();
            let key = StatementKey::of(&query);
            let one_trip = key.as_ref().is_some_and(|key| prepared.contains(key));
            tracing::Span::current().record("one_round_trip", one_trip);
            let set = set_context_query(self.config.app_role.as_deref(), ctx, self.timeouts());
            mark_in_transaction(conn)?;
            wire.start_trace();
            // Wire order is what makes this safe. `unconstrained` keeps tokio's
            // cooperative budget from suspending one future before it has sent:
            // BEGIN is a simple query, sent on the first poll; the context statement
            // was prepared when the connection opened, so its Bind/Execute follow at
            // once; then the query (at once too when it is prepared; after a Parse
            // round trip otherwise), and COMMIT only when the query left at once.
            let (open, rows, commit) = {
                let mut begin_on: &AsyncPgConnection = conn;
                let mut commit_on: &AsyncPgConnection = conn;
                let begin = begin_on.batch_execute("BEGIN");
                let set = set.execute(&mut &*conn);
                let rows = query.load::<U>(&mut &*conn);
                if one_trip {
                    let (begin, set, rows, commit) = tokio::task::unconstrained(async {
                        futures_util::join!(begin, set, rows, commit_on.batch_execute("COMMIT"))
                    })
                    .await;
                    (begin.and(set), rows, Some(commit))
                } else {
                    let (begin, set, rows) =
                        tokio::task::unconstrained(async { futures_util::join!(begin, set, rows) })
                            .await;
                    (begin.and(set), rows, None)
                }
            };
            let Some(commit) = commit else {
                // Two round trips: commit now. Once COMMIT has answered, every reply
                // before it is in (a statement's result can come before its own
                // ReadyForQuery), and all of them must have come from inside the
                // transaction: BEGIN, the context, the query (and any Parse or type
                // look-up it needed first).
                let result = open.and(rows).map_err(|e| wire.error(e));
                let rows = finish(conn, wire, result).await?;
                let trace = wire.trace();
                let (last, inside) = trace.split_last().unwrap_or((&0, &[]));
                if *last != b'I' || inside.len() < 3 || inside.iter().any(|s| *s != b'T') {
                    return Err(unexpected_replies(&trace));
                }
                if let Some(key) = key {
                    prepared.insert(key);
                }
                return Ok(rows);
            };
            // One round trip. Four statements written (a query that needed a Parse
            // would have made five, its execution after COMMIT: all written by now,
            // since its result is in, though its last reply may not be), COMMIT
            // answered, and the server idle after it: the transaction is over (rolled
            // back if a statement failed).
            let trace = wire.trace();
            let four = wire.requested_in_trace() == 4;
            let ended = commit.is_ok() && four && trace.len() == 4 && trace.ends_with(b"I");
            if ended {
                end_transaction(conn)?;
            } else {
                AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
            }
            match (open, rows, commit) {
                (Err(e), _, _) | (Ok(_), Err(e), _) | (Ok(_), Ok(_), Err(e)) => Err(wire.error(e)),
                (Ok(_), Ok(_), Ok(())) if !four || trace != b"TTTI" => {
                    if let Some(key) = key {
                        prepared.remove(&key);
                    }
                    Err(unexpected_replies(&trace))
                }
                (Ok(_), Ok(rows), Ok(())) => Ok(rows),
            }
        }
        .instrument(span)
        .await
    }

    /// Runs `f` in one transaction as `rowguard_admin` (BYPASSRLS), for the control
    /// plane and cross-tenant workers. `reason` is recorded in tracing.
    ///
    /// ```no_run
    /// use diesel::QueryDsl;
    /// use diesel_async::RunQueryDsl;
    /// # async fn demo(pool: rowguard::pool::TenantPool) -> rowguard::Result<()> {
    /// let tenants: i64 = pool
    ///     .as_admin("nightly usage report", async |conn| {
    ///         Ok(rowguard::schema::tenants::table.count().get_result(conn).await?)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn as_admin<R, F>(&self, reason: &str, f: F) -> Result<R>
    where
        F: for<'r> AsyncFnOnce(&'r mut AdminConn) -> Result<R>,
        R: Send,
    {
        if reason.trim().is_empty() {
            return Err(Error::InvalidInput(
                "an admin transaction needs a reason".into(),
            ));
        }
        let span = tracing::info_span!("rowguard.admin_tx", reason);
        let set = crate::tenant::set_admin_query(&self.config.admin_role, self.timeouts());
        async {
            tracing::info!(reason, "admin transaction (BYPASSRLS)");
            self.transaction(set, async |conn| f(AdminConn::wrap(conn)).await)
                .await
        }
        .instrument(span)
        .await
    }

    /// Runs `f` on a pooled connection with no transaction and no context: only for
    /// tests that check what a pooled connection carries between transactions.
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub async fn unscoped_for_tests<R, F>(&self, f: F) -> Result<R>
    where
        F: for<'r> AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<R>,
    {
        let mut checkout = self.checkout().await?;
        let Pooled { conn, wire, .. } = &mut *checkout.conn;
        wire::CURRENT.scope(Arc::clone(wire), f(conn)).await
    }

    /// Marks the type of `query` as prepared on the next connection checked out,
    /// whether it is or not: only for the test that proves [`TenantPool::fetch`]
    /// notices when its one-round-trip shape goes wrong.
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub async fn pretend_prepared_for_tests<Q>(&self, query: Q) -> Result<()>
    where
        Q: AsQuery,
        Q::Query: QueryFragment<Pg> + QueryId,
    {
        let key = StatementKey::of(&query.as_query())
            .ok_or_else(|| Error::InvalidInput("diesel does not cache this query".into()))?;
        let mut checkout = self.checkout().await?;
        checkout.conn.prepared.insert(key);
        Ok(())
    }

    fn timeouts(&self) -> crate::tenant::Timeouts {
        crate::tenant::Timeouts {
            statement: millis(self.config.statement_timeout),
            idle_in_transaction: millis(self.config.idle_in_transaction_timeout),
        }
    }
}

/// The error for server replies that do not match the statements sent.
fn unexpected_replies(trace: &[u8]) -> Error {
    Error::Protocol(format!(
        "the server's transaction states {:?} do not match the statements sent",
        String::from_utf8_lossy(trace)
    ))
}

/// Sends `BEGIN` and the context statement `set`, without waiting for their replies:
/// the caller's first statement follows them on the wire, in the same round trip.
///
/// Each future is polled once, which sends it: `BEGIN` is a simple query, and the
/// context statement was prepared when the connection opened (so no Parse, no type
/// look-up, nothing to wait for before its Bind/Execute). `unconstrained` keeps tokio's
/// cooperative budget from stopping that poll short. Their replies are read off the
/// wire later ([`Wire::opening_failure`]). Should a poll ever complete, its result is
/// checked at once.
async fn send_opening<Q>(conn: &mut AsyncPgConnection, wire: &Wire, set: Q) -> Result<()>
where
    Q: QueryFragment<Pg> + QueryId + Send + 'static,
{
    mark_in_transaction(conn)?;
    wire.start_trace();
    let mut shared: &AsyncPgConnection = conn;
    let opening =
        futures_util::future::join(shared.batch_execute("BEGIN"), set.execute(&mut &*conn));
    if let Some((begin, set)) = tokio::task::unconstrained(opening).now_or_never() {
        if let Err(e) = begin.and(set) {
            let e = wire.error(e);
            abort(conn).await;
            return Err(e);
        }
    }
    Ok(())
}

/// Rolls back after a failure; if even that fails, leaves the transaction manager in
/// error so the pool discards the connection.
async fn abort(conn: &mut AsyncPgConnection) {
    if AnsiTransactionManager::rollback_transaction(conn)
        .await
        .is_err()
    {
        AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
    }
}

/// Prepares the context statement on a new connection, so that in every pipelined
/// transaction the context's Bind/Execute go out right after `BEGIN`, ahead of any
/// statement of the caller's. `set_config(..., true)` outside a transaction block
/// changes nothing beyond this one statement.
async fn prepare_context_statement(conn: &mut AsyncPgConnection) -> diesel::ConnectionResult<()> {
    let warm = crate::tenant::context_query(
        None,
        String::new(),
        String::new(),
        String::new(),
        crate::tenant::Timeouts::default(),
    );
    warm.execute(conn)
        .await
        .map(|_| ())
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
}

/// Records in the transaction manager that a transaction is open, before `BEGIN` is
/// sent, so that a connection dropped mid-way is seen as broken by the pool.
fn mark_in_transaction(conn: &mut AsyncPgConnection) -> Result<()> {
    let status: &mut TransactionManagerStatus =
        AnsiTransactionManager::transaction_manager_status_mut(conn);
    let state = status.transaction_state()?;
    if state.transaction_depth().is_some() {
        return Err(Error::Database(diesel::result::Error::AlreadyInTransaction));
    }
    state.change_transaction_depth(TransactionDepthChange::IncreaseDepth)?;
    Ok(())
}

/// Records in the transaction manager that the transaction ended on the server.
fn end_transaction(conn: &mut AsyncPgConnection) -> Result<()> {
    AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_state()?
        .change_transaction_depth(TransactionDepthChange::DecreaseDepth)?;
    Ok(())
}

/// Commits on `Ok`, rolls back on `Err`. A failed COMMIT or ROLLBACK leaves the
/// transaction manager in error, so the pool discards the connection. A transaction
/// that had failed on the server (an error caught inside `f`) is rolled back by its
/// COMMIT, and reported with the error that failed it.
async fn finish<R>(conn: &mut AsyncPgConnection, wire: &Wire, result: Result<R>) -> Result<R> {
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn)
                .await
                .map_err(|e| wire.error(e))?;
            // PostgreSQL answers COMMIT of a failed transaction with a rollback, not
            // an error: a caller that caught a statement's error and returned Ok would
            // be told its writes committed.
            if wire.commit_rolled_back() {
                return Err(wire.first_error_in_trace().unwrap_or_else(|| {
                    Error::Protocol("the transaction failed and was rolled back".into())
                }));
            }
            Ok(value)
        }
        Err(e) => {
            abort(conn).await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_outside_a_runtime_is_a_typed_error_not_a_panic() {
        let err = PoolConfig::new("postgres://nobody@127.0.0.1:1/none")
            .build()
            .expect_err("no runtime");
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("tokio runtime")),
            "{err:?}"
        );
    }

    #[test]
    fn a_zero_sized_pool_is_refused() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let _inside = rt.enter();
        let err = PoolConfig::new("postgres://nobody@127.0.0.1:1/none")
            .max_size(0)
            .build()
            .expect_err("size 0");
        assert!(matches!(err, Error::Config(_)));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_connection_lost_not_a_hang() {
        let pool = PoolConfig::new("postgres://nobody@127.0.0.1:1/none")
            .checkout_timeout(Duration::from_millis(500))
            .build()
            .expect("pool");
        let ctx = TenantContext::new(crate::TenantId::new_v7());
        let err = pool
            .with_tenant(&ctx, async |_conn| Ok(()))
            .await
            .expect_err("no server");
        assert!(err.is_transient(), "{err:?}");
    }
}
