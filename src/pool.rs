//! The async connection pool and its tenant-scoped transactions.
//!
//! [`TenantPool`] wraps a bb8 pool of diesel-async connections. Every use of a
//! connection is one transaction, opened by [`TenantPool::with_tenant`] (acting for a
//! tenant, as `rowguard_app`) or [`TenantPool::as_admin`] (acting as `rowguard_admin`,
//! with a recorded reason). There is no way to borrow a bare connection: the setting
//! that RLS reads exists only inside these transactions.
//!
//! `BEGIN` and the context statement are sent pipelined, so opening a tenant
//! transaction costs one round trip. [`TenantPool::fetch`] also pipelines the one query
//! with them and then commits: a one-statement tenant transaction in two round trips.
//! (COMMIT cannot join the batch safely: diesel-async sends a statement's Bind only
//! once its Parse has answered, so a COMMIT sent alongside could overtake a query
//! seen for the first time on that connection.)
//!
//! The transaction manager is told it is inside a transaction *before* anything is
//! sent. A future dropped halfway (a timeout, a cancelled request) therefore returns a
//! connection the pool sees as mid-transaction, and bb8 discards it instead of handing
//! a connection with an open transaction, or a lingering context, to the next caller.
//!
//! Checkouts are served first come, first served, and skip connections whose socket
//! closed while idle (a restarted server, a terminated backend). `with_tenant` and
//! `as_admin` also open their transaction again on a fresh connection when the one
//! they got turns out dead before anything of the caller's ran; so after a server
//! restart or a killed backend the pool recovers by itself, and only transactions
//! that were in flight fail, with [`Error::ConnectionLost`]. While the server cannot
//! be reached, a checkout that times out reports `ConnectionLost`, not
//! [`Error::PoolTimeout`], which means every connection is busy.

use std::time::Duration;

use diesel::connection::{TransactionDepthChange, TransactionManagerStatus};
use diesel::deserialize::FromSqlRow;
use diesel::expression::QueryMetadata;
use diesel::pg::Pg;
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel::query_dsl::CompatibleType;
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection,
};
use diesel_async::AsyncConnection;
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    TransactionManager,
};
use futures_util::future::{BoxFuture, FutureExt};
use ref_cast::{ref_cast_custom, RefCastCustom};
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::tenant::{set_context_query, TenantConn, TenantContext};

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
    pool: Pool<AsyncPgConnection>,
    config: PoolConfig,
    connect_errors: ConnectErrors,
    /// One permit per connection, handed out first come, first served.
    fair: std::sync::Arc<tokio::sync::Semaphore>,
}

