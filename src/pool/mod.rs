//! The async connection pools and their transactions: the riskiest code in the crate.
//!
//! - [`TenantPool`] hands out connections only inside tenant transactions
//!   ([`TenantPool::with_tenant`], [`TenantPool::fetch`]), each acting for one
//!   [`TenantContext`] whose signed form ([`crate::context`]) the database verifies. Its
//!   login must not be able to bypass RLS: it is checked on the first checkout
//!   (`pool/login.rs`).
//! - [`AdminPool`] hands out connections only inside admin transactions
//!   ([`AdminPool::as_admin`], and [`AdminPool::snapshot`] for consistent reads;
//!   `rowguard_admin`, BYPASSRLS), on a login of its own.
//!
//! The files:
//! - `config.rs`: [`PoolConfig`];
//! - `checkout.rs`: opening connections (bb8's manager) and a fair checkout;
//! - `conn.rs`: [`TenantConn`] and [`AdminConn`], what a closure is handed;
//! - `pipeline.rs`: the pipelined transaction shapes and the checks of their replies;
//! - `wire.rs`: the tapped socket that reads each reply's SQLSTATE and status;
//! - `tls.rs`: TLS through rustls, under the tap, as `sslmode` and `sslrootcert` ask;
//! - `coded.rs`: database errors that keep their SQLSTATE wherever they go;
//! - `login.rs`: the check that the tenant pool's login holds nothing worth stealing;
//! - `prepared.rs`: [`Prepared`], raw SQL from a fixed set kept prepared.
//!
//! Round trips:
//! - `with_tenant` sends `BEGIN` and the context statement without waiting, so they
//!   travel with the closure's first statement; then one round trip per statement,
//!   and one for `COMMIT`. Their replies are checked once the transaction is over.
//! - `fetch` sends `BEGIN`, the context, the query and `COMMIT` together: one round
//!   trip, for a query already prepared on the connection (two otherwise). diesel keeps
//!   query-builder selects prepared, never a `sql_query`; wrap raw SQL from a fixed set
//!   in [`Prepared`] to make it one round trip too.
//! - With the statement cache off ([`PoolConfig::statement_cache`]) the context
//!   statement needs a Parse each time, so the pool waits for its reply before the
//!   closure runs: one round trip more for every shape.
//! - Every pipelined transaction is checked against the server's replies; a mismatch
//!   discards the connection with [`Error::Protocol`] and returns no rows.
//!
//! The transaction manager is told it is inside a transaction *before* anything is
//! sent. A future dropped halfway (a timeout, a cancelled request) therefore returns a
//! connection the pool sees as mid-transaction, and bb8 discards it instead of handing
//! a connection with an open transaction, or a lingering context, to the next caller.
//!
//! Checkouts are served first come, first served, and skip connections whose socket
//! closed while idle, so after a server restart or a killed backend the pool recovers
//! by itself: only transactions in flight fail, with [`Error::ConnectionLost`]
//! (`is_transient()` says to retry). While the server cannot be reached, a checkout
//! that times out reports `ConnectionLost`, not [`Error::PoolTimeout`], which means
//! every connection is busy.

mod checkout;
mod coded;
mod config;
mod conn;
mod login;
mod pipeline;
mod prepared;
pub(crate) mod tls;
mod tx;
pub(crate) mod wire;

use std::sync::Arc;
use std::time::SystemTime;

use diesel::deserialize::FromSqlRow;
use diesel::expression::QueryMetadata;
use diesel::pg::Pg;
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel::query_dsl::CompatibleType;
use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use tracing::Instrument;

pub(crate) use coded::code_of;
pub use config::PoolConfig;
pub use conn::{AdminConn, TenantConn};
pub(crate) use login::PRIVILEGES_SQL;
pub use prepared::Prepared;
pub use tx::TenantTx;

use crate::context::ContextKey;
use crate::error::{Error, Result};
use crate::tenant::{context_query, TenantContext, TenantId};

