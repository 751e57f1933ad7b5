//! Per-tenant HNSW indexes: the graph a large tenant searches on its own.
//!
//! A shared HNSW graph cannot serve a tenant that is a minority around the query: the
//! iterative scan walks through other tenants' rows, RLS drops them, and the scan
//! stops at `max_scan_tuples` with the nearest rows it met, not the nearest there are
//! (docs/search-bench.md: recall@10 0.50 for a tenant holding half the table, asked
//! about other tenants' topics). A partial index `WHERE tenant_id = '<tenant>'` is a
//! graph of that tenant's rows only: HNSW at its own size, whatever the query.
//!
//! The indexes are named `<table>_hnsw_<tenant uuid without hyphens>` and index the
//! expression `l2_normalize(embedding)::vector(1536)` (the unit-length embedding: the
//! same graph for cosine, and a different expression from the shared index's column,
//! so the SQL text alone decides which index a query walks). The search
//! ([`Strategy::TenantHnsw`](super::Strategy::TenantHnsw)) uses one only when it is
//! valid, is an HNSW index with the table's operator class, and its predicate is
//! exactly `tenant_id = '<that tenant>'`, so a half-built index (a failed
//! `CREATE INDEX CONCURRENTLY` leaves one behind) or one that merely carries the name
//! is never taken for the tenant's graph. Without one, a tenant above
//! [`StrategyRules::exact_max_rows`](super::StrategyRules::exact_max_rows) is scanned
//! exactly: slower, never wrong.
//!
//! Building is the table owner's job (DDL), outside any transaction, with
//! `CREATE INDEX CONCURRENTLY`, so that the tenant keeps writing while its graph is
//! built: [`sync`] creates the indexes of tenants above [`SyncOptions::min_rows`],
//! rebuilds invalid ones, and drops those of tenants that shrank below half of it or
//! are gone. `rowguard indexes sync` runs it; run it after bulk loads and on a
//! schedule. The owner reads every tenant's counts through
//! `rowguard.embedding_tenant_rows()`, which `rowguard_app` cannot execute.
//!
//! Index names and predicates are catalog metadata that every role can read: they name
//! the ids of tenants that have a graph of their own (never a row of theirs).

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Kind, StrategyRules, TABLES};
use crate::{Error, Result};

/// The infix between the table's name and the tenant's id in an index name.
pub const NAME_INFIX: &str = "_hnsw_";

/// What a tenant's index holds: the embedding scaled to unit length. Cosine distance
/// does not change with scale, so the graph is the same one the column would give
/// (embedding models' vectors are unit length already); but the expression is not the
/// column, so only a query ordered by this very expression can walk the index, and no
/// such query can walk the table's shared index on the column. The choice between the
/// two is the SQL text's, never the planner's costs.
pub(crate) const INDEXED: &str = "l2_normalize(embedding)::vector(1536)";

/// [`INDEXED`] as `pg_get_expr` prints it back from the catalog (written out in
/// [`usable_tenant_index!`]; a test holds it to this).
#[cfg(test)]
pub(crate) const INDEXED_DEPARSED: &str = "(l2_normalize(embedding))::vector(1536)";

/// The catalog's word that a tenant's index is one a search may walk, as an SQL
/// condition on `i` (its `pg_index` row) and `am` (its access method): valid and ready,
/// HNSW with the table's operator class (the SQL expression `$opclass` names it), on
/// [`INDEXED`], and for exactly the tenant `$tenant` (an SQL expression of type uuid).
/// `LIST_SQL` here and the search's `COUNTS_SQL` both test it, so `rowguard indexes list`
/// calls usable exactly the indexes a search walks.
macro_rules! usable_tenant_index {
    ($opclass:literal, $tenant:literal) => {
        concat!(
            "(i.indisvalid AND i.indisready AND am.amname = 'hnsw' \
              AND i.indclass[0] = (SELECT o.oid FROM pg_catalog.pg_opclass o \
                                    WHERE o.opcname = ",
            $opclass,
            " AND o.opcmethod = am.oid) \
              AND pg_catalog.pg_get_expr(i.indexprs, i.indrelid) \
                  = '(l2_normalize(embedding))::vector(1536)' \
              AND pg_catalog.pg_get_expr(i.indpred, i.indrelid) \
                  = format('(tenant_id = %L::uuid)', ",
            $tenant,
            "))"
        )
    };
}
pub(crate) use usable_tenant_index;

