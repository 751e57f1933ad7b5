//! Opening connections and handing them out: bb8's manager, the pooled connection,
//! and a first-come, first-served checkout shared by the tenant and admin pools.

use std::any::TypeId;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bb8::{Pool, PooledConnection};
use diesel::connection::CacheSize;
use diesel::pg::Pg;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::ConnectionError;
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use super::conn::Session;
use super::wire;
use super::PoolConfig;
use crate::error::{Error, Result};
use crate::search::CountsCache;

/// A pooled connection: the session transactions run on, and the statements known to
/// be prepared on it.
pub(crate) struct Pooled {
    pub(crate) session: Session,
    /// Statements that completed on this connection, so diesel-async holds them in
    /// its (unbounded) statement cache, with any custom types they bind resolved: a
    /// new execution of one sends Bind/Execute on its first poll, with no Parse first.
    pub(crate) prepared: HashSet<StatementKey>,
}

impl Pooled {
    /// Broken or not idle: the socket closed, the transaction manager is in error or
    /// inside a transaction, or the server last said it was inside one.
    pub(crate) fn is_unusable(&mut self) -> bool {
        PoolableConnection::is_broken(&mut self.session.conn) || !self.session.wire.is_idle()
    }
}

/// What diesel-async's statement cache is keyed by, for one query: its type, when the
/// type alone fixes the SQL (a static query id), else its SQL and its type (the type
/// fixes the bind types, which diesel-async keys by alongside the SQL). `None` for a
/// query diesel does not cache at all.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum StatementKey {
    Type(TypeId),
    Sql(&'static str, String),
}

impl StatementKey {
    pub(crate) fn of<T: QueryFragment<Pg> + QueryId>(query: &T) -> Option<Self> {
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
pub(crate) struct Manager {
    url: String,
    statement_cache: bool,
    /// Shared by the pool's connections (see [`Session::counts`]).
    counts: Arc<CountsCache>,
}

impl bb8::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = ConnectionError;

    async fn connect(&self) -> std::result::Result<Pooled, ConnectionError> {
        let (mut conn, wire) = wire::connect(&self.url).await?;
        if self.statement_cache {
            prepare_context_statement(&mut conn).await?;
        } else {
            conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        }
        Ok(Pooled {
            session: Session {
                conn,
                wire,
                ctx: None,
                counts: Arc::clone(&self.counts),
            },
            prepared: HashSet::new(),
        })
    }

    async fn is_valid(&self, conn: &mut Pooled) -> std::result::Result<(), ConnectionError> {
        conn.session
            .conn
            .batch_execute("SELECT 1")
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.is_unusable()
    }
}

/// Prepares the context statement on a new connection, so that in every pipelined
/// transaction the context's Bind/Execute go out right after `BEGIN`, ahead of any
/// statement of the caller's. `set_config(..., true)` outside a transaction block
/// changes nothing beyond this one statement.
async fn prepare_context_statement(conn: &mut AsyncPgConnection) -> diesel::ConnectionResult<()> {
    crate::tenant::context_query(None, String::new(), crate::tenant::Timeouts::default())
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(ConnectionError::CouldntSetupConfiguration)
}

/// The last error bb8 met opening a connection (it retries until the checkout
/// timeout and reports only "timed out"), so that a checkout that times out while the
/// server is unreachable says so ([`Error::ConnectionLost`]) rather than
/// [`Error::PoolTimeout`], which is kept for a pool whose connections are all busy.
#[derive(Clone, Debug, Default)]
struct ConnectErrors(Arc<Mutex<Option<(Instant, String)>>>);

impl ConnectErrors {
    /// The last connection error recorded at or after `since`.
    fn since(&self, since: Instant) -> Option<String> {
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
        *last = Some((Instant::now(), error.to_string()));
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<ConnectionError>> {
        Box::new(self.clone())
    }
}

/// A checked-out connection and its place in the queue. The connection goes back to
/// bb8 before the permit is released (fields drop in order), so the next caller in
/// line finds it idle. Owned (it borrows nothing from the pool), so a transaction can
/// outlive the call that opened it ([`super::TenantTx`]).
pub(crate) struct Checkout {
    pub(crate) conn: PooledConnection<'static, Manager>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The pool both [`super::TenantPool`] and [`super::AdminPool`] are built on.
#[derive(Clone)]
pub(crate) struct Core {
    pool: Pool<Manager>,
    pub(crate) config: PoolConfig,
    connect_errors: ConnectErrors,
    /// One permit per connection, handed out first come, first served.
    fair: Arc<tokio::sync::Semaphore>,
}

impl Core {
    pub(crate) fn new(config: PoolConfig) -> Result<Self> {
        if config.max_size == 0 {
            return Err(Error::Config("pool size must be at least 1".into()));
        }
        // bb8 spawns its reaper task on the current runtime and panics without one.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(
                "a pool must be built inside a tokio runtime (e.g. within #[tokio::main])".into(),
            ));
        }
        let manager = Manager {
            url: config.database_url.clone(),
            statement_cache: config.statement_cache,
            counts: Arc::default(),
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
        let fair = Arc::new(tokio::sync::Semaphore::new(config.max_size as usize));
        Ok(Self {
            pool,
            config,
            connect_errors,
            fair,
        })
    }

    /// Connections open and idle right now: `(open, idle)`.
    pub(crate) fn state(&self) -> (u32, u32) {
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
    pub(crate) async fn checkout(&self) -> Result<Checkout> {
        let started = Instant::now();
        let timed_out = || match self.connect_errors.since(started) {
            Some(e) => Error::ConnectionLost(format!("cannot connect: {e}")),
            None => Error::PoolTimeout(self.config.checkout_timeout),
        };
        let permit = tokio::time::timeout(
            self.config.checkout_timeout,
            Arc::clone(&self.fair).acquire_owned(),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|_| Error::Config("the pool was closed".to_owned()))?;
        for _ in 0..=self.config.max_size {
            let mut conn = self.pool.get_owned().await.map_err(|e| match e {
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

    /// The per-transaction timeouts, as PostgreSQL interval strings.
    pub(crate) fn timeouts(&self) -> crate::tenant::Timeouts {
        crate::tenant::Timeouts {
            statement: millis(self.config.statement_timeout),
            idle_in_transaction: millis(self.config.idle_in_transaction_timeout),
        }
    }
}

fn millis(d: Option<Duration>) -> Option<String> {
    d.map(|d| format!("{}ms", d.as_millis().max(1)))
}