/// The pre-tenant look-ups of `policies/30_lookups.sql`, for the query DSL.
mod lookups {
    // Full paths: the macro's expansion does not count `use` items here as used.
    diesel::define_sql_function! {
        #[sql_name = "rowguard.resolve_tenant_slug"]
        fn resolve_tenant_slug(slug: diesel::sql_types::Text) -> diesel::sql_types::Nullable<diesel::sql_types::Uuid>;
    }
    diesel::define_sql_function! {
        #[sql_name = "rowguard.resolve_tenant_host"]
        fn resolve_tenant_host(host: diesel::sql_types::Text) -> diesel::sql_types::Nullable<diesel::sql_types::Uuid>;
    }
    diesel::define_sql_function! {
        /// A set-returning function called in the select list: one record per row.
        #[sql_name = "rowguard.resolve_session"]
        fn resolve_session(token_hash: diesel::sql_types::Bytea) -> diesel::pg::sql_types::Record<(diesel::sql_types::Uuid, diesel::sql_types::Uuid, diesel::sql_types::Text)>;
    }
    diesel::define_sql_function! {
        #[sql_name = "rowguard.session_tenant_status"]
        fn session_tenant_status(token_hash: diesel::sql_types::Bytea) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
    }
    diesel::define_sql_function! {
        #[sql_name = "rowguard.resolve_invite"]
        fn resolve_invite(token_hash: diesel::sql_types::Bytea) -> diesel::pg::sql_types::Record<(diesel::sql_types::Uuid, diesel::sql_types::Uuid)>;
    }
}
use checkout::Core;

/// A pool of connections that only hands them out inside tenant transactions.
///
/// ```no_run
/// use rowguard::pool::PoolConfig;
/// # async fn demo() -> rowguard::Result<()> {
/// // DATABASE_URL: a login that is a member of rowguard_app only;
/// // ROWGUARD_CONTEXT_KEY: the key `rowguard keys rotate` printed.
/// let pool = PoolConfig::from_env()?.build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TenantPool {
    core: Core,
    key: Arc<ContextKey>,
    /// The login check's verdict, once made (on the first checkout).
    login: Arc<tokio::sync::OnceCell<std::result::Result<(), String>>>,
}

impl std::fmt::Debug for TenantPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantPool")
            .field("max_size", &self.core.config.max_size)
            .field("state", &self.core.state())
            .field("key", &self.key.id())
            .finish()
    }
}

impl TenantPool {
    /// Builds a pool from `config`, which must carry a context key. Connections open
    /// lazily.
    pub fn new(config: PoolConfig) -> Result<Self> {
        let key = config.context_key.clone().ok_or_else(|| {
            Error::Config(
                "a tenant pool needs a context key: set ROWGUARD_CONTEXT_KEY (printed by \
                 `rowguard keys rotate`) or pass AdminPool::context_key() to \
                 PoolConfig::context_key"
                    .into(),
            )
        })?;
        Ok(Self {
            core: Core::new(config)?,
            key: Arc::new(key),
            login: Arc::default(),
        })
    }

    /// Builds a pool from [`PoolConfig::from_env`].
    pub fn from_env() -> Result<Self> {
        Self::new(PoolConfig::from_env()?)
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.core.config
    }

    /// Connections open and idle right now: `(open, idle)`.
    pub fn state(&self) -> (u32, u32) {
        self.core.state()
    }

    /// Checks out a connection; the first checkout checks the login and the context key
    /// first.
    async fn checkout(&self) -> Result<checkout::Checkout> {
        let mut checkout = self.core.checkout().await?;
        let conn = &mut checkout.conn.session.conn;
        let verdict = self
            .login
            .get_or_try_init(|| async {
                let verdict = self.check_login(conn).await?;
                if verdict.is_ok() {
                    self.check_key(conn).await?;
                }
                Ok::<_, Error>(verdict)
            })
            .await?;
        verdict.clone().map_err(Error::UnsafeLogin)?;
        Ok(checkout)
    }

