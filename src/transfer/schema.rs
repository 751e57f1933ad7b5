//! What an export reads from the catalog: the tenant tables, their columns typed for
//! the file, their row order, the order they can be inserted in, which of them are
//! derived, and the schema version.

use std::collections::{BTreeMap, BTreeSet};

use diesel::sql_types::{Bool, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use crate::catalog::{quote_ident, TenantTable, TENANT_TABLES_SQL};
use crate::pool::AdminConn;
use crate::{Error, Result};

/// How a column's values are held in the file (and which SQLite type holds them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// pgvector `vector`: a BLOB of little-endian f32.
    Vector,
    /// `bytea`: a BLOB of the bytes.
    Bytes,
    /// `smallint`, `integer`, `bigint`: INTEGER.
    Integer,
    /// `real`, `double precision`: REAL (TEXT for NaN and the infinities, which SQLite
    /// cannot hold as REAL).
    Real,
    /// `boolean`: INTEGER 0 or 1.
    Bool,
    /// `json`, `jsonb`: TEXT, the JSON as PostgreSQL prints it.
    Json,
    /// Everything else (uuid, text, timestamps, dates, enums, numeric, arrays, ...):
    /// TEXT, the value as PostgreSQL prints it, which its input function reads back.
    Text,
}

impl Kind {
    /// The name the file records.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Vector => "vector",
            Kind::Bytes => "bytes",
            Kind::Integer => "integer",
            Kind::Real => "real",
            Kind::Bool => "bool",
            Kind::Json => "json",
            Kind::Text => "text",
        }
    }

    /// The kind a file names.
    pub(crate) fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "vector" => Kind::Vector,
            "bytes" => Kind::Bytes,
            "integer" => Kind::Integer,
            "real" => Kind::Real,
            "bool" => Kind::Bool,
            "json" => Kind::Json,
            "text" => Kind::Text,
            _ => return None,
        })
    }

    /// The SQLite column type (its affinity) for the kind.
    pub(crate) fn sqlite_type(self) -> &'static str {
        match self {
            Kind::Vector | Kind::Bytes => "BLOB",
            Kind::Integer | Kind::Bool => "INTEGER",
            Kind::Real => "REAL",
            Kind::Json | Kind::Text => "TEXT",
        }
    }

    /// The kind of a column whose type (a domain's base type) is `base_type`.
    fn of(base_type: &str) -> Kind {
        match base_type {
            "vector" => Kind::Vector,
            "bytea" => Kind::Bytes,
            "int2" | "int4" | "int8" => Kind::Integer,
            "float4" | "float8" => Kind::Real,
            "bool" => Kind::Bool,
            "json" | "jsonb" => Kind::Json,
            _ => Kind::Text,
        }
    }
}

/// A column an export holds (generated columns are left out: the database computes
/// them again on import).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    /// Its name.
    pub(crate) name: String,
    /// Its type, as `format_type` prints it (`vector(1536)`, `timestamp with time zone`).
    pub(crate) sql_type: String,
    /// How the file holds it.
    pub(crate) kind: Kind,
}

/// A tenant table as an export and an import see it.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    /// The catalog's view of it: names and tenant key.
    pub(crate) table: TenantTable,
    /// Its columns, in the table's order, generated ones left out.
    pub(crate) columns: Vec<Column>,
    /// Its primary key's columns, in key order (rows are read in this order); empty
    /// when it has none.
    pub(crate) primary_key: Vec<String>,
    /// Written only by triggers: the application role may not insert into it.
    pub(crate) derived: bool,
    /// Has a foreign key to itself: its rows go in one statement, so that the
    /// references among them are checked once all are in.
    pub(crate) self_referencing: bool,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    sql_type: String,
    #[diesel(sql_type = Text)]
    base_type: String,
    #[diesel(sql_type = Bool)]
    generated: bool,
}

