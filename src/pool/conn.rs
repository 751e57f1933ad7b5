//! The connections a transaction's closure is handed: [`TenantConn`] and [`AdminConn`].
//!
//! Neither dereferences to `AsyncPgConnection`. They implement the two diesel-async
//! traits that `RunQueryDsl` needs (`SimpleAsyncConnection` and `AsyncConnectionCore`)
//! and nothing more, so a closure can run queries but cannot open a nested
//! transaction, change the prepared-statement cache (which the pool's pipelining
//! relies on), or send a multi-statement string: `batch_execute` is refused with an
//! error. Every database error they return carries its SQLSTATE ([`super::coded`]).

use std::sync::Arc;

use diesel::pg::Pg;
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel::QueryResult;
use diesel_async::{AsyncConnectionCore, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use ref_cast::{ref_cast_custom, RefCastCustom};

use super::wire::Wire;
use crate::search::CountsCache;
use crate::tenant::TenantContext;

/// A pooled connection as transactions see it: diesel-async's connection, what its
/// socket has seen, and the context of the transaction running on it.
pub(crate) struct Session {
    pub(crate) conn: AsyncPgConnection,
    pub(crate) wire: Arc<Wire>,
    /// The tenant context of the transaction in progress; `None` outside tenant
    /// transactions.
    pub(crate) ctx: Option<TenantContext>,
    /// The pool's recent copies of tenants' search counts, shared by its connections
    /// (`crate::search::counts`).
    pub(crate) counts: Arc<CountsCache>,
}

/// A connection inside a tenant transaction, acting for one [`TenantContext`].
///
/// Queries run on it with diesel-async's `RunQueryDsl` (`query.load(conn)`), and RLS
/// confines every statement to the tenant. Only [`crate::pool::TenantPool`] creates one.
///
/// ```no_run
/// use diesel::QueryDsl;
/// use diesel_async::RunQueryDsl;
/// # async fn demo(pool: rowguard::pool::TenantPool, ctx: rowguard::TenantContext) -> rowguard::Result<()> {
/// let n: i64 = pool
///     .with_tenant(&ctx, async |conn| {
///         assert_eq!(conn.context().tenant_id, ctx.tenant_id);
///         Ok(rowguard::schema::tasks::table.count().get_result(conn).await?)
///     })
///     .await?;
/// # Ok(()) }
/// ```
#[derive(RefCastCustom)]
#[repr(transparent)]
pub struct TenantConn(Session);

/// A connection inside an admin transaction (`rowguard_admin`, BYPASSRLS). A distinct
/// type from [`TenantConn`], so tenant code cannot be handed one by accident. Only
/// [`crate::pool::AdminPool::as_admin`] creates it.
#[derive(RefCastCustom)]
#[repr(transparent)]
pub struct AdminConn(Session);

impl TenantConn {
    #[ref_cast_custom]
    fn wrap(session: &mut Session) -> &mut TenantConn;

    /// The session as a tenant connection acting for `ctx`.
    pub(crate) fn enter(session: &mut Session, ctx: TenantContext) -> &mut TenantConn {
        session.ctx = Some(ctx);
        Self::wrap(session)
    }

    /// The context this transaction acts for.
    pub fn context(&self) -> &TenantContext {
        #[allow(clippy::expect_used)]
        // `enter`, the only way to make a TenantConn, has just set it.
        self.0
            .ctx
            .as_ref()
            .expect("a TenantConn always has its context")
    }

    /// diesel-async's connection, for the crate's own pipelined statements.
    pub(crate) fn pg(&mut self) -> &mut AsyncPgConnection {
        &mut self.0.conn
    }

    /// The connection's wire, to attach SQLSTATEs to errors of the crate's own statements.
    pub(crate) fn wire(&self) -> &Wire {
        &self.0.wire
    }

    /// The pool's recent copies of tenants' search counts.
    pub(crate) fn counts_cache(&self) -> &CountsCache {
        &self.0.counts
    }
}

impl AdminConn {
    #[ref_cast_custom]
    pub(crate) fn wrap(session: &mut Session) -> &mut AdminConn;
}

/// The error `batch_execute` gives inside a rowguard transaction.
fn no_batch_execute() -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        "batch_execute is not available inside a rowguard transaction: \
         run one statement at a time with diesel's query builder or sql_query"
            .into(),
    )
}

macro_rules! connection_traits {
    ($conn:ty) => {
        impl SimpleAsyncConnection for $conn {
            async fn batch_execute(&mut self, _query: &str) -> QueryResult<()> {
                Err(no_batch_execute())
            }
        }

        impl AsyncConnectionCore for $conn {
            type ExecuteFuture<'conn, 'query> = BoxFuture<'conn, QueryResult<usize>>;
            type LoadFuture<'conn, 'query> =
                BoxFuture<'conn, QueryResult<Self::Stream<'conn, 'query>>>;
            type Stream<'conn, 'query> = BoxStream<
                'conn,
                QueryResult<<AsyncPgConnection as AsyncConnectionCore>::Row<'conn, 'query>>,
            >;
            type Row<'conn, 'query> =
                <AsyncPgConnection as AsyncConnectionCore>::Row<'conn, 'query>;
            type Backend = Pg;

            fn load<'conn, 'query, T>(&'conn mut self, source: T) -> Self::LoadFuture<'conn, 'query>
            where
                T: AsQuery + 'query,
                T::Query: QueryFragment<Pg> + QueryId + 'query,
            {
                // A statement's error can arrive with its result (the future) or after
                // its first rows (the stream): both carry their SQLSTATE.
                let wire = Arc::clone(&self.0.wire);
                self.0
                    .conn
                    .load(source)
                    .map(move |r| match r {
                        Ok(rows) => Ok(rows
                            .map(move |row| row.map_err(|e| super::coded::attach(e, &wire)))
                            .boxed()),
                        Err(e) => Err(super::coded::attach(e, &wire)),
                    })
                    .boxed()
            }

            fn execute_returning_count<'conn, 'query, T>(
                &'conn mut self,
                source: T,
            ) -> Self::ExecuteFuture<'conn, 'query>
            where
                T: QueryFragment<Pg> + QueryId + 'query,
            {
                let wire = Arc::clone(&self.0.wire);
                self.0
                    .conn
                    .execute_returning_count(source)
                    .map(move |r| r.map_err(|e| super::coded::attach(e, &wire)))
                    .boxed()
            }
        }
    };
}

connection_traits!(TenantConn);
connection_traits!(AdminConn);