    /// Whether the login may serve: `Err` names what it could bypass the boundary
    /// with, unless the configuration accepts that (then a warning is logged).
    async fn check_login(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
    ) -> Result<std::result::Result<(), String>> {
        #[derive(QueryableByName)]
        struct Login {
            #[diesel(sql_type = Text)]
            name: String,
        }
        let login: Login = diesel::sql_query("SELECT session_user::text AS name")
            .get_result(conn)
            .await?;
        let causes = login::privileges(conn, &login.name, &self.core.config.admin_role).await?;
        if causes.is_empty() {
            return Ok(Ok(()));
        }
        let why = format!(
            "the tenant pool's login {:?} could bypass row-level security: it {}",
            login.name,
            causes.join("; it ")
        );
        if self.core.config.allow_privileged_login {
            tracing::warn!(
                login = %login.name,
                "{why}. Serving anyway because allow_privileged_login is set: SQL inside a \
                 tenant transaction can leave the tenant"
            );
            return Ok(Ok(()));
        }
        Ok(Err(why))
    }

    /// [`Error::Config`] when the database does not accept the pool's context key. Not
    /// cached when it fails: the next checkout asks again, so a key added to the
    /// database afterwards is taken up without a restart.
    async fn check_key(&self, conn: &mut diesel_async::AsyncPgConnection) -> Result<()> {
        match login::key_refusal(conn, &self.key, self.core.config.app_role.as_deref()).await? {
            None => Ok(()),
            Some(reason) => Err(Error::Config(format!(
                "the database does not accept the tenant pool's context key {}: {reason}. \
                 The pool signs with ROWGUARD_CONTEXT_KEY (or the key an AdminPool handed \
                 it); `rowguard keys list` shows the keys the database accepts",
                self.key.id()
            ))),
        }
    }

