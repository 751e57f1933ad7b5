//! What rowguard reads from PostgreSQL's catalog, for tools and tests that walk the
//! schema: the tenant tables, and identifier quoting for the names found there.
//!
//! The doctor's rules start from the same list of tenant tables.

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;

/// The query behind [`tenant_tables`], to run on any connection (an async one too):
/// every table outside the system schemas, and not owned by an extension, that has a
/// `tenant_id` column, plus `tenants`; ordered by table name. Rows are [`TenantTable`].
///
/// Any role may run it: it reads `pg_class` and `pg_attribute` only.
pub const TENANT_TABLES_SQL: &str = crate::doctor::catalog::TENANT_TABLES_SQL;

/// A tenant table, as [`TENANT_TABLES_SQL`] returns it.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct TenantTable {
    /// The schema-qualified name, quoted where needed (`public.tasks`), ready for SQL.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The table's own name, unquoted (`tasks`).
    #[diesel(sql_type = Text)]
    pub table_name: String,
    /// The column that names the row's tenant: `tenant_id`, or `id` on `tenants`.
    #[diesel(sql_type = Text)]
    pub key_column: String,
}

/// Every tenant table of the database `conn` is connected to (see [`TENANT_TABLES_SQL`]).
///
/// ```no_run
/// # use diesel::Connection;
/// # let mut conn = diesel::PgConnection::establish("postgres://localhost/app")?;
/// for t in rowguard::catalog::tenant_tables(&mut conn)? {
///     println!("{} (tenant in {})", t.name, t.key_column);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Database errors as classified by [`crate::Error`].
pub fn tenant_tables(conn: &mut diesel::PgConnection) -> crate::Result<Vec<TenantTable>> {
    use diesel::RunQueryDsl;
    Ok(diesel::sql_query(TENANT_TABLES_SQL).load(conn)?)
}

/// One statement that counts the rows of each of `tables`, one [`TableRows`] row per
/// table, in their order. With `by_tenant`, it counts only the rows whose tenant key
/// (`tenant_id`, or `id` on `tenants`) equals `$1`: bind a tenant id.
///
/// Table names come from the catalog ([`TenantTable::name`] is quoted already); no
/// value is ever written into the statement.
pub fn count_rows_sql(tables: &[TenantTable], by_tenant: bool) -> String {
    tables
        .iter()
        .map(|t| {
            let filter = if by_tenant {
                format!(" WHERE {} = $1", quote_ident(&t.key_column))
            } else {
                String::new()
            };
            format!(
                "SELECT '{}'::text AS table_name, count(*) AS n FROM {}{filter}",
                t.table_name.replace('\'', "''"),
                t.name
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// A table's row count, as [`count_rows_sql`] returns it.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub struct TableRows {
    /// The table's own name, unquoted (`tasks`).
    #[diesel(sql_type = Text)]
    pub table_name: String,
    /// Its rows counted.
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// `name` as an SQL identifier: always in double quotes, inner quotes doubled, so any
/// name from the catalog (a keyword, mixed case, spaces) is written back exactly.
///
/// ```
/// use rowguard::catalog::quote_ident;
/// assert_eq!(quote_ident("tasks"), "\"tasks\"");
/// assert_eq!(quote_ident("user"), "\"user\"");
/// assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
/// ```
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