/// The columns of table `$1` (its quoted, qualified name), in order; a domain's kind
/// comes from its base type.
const COLUMNS_SQL: &str = "SELECT a.attname::text AS column_name, \
       format_type(a.atttypid, a.atttypmod) AS sql_type, \
       bt.typname::text AS base_type, \
       a.attgenerated <> '' AS generated \
  FROM pg_attribute a \
  JOIN pg_type t ON t.oid = a.atttypid \
  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
 WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
 ORDER BY a.attnum";

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The primary key columns of table `$1`, in key order.
const PRIMARY_KEY_SQL: &str = "SELECT a.attname::text AS name \
  FROM pg_index i \
  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
 WHERE i.indrelid = $1::regclass AND i.indisprimary \
 ORDER BY k.ord";

#[derive(QueryableByName)]
struct Edge {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// Every foreign key, as (referencing table, referenced table), both named as
/// [`TenantTable::name`] names them.
const FOREIGN_KEYS_SQL: &str = "SELECT format('%I.%I', cn.nspname, cc.relname) AS child, \
       format('%I.%I', pn.nspname, pc.relname) AS parent \
  FROM pg_constraint k \
  JOIN pg_class cc ON cc.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace \
  JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
 WHERE k.contype = 'f'";

#[derive(QueryableByName)]
struct May {
    #[diesel(sql_type = Bool)]
    may: bool,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Nullable<Text>)]
    version: Option<String>,
}

/// Where a schema version was read: the database's own record, or, when the admin
/// role may not read that, the migrations this library embeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VersionSource {
    /// `__diesel_schema_migrations`: the newest migration applied.
    Database,
    /// `rowguard::migrations::MIGRATIONS`: the newest migration this library knows.
    Library,
}

impl VersionSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VersionSource::Database => "database",
            VersionSource::Library => "library",
        }
    }
}

/// The schema version: the newest migration applied (`__diesel_schema_migrations`).
///
/// diesel creates that table as the migrating owner and grants nothing on it, so the
/// admin role may not read it unless a deployment grants SELECT. Without the grant the
/// version is the newest migration this library embeds, which is the database's as
/// long as the database is migrated by this release; an import also compares every
/// tenant table's columns with the file's, so a database at another schema is refused
/// either way.
///
/// # Errors
/// [`Error::Config`] when the table is readable and holds no migration; database errors.
pub(crate) async fn schema_version(conn: &mut AdminConn) -> Result<(String, VersionSource)> {
    // Asked first, in a statement of its own: a statement naming a table the role may
    // not read fails at its start, whichever branch it would take.
    let readable: May = diesel::sql_query(
        "SELECT coalesce(has_table_privilege(to_regclass('__diesel_schema_migrations'), \
         'SELECT'), false) AS may",
    )
    .get_result(conn)
    .await?;
    if !readable.may {
        return library_schema_version().map(|v| (v, VersionSource::Library));
    }
    let row: Version =
        diesel::sql_query("SELECT max(version)::text AS version FROM __diesel_schema_migrations")
            .get_result(conn)
            .await?;
    let version = row
        .version
        .ok_or_else(|| Error::Config("the database has no migrations applied".into()))?;
    Ok((version, VersionSource::Database))
}

/// The newest migration version that `rowguard::migrations::MIGRATIONS` embeds.
pub(crate) fn library_schema_version() -> Result<String> {
    use diesel::migration::MigrationSource;
    let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&crate::migrations::MIGRATIONS)
        .map_err(|e| Error::Migration(e.to_string()))?;
    migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .max()
        .ok_or_else(|| Error::Migration("the library embeds no migrations".into()))
}