    /// The context statement for `ctx`, signed now.
    fn context_statement(
        &self,
        ctx: &TenantContext,
    ) -> impl QueryFragment<Pg> + QueryId + Send + 'static {
        let signed = self
            .key
            .sign(ctx, SystemTime::now() + self.core.config.context_ttl);
        context_query(
            self.core.config.app_role.as_deref(),
            signed,
            self.core.timeouts(),
        )
    }

    /// Runs `f` in one transaction acting for `ctx`, and returns its result.
    ///
    /// The transaction acts as `rowguard_app` (see [`PoolConfig::app_role`]) with
    /// `app.context` set to `ctx`, signed ([`crate::context`]), bound, and gone when
    /// it ends. It commits when `f` returns `Ok` and rolls back on `Err`, on panic and
    /// when the future is dropped.
    ///
    /// Round trips: `BEGIN` and the context go out pipelined with the first statement
    /// of `f`, so the transaction costs one round trip per statement of `f`, plus one
    /// for `COMMIT` (one more with the statement cache off). A transaction of one
    /// statement is cheaper through [`TenantPool::fetch`].
    ///
    /// If the context failed, `f`'s statements failed with it, nothing committed, and
    /// that first error is returned. A connection that turns out dead fails the
    /// transaction with [`Error::ConnectionLost`] (`is_transient()`), and the pool
    /// replaces it. Database errors that `f` converts with `?`, anywhere, are
    /// classified by their SQLSTATE ([`Error::Forbidden`], [`Error::StatementTimeout`], ...).
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
        let ctx = *ctx;
        async {
            let set = self.context_statement(&ctx);
            let mut checkout = self.checkout().await?;
            let pipelined = self.core.config.statement_cache;
            pipeline::transaction(
                &mut checkout.conn.session,
                pipeline::Begin::Default,
                set,
                pipelined,
                async |session| f(TenantConn::enter(session, ctx)).await,
            )
            .await
        }
        .instrument(span)
        .await
    }

    /// Opens a transaction acting for `ctx` that the caller holds and ends
    /// ([`TenantTx::commit`], [`TenantTx::rollback`]; dropped, it rolls back), for code
    /// that cannot put the transaction's work in one closure: a web request's
    /// extractor opens it, the handler uses it, the response decides its end. It acts
    /// exactly as [`TenantPool::with_tenant`]'s transaction does, and holds its pooled
    /// connection until it ends.
    ///
    /// Round trips: none here when the statement cache is on (`BEGIN` and the context
    /// go out with the first statement); one with it off.
    ///
    /// # Errors
    /// [`Error::PoolTimeout`], [`Error::ConnectionLost`] and [`Error::UnsafeLogin`] as
    /// for any checkout; with the statement cache off, the opening's own failure
    /// ([`Error::TenantSuspended`], ...). With it on, that failure comes with the first
    /// statement or the commit.
    pub async fn begin(&self, ctx: &TenantContext) -> Result<TenantTx> {
        let mut checkout = self.checkout().await?;
        let set = self.context_statement(ctx);
        let pipelined = self.core.config.statement_cache;
        pipeline::open(&mut checkout.conn.session, set, pipelined).await?;
        Ok(TenantTx::new(checkout, *ctx))
    }

    /// The active tenant with `slug`, before any tenant is known (a request's path or
    /// sub-domain): `rowguard.resolve_tenant_slug`, a SECURITY DEFINER look-up that
    /// returns an id only, run as the application role with no tenant context, in one
    /// round trip once prepared. `None` when no active tenant has the slug. For repeat
    /// resolutions, [`crate::resolve::Resolver`] caches the answers.
    ///
    /// # Errors
    /// As [`TenantPool::fetch`].
    pub async fn resolve_slug(&self, slug: &str) -> Result<Option<TenantId>> {
        let rows: Vec<Option<TenantId>> = self
            .look_up(diesel::select(lookups::resolve_tenant_slug(
                slug.to_owned(),
            )))
            .await?;
        Ok(rows.into_iter().next().flatten())
    }

    /// The active tenant that has `host` as a verified domain (compared in lower case;
    /// strip any port first): `rowguard.resolve_tenant_host`, as
    /// [`TenantPool::resolve_slug`] runs its look-up. Unverified domains resolve to
    /// nothing.
    ///
    /// # Errors
    /// As [`TenantPool::fetch`].
    pub async fn resolve_host(&self, host: &str) -> Result<Option<TenantId>> {
        let rows: Vec<Option<TenantId>> = self
            .look_up(diesel::select(lookups::resolve_tenant_host(
                host.to_owned(),
            )))
            .await?;
        Ok(rows.into_iter().next().flatten())
    }

    /// `(tenant, user, role)` of the live session whose token hashes to `token_hash`:
    /// `rowguard.resolve_session`, which also touches the session's `last_used_at` at
    /// most once a minute. See [`crate::auth::resolve_session`].
    pub(crate) async fn session_look_up(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<(uuid::Uuid, uuid::Uuid, String)>> {
        let rows: Vec<(uuid::Uuid, uuid::Uuid, String)> = self
            .look_up(diesel::select(lookups::resolve_session(
                token_hash.to_vec(),
            )))
            .await?;
        Ok(rows.into_iter().next())
    }

    /// The status of the tenant of the session whose token hashes to `token_hash`, when
    /// that session would be live but for its tenant: `rowguard.session_tenant_status`.
    pub(crate) async fn session_tenant_status(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<String>> {
        let rows: Vec<Option<String>> = self
            .look_up(diesel::select(lookups::session_tenant_status(
                token_hash.to_vec(),
            )))
            .await?;
        Ok(rows.into_iter().next().flatten())
    }

    /// `(tenant, invite)` of the pending invite whose token hashes to `token_hash`:
    /// `rowguard.resolve_invite`. See [`crate::auth::accept_invite`].
    pub(crate) async fn invite_look_up(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<(uuid::Uuid, uuid::Uuid)>> {
        let rows: Vec<(uuid::Uuid, uuid::Uuid)> = self
            .look_up(diesel::select(lookups::resolve_invite(token_hash.to_vec())))
            .await?;
        Ok(rows.into_iter().next())
    }

    /// Runs one pre-tenant look-up, as the application role with an empty context (no
    /// tenant: every tenant table reads as refused), as `fetch` runs a query.
    async fn look_up<'q, Q, U, ST>(&self, query: Q) -> Result<Vec<U>>
    where
        Q: AsQuery + Send + 'q,
        Q::Query: QueryFragment<Pg> + QueryId + Send + 'q,
        Q::SqlType: CompatibleType<U, Pg, SqlType = ST>,
        U: FromSqlRow<ST, Pg> + Send + 'static,
        Pg: QueryMetadata<Q::SqlType>,
        ST: 'static,
    {
        let span = tracing::info_span!("rowguard.look_up");
        async {
            let set = context_query(
                self.core.config.app_role.as_deref(),
                String::new(),
                self.core.timeouts(),
            );
            let mut checkout = self.checkout().await?;
            let cache = self.core.config.statement_cache;
            pipeline::fetch(&mut checkout.conn, set, query, cache).await
        }
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
    /// of its own before it executes, so through `fetch` they take three. Raw SQL from
    /// a fixed set wrapped in [`Prepared`] is kept prepared, and takes one. With the
    /// statement cache off, `fetch` is a [`TenantPool::with_tenant`] of one statement.
    /// The span's `one_round_trip` field tells which shape a call took. Either way the
    /// server's replies are checked against the shape sent, and a connection that does
    /// not match is discarded with [`Error::Protocol`] rather than trusted.
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
            let set = self.context_statement(ctx);
            let mut checkout = self.checkout().await?;
            let cache = self.core.config.statement_cache;
            pipeline::fetch(&mut checkout.conn, set, query, cache).await
        }
        .instrument(span)
        .await
    }

    /// Runs `f` on a pooled connection with no transaction and no context: only for
    /// tests that check what a pooled connection carries between transactions.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub async fn unscoped_for_tests<R, F>(&self, f: F) -> Result<R>
    where
        F: for<'r> AsyncFnOnce(&'r mut diesel_async::AsyncPgConnection) -> Result<R>,
    {
        let mut checkout = self.checkout().await?;
        f(&mut checkout.conn.session.conn).await
    }

    /// Marks the type of `query` as prepared on the next connection checked out,
    /// whether it is or not: only for the test that proves [`TenantPool::fetch`]
    /// notices when its one-round-trip shape goes wrong.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub async fn pretend_prepared_for_tests<Q>(&self, query: Q) -> Result<()>
    where
        Q: AsQuery,
        Q::Query: QueryFragment<Pg> + QueryId,
    {
        let key = checkout::StatementKey::of(&query.as_query())
            .ok_or_else(|| Error::InvalidInput("diesel does not cache this query".into()))?;
        let mut checkout = self.checkout().await?;
        checkout.conn.prepared.insert(key);
        Ok(())
    }
}