/// The name of `tenant`'s HNSW index on `kind`'s table (`kind` names one table).
///
/// ```
/// use rowguard::search::{tenant_index::index_name, Kind};
/// let t = uuid::Uuid::nil();
/// assert_eq!(
///     index_name(Kind::Documents, t).unwrap(),
///     "document_embeddings_hnsw_00000000000000000000000000000000"
/// );
/// ```
pub fn index_name(kind: Kind, tenant: Uuid) -> Result<String> {
    let table = kind.table().ok_or_else(|| {
        Error::InvalidInput(format!(
            "{kind} is not one table: name documents, deals or meetings"
        ))
    })?;
    let name = format!("{}{NAME_INFIX}{}", table.name, tenant.simple());
    // PostgreSQL cuts identifiers at 63 bytes: a longer name would be created cut, and
    // then never found under its full name.
    if name.len() > 63 {
        return Err(Error::InvalidInput(format!(
            "index name {name} is longer than PostgreSQL's 63 bytes"
        )));
    }
    Ok(name)
}

/// The statement that builds `tenant`'s index on `kind`'s table. Only the table's name,
/// its operator class and the tenant's id (formatted here, never taken from input) are
/// in it.
pub fn create_sql(kind: Kind, tenant: Uuid) -> Result<String> {
    let name = index_name(kind, tenant)?;
    let table = kind
        .table()
        .ok_or_else(|| Error::InvalidInput(kind.to_string()))?;
    Ok(format!(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON public.{} USING hnsw \
         (({INDEXED}) {}) WHERE tenant_id = '{}'::uuid",
        table.name,
        table.hnsw_metric.hnsw_opclass(),
        tenant.hyphenated()
    ))
}

/// One per-tenant index found in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantIndex {
    /// Its table.
    pub kind: Kind,
    /// The tenant its name names.
    pub tenant_id: Uuid,
    /// The index's name.
    pub name: String,
    /// Built, valid, and exactly `tenant_id = '<tenant>'` with the table's operator class:
    /// what the search requires before it uses the index.
    pub usable: bool,
    /// On-disk size in bytes.
    pub bytes: i64,
    /// The tenant's rows in the table now (0 when the tenant has none or is gone).
    pub tenant_rows: u64,
}

/// One change [`sync`] makes (or, with [`SyncOptions::dry_run`], would make).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// Build the index of a tenant above the threshold that has none.
    Create {
        /// The table.
        kind: Kind,
        /// The tenant.
        tenant_id: Uuid,
        /// Its rows in the table.
        tenant_rows: u64,
    },
    /// Drop an index that is not usable (half-built, or not what its name says) and
    /// build it again.
    Rebuild {
        /// The table.
        kind: Kind,
        /// The tenant.
        tenant_id: Uuid,
        /// Its rows in the table.
        tenant_rows: u64,
    },
    /// Drop the index of a tenant that shrank below half the threshold or is gone.
    Drop {
        /// The table.
        kind: Kind,
        /// The tenant.
        tenant_id: Uuid,
        /// Its rows in the table.
        tenant_rows: u64,
    },
}

impl Change {
    /// The index this change is about.
    pub fn index_name(&self) -> String {
        let (kind, tenant) = match self {
            Change::Create {
                kind, tenant_id, ..
            }
            | Change::Rebuild {
                kind, tenant_id, ..
            }
            | Change::Drop {
                kind, tenant_id, ..
            } => (*kind, *tenant_id),
        };
        index_name(kind, tenant).unwrap_or_default()
    }
}

/// What [`sync`] does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOptions {
    /// Tenants with more rows than this in a table get an index of their own there.
    /// Default: [`StrategyRules::exact_max_rows`], the size above which an exact scan
    /// stops being cheap. An index is dropped when its tenant falls to half of this.
    pub min_rows: u64,
    /// `maintenance_work_mem` for the builds (`"1GB"`); the server's setting when
    /// `None`. HNSW builds slow down sharply once the graph outgrows it.
    pub maintenance_work_mem: Option<String>,
    /// Report the changes without making them.
    pub dry_run: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            min_rows: StrategyRules::default().exact_max_rows,
            maintenance_work_mem: None,
            dry_run: false,
        }
    }
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    usable: bool,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = BigInt)]
    tenant_rows: i64,
}

