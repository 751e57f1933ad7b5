//! [`Prepared`]: raw SQL that stays prepared on its connection.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Untyped;
use diesel::QueryResult;

/// A `diesel::sql_query` that stays prepared on each pooled connection.
///
/// diesel never keeps a `sql_query` prepared: it cannot know that the text comes from a
/// fixed set. So every run parses it again, and diesel-async sends its Bind only after
/// the Parse has answered: a round trip of its own, and parse-analysis on the server,
/// before the statement can run. Wrapped in `Prepared`, the statement joins
/// diesel-async's statement cache, keyed by its SQL text and bind types: from its
/// second run on a connection it goes out as Bind/Execute at once, pipelined with
/// whatever precedes it, and [`super::TenantPool::fetch`] runs it in one round trip.
///
/// **Only for SQL from a fixed set** (string constants, or texts built from a few
/// choices): the statement cache is unbounded, and every distinct text stays prepared
/// on every connection for the connection's life. Never wrap SQL that embeds values.
/// PostgreSQL plans a prepared statement generically after five runs when it judges
/// that cheaper; set `plan_cache_mode` in the transaction where a plan must see the
/// bound values. With [`super::PoolConfig::statement_cache`] off, nothing is prepared
/// and this changes nothing.
///
/// ```no_run
/// use diesel::sql_types::{BigInt, Uuid};
/// use diesel_async::RunQueryDsl;
/// use rowguard::pool::Prepared;
///
/// #[derive(diesel::QueryableByName)]
/// struct Open {
///     #[diesel(sql_type = BigInt)]
///     n: i64,
/// }
///
/// # async fn demo(pool: rowguard::pool::TenantPool, ctx: rowguard::TenantContext, user: uuid::Uuid) -> rowguard::Result<()> {
/// let open: Vec<Open> = pool
///     .fetch(
///         &ctx,
///         Prepared::new(
///             diesel::sql_query(
///                 "SELECT count(*) AS n FROM tasks WHERE assignee_id = $1 AND status <> 'done'",
///             )
///             .bind::<Uuid, _>(user),
///         ),
///     )
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Prepared<Q>(Q);

impl<Q: Query<SqlType = Untyped>> Prepared<Q> {
    /// Keeps `query` prepared. Its SQL must come from a fixed set (see above). Only
    /// raw SQL (`sql_query`, with binds, boxed or not) has the untyped rows this
    /// takes: query-builder statements that diesel does not cache vary their SQL with
    /// their input (a multi-row insert), so they are left out.
    pub fn new(query: Q) -> Self {
        Self(query)
    }
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}