/// Fixes how values print for the rest of the transaction, so an export's text is the
/// same whatever the server's or the login's settings: ISO dates, the standard interval
/// style, UTC, and floats printed exactly (the shortest text that reads back the same).
pub(crate) async fn fix_output_formats(conn: &mut AdminConn) -> Result<()> {
    diesel::sql_query(
        "SELECT set_config('DateStyle', 'ISO, YMD', true), \
                set_config('IntervalStyle', 'postgres', true), \
                set_config('TimeZone', 'UTC', true), \
                set_config('extra_float_digits', '1', true)",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every tenant table with its columns, key and flags, in an order that inserts
/// parents before children (foreign keys among tenant tables); among tables free to
/// go, by name.
///
/// `app_role` is the application role: a tenant table it may not INSERT into is
/// derived (kept by triggers, like `embedding_counts`).
///
/// # Errors
/// [`Error::InvalidInput`] when tenant tables reference each other in a cycle (no
/// insert order exists without deferred constraints); database errors.
pub(crate) async fn tenant_tables(conn: &mut AdminConn, app_role: &str) -> Result<Vec<Table>> {
    let catalog: Vec<TenantTable> = diesel::sql_query(TENANT_TABLES_SQL).load(conn).await?;
    let edges: Vec<Edge> = diesel::sql_query(FOREIGN_KEYS_SQL).load(conn).await?;
    let mut tables = Vec::with_capacity(catalog.len());
    for table in catalog {
        let rows: Vec<ColumnRow> = diesel::sql_query(COLUMNS_SQL)
            .bind::<Text, _>(&table.name)
            .load(conn)
            .await?;
        let columns = rows
            .into_iter()
            .filter(|c| !c.generated)
            .map(|c| Column {
                kind: Kind::of(&c.base_type),
                name: c.column_name,
                sql_type: c.sql_type,
            })
            .collect();
        let primary_key: Vec<Name> = diesel::sql_query(PRIMARY_KEY_SQL)
            .bind::<Text, _>(&table.name)
            .load(conn)
            .await?;
        let derived = if table.key_column == "tenant_id" {
            let may: May =
                diesel::sql_query("SELECT has_table_privilege($1, $2::regclass, 'INSERT') AS may")
                    .bind::<Text, _>(app_role)
                    .bind::<Text, _>(&table.name)
                    .get_result(conn)
                    .await?;
            !may.may
        } else {
            false
        };
        let self_referencing = edges
            .iter()
            .any(|e| e.child == table.name && e.parent == table.name);
        tables.push(Table {
            table,
            columns,
            primary_key: primary_key.into_iter().map(|n| n.name).collect(),
            derived,
            self_referencing,
        });
    }
    insert_order(tables, &edges)
}

/// `tables` ordered parents first (Kahn's algorithm; ties by name). Self-references
/// do not constrain the order.
fn insert_order(tables: Vec<Table>, edges: &[Edge]) -> Result<Vec<Table>> {
    let names: BTreeSet<&str> = tables.iter().map(|t| t.table.name.as_str()).collect();
    // parents[child] = the tenant tables child references (itself aside).
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in edges {
        if e.child != e.parent
            && names.contains(e.child.as_str())
            && names.contains(e.parent.as_str())
        {
            parents
                .entry(e.child.clone())
                .or_default()
                .insert(e.parent.clone());
        }
    }
    let mut by_name: BTreeMap<(String, String), Table> = tables
        .into_iter()
        .map(|t| ((t.table.table_name.clone(), t.table.name.clone()), t))
        .collect();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(by_name.len());
    while !by_name.is_empty() {
        let ready = by_name
            .keys()
            .find(|(_, name)| {
                parents
                    .get(name)
                    .is_none_or(|ps| ps.iter().all(|p| placed.contains(p)))
            })
            .cloned();
        let Some(key) = ready else {
            let stuck: Vec<&str> = by_name.keys().map(|(short, _)| short.as_str()).collect();
            return Err(Error::InvalidInput(format!(
                "tenant tables reference each other in a cycle, so no insert order exists: {}",
                stuck.join(", ")
            )));
        };
        if let Some(table) = by_name.remove(&key) {
            placed.insert(key.1);
            ordered.push(table);
        }
    }
    Ok(ordered)
}

impl Table {
    /// Where the primary key's columns sit among [`Table::columns`], when the rows can
    /// be read in pages by key: the table has a primary key, of columns the export
    /// holds as printed text (not generated, not bytea, which it holds as hex).
    pub(crate) fn page_key(&self) -> Option<Vec<usize>> {
        if self.primary_key.is_empty() {
            return None;
        }
        self.primary_key
            .iter()
            .map(|k| {
                self.columns
                    .iter()
                    .position(|c| &c.name == k && c.kind != Kind::Bytes)
            })
            .collect()
    }

    /// The statement that reads the tenant's rows (`$1`), each as one text array of
    /// the columns' values as printed (bytea as hex), in primary key order.
    ///
    /// With `page`, at most `page` rows, and, with `after`, only rows whose key comes
    /// after the key bound as `$2, $3, ...` (each the text of a [`Table::page_key`]
    /// column, read by its type): one page of a keyset scan, so that no statement of an
    /// export runs longer than a page takes.
    pub(crate) fn select_sql(&self, page: Option<usize>, after: bool) -> String {
        let values: Vec<String> = self
            .columns
            .iter()
            .map(|c| match c.kind {
                Kind::Bytes => format!("encode(t.{}, 'hex')", quote_ident(&c.name)),
                _ => format!("t.{}::text", quote_ident(&c.name)),
            })
            .collect();
        let order = if self.primary_key.is_empty() {
            "1".to_owned()
        } else {
            self.primary_key
                .iter()
                .map(|c| format!("t.{}", quote_ident(c)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut after_key = String::new();
        if after {
            let bound: Vec<String> = self
                .primary_key
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let sql_type = self
                        .columns
                        .iter()
                        .find(|c| &c.name == k)
                        .map_or("text", |c| c.sql_type.as_str());
                    format!("${}::{sql_type}", i + 2)
                })
                .collect();
            after_key = format!(" AND ({order}) > ({})", bound.join(", "));
        }
        let limit = page.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        format!(
            "SELECT ARRAY[{}]::text[] AS v FROM {} t WHERE t.{} = $1{after_key} ORDER BY {order}{limit}",
            values.join(", "),
            self.table.name,
            quote_ident(&self.table.key_column)
        )
    }

    /// The statement that inserts a batch of rows (`$1`: a JSON array of objects keyed
    /// by column name), each value read by its column type's input function.
    pub(crate) fn insert_sql(&self) -> String {
        let columns: Vec<String> = self.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let columns = columns.join(", ");
        format!(
            "INSERT INTO {name} ({columns}) SELECT {columns} \
             FROM json_populate_recordset(NULL::{name}, $1::json)",
            name = self.table.name
        )
    }

    /// The statement that deletes the tenant's rows (`$1`), for derived tables.
    pub(crate) fn delete_sql(&self) -> String {
        format!(
            "DELETE FROM {} WHERE {} = $1",
            self.table.name,
            quote_ident(&self.table.key_column)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Table {
        Table {
            table: TenantTable {
                name: format!("public.{name}"),
                table_name: name.to_owned(),
                key_column: "tenant_id".to_owned(),
            },
            columns: Vec::new(),
            primary_key: Vec::new(),
            derived: false,
            self_referencing: false,
        }
    }

    fn edge(child: &str, parent: &str) -> Edge {
        Edge {
            child: format!("public.{child}"),
            parent: format!("public.{parent}"),
        }
    }

    #[test]
    fn parents_go_first_and_a_self_reference_does_not_block() {
        let tables = ["a_child", "b_parent", "c_root", "d_free"]
            .map(table)
            .to_vec();
        let edges = [
            edge("a_child", "b_parent"),
            edge("b_parent", "c_root"),
            edge("a_child", "a_child"),
            edge("a_child", "elsewhere"),
        ];
        let order: Vec<String> = insert_order(tables, &edges)
            .expect("an order")
            .into_iter()
            .map(|t| t.table.table_name)
            .collect();
        assert_eq!(order, ["c_root", "b_parent", "a_child", "d_free"]);
    }

    #[test]
    fn a_cycle_is_refused_with_its_tables() {
        let tables = ["a", "b", "c"].map(table).to_vec();
        let edges = [edge("a", "b"), edge("b", "a")];
        let err = insert_order(tables, &edges).expect_err("a cycle");
        assert!(
            matches!(err, Error::InvalidInput(ref m) if m.ends_with(": a, b")),
            "{err:?}"
        );
    }
}