/// A checked-out connection and its place in the queue. The connection goes back to
/// bb8 before the permit is released (fields drop in order), so the next caller in
/// line finds it idle.
struct Checkout<'a> {
    conn: PooledConnection<'a, AsyncPgConnection>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl std::ops::Deref for Checkout<'_> {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Checkout<'_> {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
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

impl bb8::ErrorSink<PoolError> for ConnectErrors {
    fn sink(&self, error: PoolError) {
        tracing::warn!(%error, "cannot open a database connection");
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *last = Some((std::time::Instant::now(), error.to_string()));
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<PoolError>> {
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
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        manager_config.custom_setup = Box::new(connect_and_prepare);
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            config.database_url.clone(),
            manager_config,
        );
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
                bb8::RunError::User(PoolError::ConnectionError(e)) => {
                    Error::ConnectionLost(e.to_string())
                }
                bb8::RunError::User(PoolError::QueryError(e)) => Error::from(e),
            })?;
            if !PoolableConnection::is_broken(&mut *conn) {
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

    /// Checks out a connection and opens a transaction on it: `BEGIN` and the context
    /// statement `set()`, pipelined. When that fails because the connection turns out
    /// to be dead (closed between the check and the send), nothing of the caller's
    /// has run yet, so it is retried on another connection, a few times at most.
    async fn checkout_and_begin<Q>(&self, set: impl Fn() -> Q) -> Result<Checkout<'_>>
    where
        Q: QueryFragment<Pg> + QueryId + Send + 'static,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.checkout().await?;
            match open_transaction(&mut conn, set()).await {
                Ok(()) => return Ok(conn),
                Err(Error::ConnectionLost(why)) if attempt < BEGIN_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        why,
                        "connection lost before the transaction began; retrying"
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `f` in one transaction acting for `ctx`, and returns its result.
    ///
    /// The transaction acts as `rowguard_app` (see [`PoolConfig::app_role`]) with
    /// `app.tenant_id`, `app.user_id` and `app.role` set from `ctx`, all bound, all
    /// gone when it ends. It commits when `f` returns `Ok` and rolls back on `Err`, on
    /// panic and when the future is dropped.
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
        async {
            let mut conn = self
                .checkout_and_begin(|| {
                    set_context_query(self.config.app_role.as_deref(), ctx, self.timeouts())
                })
                .await?;
            let conn: &mut AsyncPgConnection = &mut conn;
            let result = f(TenantConn::wrap(conn)).await;
            finish(conn, result).await
        }
        .instrument(span)
        .await
    }

    /// Runs one query acting for `ctx`: `BEGIN`, the context and the query are sent
    /// pipelined, then `COMMIT`; two round trips for the whole transaction.
    ///
    /// Unlike `with_tenant`, it is never retried: the query has been sent by the time
    /// a dead connection shows, and it may have committed.
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
        let span =
            tracing::info_span!("rowguard.tenant_tx", tenant_id = %ctx.tenant_id, pipelined = true);
        async {
            let mut pooled = self.checkout().await?;
            let conn: &mut AsyncPgConnection = &mut pooled;
            mark_in_transaction(conn)?;
            let set = set_context_query(self.config.app_role.as_deref(), ctx, self.timeouts());
            // Wire order is what makes this safe: BEGIN is a simple query, sent on the
            // first poll; the context statement was prepared when the connection was
            // opened (`connect_and_prepare`), so its Bind/Execute follow at once; the
            // caller's query comes after both, even when it still needs a Parse. COMMIT
            // waits for the query's result: sent in the same batch, it could overtake a
            // query whose statement is not prepared yet.
            let mut shared: &AsyncPgConnection = conn;
            let (begin, set, rows) = futures_util::join!(
                shared.batch_execute("BEGIN"),
                set.execute(&mut &*conn),
                query.load::<U>(&mut &*conn),
            );
            let rows = match begin.and(set).and(rows) {
                Ok(rows) => rows,
                Err(e) => {
                    abort(conn).await;
                    return Err(e.into());
                }
            };
            AnsiTransactionManager::commit_transaction(conn).await?;
            Ok(rows)
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
        async {
            tracing::info!(reason, "admin transaction (BYPASSRLS)");
            let mut conn = self
                .checkout_and_begin(|| {
                    crate::tenant::set_admin_query(&self.config.admin_role, self.timeouts())
                })
                .await?;
            let conn: &mut AsyncPgConnection = &mut conn;
            let result = f(AdminConn::wrap(conn)).await;
            finish(conn, result).await
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
        let mut conn = self.checkout().await?;
        f(&mut conn).await
    }

    fn timeouts(&self) -> crate::tenant::Timeouts {
        crate::tenant::Timeouts {
            statement: millis(self.config.statement_timeout),
            idle_in_transaction: millis(self.config.idle_in_transaction_timeout),
        }
    }
}

/// How many times a transaction is opened on a fresh connection when the connection
/// is found dead while opening it.
const BEGIN_ATTEMPTS: u32 = 3;

/// Sends `BEGIN` and the context statement `set`, pipelined. On failure the
/// transaction is rolled back, and the connection left broken if that fails too.
async fn open_transaction<Q>(conn: &mut AsyncPgConnection, set: Q) -> Result<()>
where
    Q: QueryFragment<Pg> + QueryId + Send + 'static,
{
    mark_in_transaction(conn)?;
    let mut shared: &AsyncPgConnection = conn;
    let (begin, set) = futures_util::join!(shared.batch_execute("BEGIN"), set.execute(&mut &*conn));
    if let Err(e) = begin.and(set) {
        abort(conn).await;
        return Err(e.into());
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

/// Opens a connection and prepares the context statement on it, so that in every
/// pipelined transaction the context's Bind/Execute go out right after `BEGIN`, ahead
/// of any statement of the caller's. `set_config(..., true)` outside a transaction
/// block changes nothing beyond this one statement.
fn connect_and_prepare(url: &str) -> BoxFuture<'_, diesel::ConnectionResult<AsyncPgConnection>> {
    async move {
        let mut conn = AsyncPgConnection::establish(url).await?;
        let warm = crate::tenant::context_query(
            None,
            String::new(),
            String::new(),
            String::new(),
            crate::tenant::Timeouts::default(),
        );
        warm.execute(&mut conn)
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
        Ok(conn)
    }
    .boxed()
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

/// Commits on `Ok`, rolls back on `Err`. A failed COMMIT or ROLLBACK leaves the
/// transaction manager in error, so the pool discards the connection.
async fn finish<R>(conn: &mut AsyncPgConnection, result: Result<R>) -> Result<R> {
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn).await?;
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