/// A pool of connections that only hands them out inside admin transactions, as
/// `rowguard_admin` (BYPASSRLS): for the control plane and cross-tenant workers. Its
/// login (`ROWGUARD_ADMIN_URL`) is a member of `rowguard_admin`, and is never the
/// tenant pool's.
///
/// ```no_run
/// # async fn demo() -> rowguard::Result<()> {
/// let admin = rowguard::pool::PoolConfig::admin_from_env()?.build_admin()?;
/// // The tenant pool can take its key from the database at start.
/// let key = admin.context_key().await?;
/// let pool = rowguard::pool::PoolConfig::from_env()?.context_key(key).build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AdminPool {
    core: Core,
}

impl std::fmt::Debug for AdminPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminPool")
            .field("max_size", &self.core.config.max_size)
            .field("state", &self.core.state())
            .finish()
    }
}

impl AdminPool {
    /// Builds an admin pool from `config` (its context key, if any, is not used).
    /// Connections open lazily.
    pub fn new(config: PoolConfig) -> Result<Self> {
        Ok(Self {
            core: Core::new(config)?,
        })
    }

    /// Builds a pool from [`PoolConfig::admin_from_env`].
    pub fn from_env() -> Result<Self> {
        Self::new(PoolConfig::admin_from_env()?)
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.core.config
    }

    /// Connections open and idle right now: `(open, idle)`.
    pub fn state(&self) -> (u32, u32) {
        self.core.state()
    }