/// Every index named like a per-tenant index on the embedding tables, and whether the
/// search would use it: [`usable_tenant_index!`], the condition the search's
/// `COUNTS_SQL` (parent module) tests too.
const LIST_SQL: &str = concat!(
    "\
SELECT c.relname::text AS table_name, ic.relname::text AS index_name, \
       coalesce(",
    usable_tenant_index!(
        "t.opclass",
        "substr(ic.relname, length(c.relname) + 7)::uuid"
    ),
    ", false) AS usable, \
       pg_catalog.pg_relation_size(ic.oid)::int8 AS bytes \
  FROM (VALUES ('document_embeddings', 'vector_cosine_ops'), \
               ('deal_activity_embeddings', 'vector_cosine_ops'), \
               ('meeting_embeddings', 'vector_cosine_ops')) AS t (name, opclass) \
  JOIN pg_catalog.pg_class c ON c.relname = t.name \
   AND c.relnamespace = 'public'::regnamespace \
  JOIN pg_catalog.pg_index i ON i.indrelid = c.oid \
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
  JOIN pg_catalog.pg_am am ON am.oid = ic.relam \
 WHERE ic.relname ~ ('^' || c.relname || '_hnsw_[0-9a-f]{32}$') \
 ORDER BY 1, 2"
);

fn kind_of_table(name: &str) -> Option<Kind> {
    TABLES.iter().find(|t| t.name == name).map(|t| t.kind)
}

fn counts(conn: &mut PgConnection) -> Result<Vec<(Kind, Uuid, u64)>> {
    let rows: Vec<CountRow> = diesel::sql_query(
        "SELECT kind, tenant_id, tenant_rows FROM rowguard.embedding_tenant_rows()",
    )
    .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.kind.parse()?,
                r.tenant_id,
                u64::try_from(r.tenant_rows).unwrap_or(0),
            ))
        })
        .collect()
}

/// The per-tenant indexes in the catalog, with their tenants' row counts. Run as the
/// owner (or any role that may execute `rowguard.embedding_tenant_rows()`).
pub fn list(conn: &mut PgConnection) -> Result<Vec<TenantIndex>> {
    let counts = counts(conn)?;
    list_with(conn, &counts)
}

/// [`list`], with the counts already read.
fn list_with(conn: &mut PgConnection, counts: &[(Kind, Uuid, u64)]) -> Result<Vec<TenantIndex>> {
    let rows: Vec<IndexRow> = diesel::sql_query(LIST_SQL).load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(kind) = kind_of_table(&r.table_name) else {
            continue;
        };
        let suffix = &r.index_name[r.table_name.len() + NAME_INFIX.len()..];
        let tenant_id = Uuid::try_parse(suffix)
            .map_err(|e| Error::Protocol(format!("index {} names no tenant: {e}", r.index_name)))?;
        let tenant_rows = counts
            .iter()
            .find(|(k, t, _)| *k == kind && *t == tenant_id)
            .map_or(0, |(_, _, n)| *n);
        out.push(TenantIndex {
            kind,
            tenant_id,
            name: r.index_name,
            usable: r.usable,
            bytes: r.bytes,
            tenant_rows,
        });
    }
    Ok(out)
}

/// The changes that bring the per-tenant indexes in line with `opts.min_rows`.
pub fn plan(conn: &mut PgConnection, opts: &SyncOptions) -> Result<Vec<Change>> {
    let counts = counts(conn)?;
    let existing = list_with(conn, &counts)?;
    let mut changes = Vec::new();
    for (kind, tenant_id, tenant_rows) in &counts {
        if *tenant_rows <= opts.min_rows {
            continue;
        }
        let (kind, tenant_id, tenant_rows) = (*kind, *tenant_id, *tenant_rows);
        match existing
            .iter()
            .find(|i| i.kind == kind && i.tenant_id == tenant_id)
        {
            None => changes.push(Change::Create {
                kind,
                tenant_id,
                tenant_rows,
            }),
            Some(i) if !i.usable => changes.push(Change::Rebuild {
                kind,
                tenant_id,
                tenant_rows,
            }),
            Some(_) => {}
        }
    }
    for i in &existing {
        if i.tenant_rows <= opts.min_rows / 2 {
            changes.push(Change::Drop {
                kind: i.kind,
                tenant_id: i.tenant_id,
                tenant_rows: i.tenant_rows,
            });
        }
    }
    Ok(changes)
}

