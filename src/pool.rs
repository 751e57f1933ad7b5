//! The async connection pool and its tenant-scoped transactions.
//!
//! [`TenantPool`] wraps a bb8 pool of diesel-async connections. Every use of a
//! connection is one transaction, opened by [`TenantPool::with_tenant`] (acting for a
//! tenant, as `rowguard_app`) or [`TenantPool::as_admin`] (acting as `rowguard_admin`,
//! with a recorded reason). There is no way to borrow a bare connection: the setting
//! that RLS reads exists only inside these transactions.
//!
//! `BEGIN` and the context statement are sent pipelined, so opening a tenant
//! transaction costs one round trip. [`TenantPool::fetch`] sends `BEGIN`, the context,
//! one query and `COMMIT` together: a one-statement tenant transaction in one round trip.
//!
//! The transaction manager is told it is inside a transaction *before* anything is
//! sent. A future dropped halfway (a timeout, a cancelled request) therefore returns a
//! connection the pool sees as mid-transaction, and bb8 discards it instead of handing
//! a connection with an open transaction, or a lingering context, to the next caller.

use std::time::Duration;

use diesel::connection::{TransactionDepthChange, TransactionManagerStatus};
use diesel::deserialize::FromSqlRow;
use diesel::expression::QueryMetadata;
use diesel::pg::Pg;
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel::query_dsl::CompatibleType;
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};
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
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new(config.database_url.clone());
        let pool = Pool::builder()
            .max_size(config.max_size)
            .connection_timeout(config.checkout_timeout)
            // A checkout test costs a round trip on every transaction. Broken
            // connections are found instead by the transaction manager (an open or
            // failed transaction marks them broken) and by the failing query itself.
            .test_on_check_out(false)
            .build_unchecked(manager);
        Ok(Self { pool, config })
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

    async fn checkout(&self) -> Result<PooledConnection<'_, AsyncPgConnection>> {
        self.pool.get().await.map_err(|e| match e {
            bb8::RunError::TimedOut => Error::PoolTimeout(self.config.checkout_timeout),
            bb8::RunError::User(PoolError::ConnectionError(e)) => {
                Error::ConnectionLost(e.to_string())
            }
            bb8::RunError::User(PoolError::QueryError(e)) => Error::from(e),
        })
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
            let mut conn = self.checkout().await?;
            let conn: &mut AsyncPgConnection = &mut conn;
            self.begin(conn, self.config.app_role.as_deref(), ctx)
                .await?;
            let result = f(TenantConn::wrap(conn)).await;
            finish(conn, result).await
        }
        .instrument(span)
        .await
    }

    /// Runs one query acting for `ctx`, sending `BEGIN`, the context, the query and
    /// `COMMIT` pipelined: one round trip for the whole transaction.
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
            let shared: &AsyncPgConnection = conn;
            let (begin, set, rows, commit) = futures_util::join!(
                diesel::sql_query("BEGIN").execute(&mut &*shared),
                set.execute(&mut &*shared),
                query.load::<U>(&mut &*shared),
                diesel::sql_query("COMMIT").execute(&mut &*shared),
            );
            // COMMIT of a failed transaction rolls it back on the server; either way
            // the transaction is over.
            mark_transaction_ended(conn);
            begin?;
            set?;
            let rows = rows?;
            commit?;
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
            let mut conn = self.checkout().await?;
            let conn: &mut AsyncPgConnection = &mut conn;
            mark_in_transaction(conn)?;
            let set = crate::tenant::set_admin_query(&self.config.admin_role, self.timeouts());
            let shared: &AsyncPgConnection = conn;
            let (begin, set) = futures_util::join!(
                diesel::sql_query("BEGIN").execute(&mut &*shared),
                set.execute(&mut &*shared),
            );
            if let Err(e) = begin.and(set) {
                let _ = AnsiTransactionManager::rollback_transaction(conn).await;
                return Err(e.into());
            }
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

    /// Opens the transaction: `BEGIN` and the context statement, pipelined.
    async fn begin(
        &self,
        conn: &mut AsyncPgConnection,
        role: Option<&str>,
        ctx: &TenantContext,
    ) -> Result<()> {
        mark_in_transaction(conn)?;
        let set = set_context_query(role, ctx, self.timeouts());
        let shared: &AsyncPgConnection = conn;
        let (begin, set) = futures_util::join!(
            diesel::sql_query("BEGIN").execute(&mut &*shared),
            set.execute(&mut &*shared),
        );
        if let Err(e) = begin.and(set) {
            let _ = AnsiTransactionManager::rollback_transaction(conn).await;
            return Err(e.into());
        }
        Ok(())
    }
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

fn mark_transaction_ended(conn: &mut AsyncPgConnection) {
    let status = AnsiTransactionManager::transaction_manager_status_mut(conn);
    match status.transaction_state() {
        Ok(state) => {
            if state
                .change_transaction_depth(TransactionDepthChange::DecreaseDepth)
                .is_err()
            {
                status.set_in_error();
            }
        }
        Err(_) => status.set_in_error(),
    }
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
            if AnsiTransactionManager::rollback_transaction(conn)
                .await
                .is_err()
            {
                AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
            }
            Err(e)
        }
    }
}