    /// Runs `f` in one transaction as `rowguard_admin` (BYPASSRLS), for the control
    /// plane and cross-tenant workers. `reason` is recorded in tracing, and in the
    /// audit trail as the actor (`admin:<reason>`) of every row the transaction writes:
    /// the context statement binds it to `rowguard.admin_reason`, at no extra round
    /// trip.
    ///
    /// ```no_run
    /// use diesel::QueryDsl;
    /// use diesel_async::RunQueryDsl;
    /// # async fn demo(admin: rowguard::pool::AdminPool) -> rowguard::Result<()> {
    /// let tenants: i64 = admin
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
        self.admin_transaction(reason, pipeline::Begin::Default, f)
            .await
    }

    /// Runs `f` in one admin transaction, as [`AdminPool::as_admin`] does, that reads
    /// from one snapshot and writes nothing: `REPEATABLE READ, READ ONLY`. Every
    /// statement of `f` sees the database as it was at its first statement, so reads
    /// across many tables are consistent with each other (an export); a write fails
    /// with the server's read-only error. `reason` is recorded in tracing.
    ///
    /// ```no_run
    /// use diesel::QueryDsl;
    /// use diesel_async::RunQueryDsl;
    /// # async fn demo(admin: rowguard::pool::AdminPool) -> rowguard::Result<()> {
    /// let (tenants, users): (i64, i64) = admin
    ///     .snapshot("consistent head count", async |conn| {
    ///         let tenants = rowguard::schema::tenants::table.count().get_result(conn).await?;
    ///         let users = rowguard::schema::users::table.count().get_result(conn).await?;
    ///         Ok((tenants, users))
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn snapshot<R, F>(&self, reason: &str, f: F) -> Result<R>
    where
        F: for<'r> AsyncFnOnce(&'r mut AdminConn) -> Result<R>,
        R: Send,
    {
        self.admin_transaction(reason, pipeline::Begin::Snapshot, f)
            .await
    }

    /// An admin transaction opened by `begin`: the reason checked and recorded, the
    /// admin role set by the context statement, as for every admin transaction.
    async fn admin_transaction<R, F>(&self, reason: &str, begin: pipeline::Begin, f: F) -> Result<R>
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
        let set = crate::tenant::set_admin_query(
            &self.core.config.admin_role,
            reason,
            self.core.timeouts(),
        );
        async {
            tracing::info!(reason, ?begin, "admin transaction (BYPASSRLS)");
            let mut checkout = self.core.checkout().await?;
            let pipelined = self.core.config.statement_cache;
            pipeline::transaction(
                &mut checkout.conn.session,
                begin,
                set,
                pipelined,
                async |session| f(AdminConn::wrap(session)).await,
            )
            .await
        }
        .instrument(span)
        .await
    }

    /// The newest context key that is not retired, for a tenant pool to sign with
    /// ([`PoolConfig::context_key`]).
    pub async fn context_key(&self) -> Result<ContextKey> {
        let rows: Vec<crate::context::StoredKey> = self
            .as_admin("load the context key", async |conn| {
                Ok(diesel::sql_query(crate::context::NEWEST_KEY_SQL)
                    .load(conn)
                    .await?)
            })
            .await?;
        crate::context::StoredKey::newest(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ContextKey {
        ContextKey::from_secret(1, &[7; 32]).expect("key")
    }

    #[test]
    fn building_outside_a_runtime_is_a_typed_error_not_a_panic() {
        let err = PoolConfig::new("postgres://nobody@127.0.0.1:1/none")
            .context_key(key())
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
            .context_key(key())
            .max_size(0)
            .build()
            .expect_err("size 0");
        assert!(matches!(err, Error::Config(_)));
    }

    #[test]
    fn a_tenant_pool_without_a_key_is_refused() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let _inside = rt.enter();
        let err = PoolConfig::new("postgres://nobody@127.0.0.1:1/none")
            .build()
            .expect_err("no key");
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("context key")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_connection_lost_not_a_hang() {
        let pool = PoolConfig::new("postgres://nobody@127.0.0.1:1/none")
            .context_key(key())
            .checkout_timeout(std::time::Duration::from_millis(500))
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