fn check_memory(setting: &str) -> Result<()> {
    let digits = setting.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &setting[digits.len()..];
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !["", "kB", "MB", "GB", "TB"].contains(&unit)
    {
        return Err(Error::InvalidInput(format!(
            "maintenance_work_mem must be a number with kB, MB, GB or TB, got {setting:?}"
        )));
    }
    Ok(())
}

/// Makes one change: `DROP INDEX CONCURRENTLY` and/or `CREATE INDEX CONCURRENTLY`, each
/// its own statement outside any transaction. Returns how long it took.
pub fn apply(conn: &mut PgConnection, change: &Change) -> Result<Duration> {
    let start = Instant::now();
    let name = change.index_name();
    match change {
        Change::Create {
            kind, tenant_id, ..
        } => conn.batch_execute(&create_sql(*kind, *tenant_id)?)?,
        Change::Rebuild {
            kind, tenant_id, ..
        } => {
            conn.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS public.{name}"))?;
            conn.batch_execute(&create_sql(*kind, *tenant_id)?)?;
        }
        Change::Drop { .. } => {
            conn.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS public.{name}"))?
        }
    }
    Ok(start.elapsed())
}

/// Plans and makes every change (see the module's documentation), calling `progress`
/// after each with the time it took. Builds are serial (`max_parallel_maintenance_workers
/// = 0`, which also keeps clear of CVE-2026-3172 on pgvector 0.6.0 to 0.8.1). A failed
/// build stops the run with its error and leaves an invalid index, which the search
/// ignores and the next run rebuilds.
pub fn sync(
    conn: &mut PgConnection,
    opts: &SyncOptions,
    mut progress: impl FnMut(&Change, Duration),
) -> Result<Vec<Change>> {
    if let Some(mem) = &opts.maintenance_work_mem {
        check_memory(mem)?;
    }
    let changes = plan(conn, opts)?;
    if opts.dry_run || changes.is_empty() {
        return Ok(changes);
    }
    diesel::sql_query("SELECT set_config('max_parallel_maintenance_workers', '0', false)")
        .execute(conn)?;
    if let Some(mem) = &opts.maintenance_work_mem {
        diesel::sql_query("SELECT set_config('maintenance_work_mem', $1, false)")
            .bind::<Text, _>(mem)
            .execute(conn)?;
    }
    for change in &changes {
        let took = apply(conn, change)?;
        progress(change, took);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deparsed_expression_is_the_indexed_one() {
        assert_eq!(INDEXED_DEPARSED, "(l2_normalize(embedding))::vector(1536)");
        assert!(LIST_SQL.contains(INDEXED_DEPARSED));
        assert!(super::super::counts::COUNTS_SQL.contains(INDEXED_DEPARSED));
        assert_eq!(
            super::super::DIMENSIONS,
            1536,
            "INDEXED names the dimension"
        );
    }

    #[test]
    fn names_and_statements() {
        let t = Uuid::parse_str("0191c2a4-7e5b-7c3d-8f00-123456789abc").unwrap();
        let name = index_name(Kind::Deals, t).unwrap();
        assert_eq!(
            name,
            "deal_activity_embeddings_hnsw_0191c2a47e5b7c3d8f00123456789abc"
        );
        assert!(name.len() <= 63, "PostgreSQL truncates names past 63 bytes");
        assert!(index_name(Kind::All, t).is_err());
        let sql = create_sql(Kind::Documents, t).unwrap();
        assert!(
            sql.contains("USING hnsw ((l2_normalize(embedding)::vector(1536)) vector_cosine_ops)")
        );
        assert!(sql.ends_with("WHERE tenant_id = '0191c2a4-7e5b-7c3d-8f00-123456789abc'::uuid"));
    }

    #[test]
    fn memory_settings_are_checked() {
        assert!(check_memory("1GB").is_ok());
        assert!(check_memory("512MB").is_ok());
        assert!(check_memory("65536").is_ok());
        assert!(check_memory("1 GB").is_err());
        assert!(check_memory("1GB'; DROP TABLE x; --").is_err());
        assert!(check_memory("GB").is_err());
    }
}
