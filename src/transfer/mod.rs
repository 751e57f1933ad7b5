//! Export and restore one tenant: every row of it, from every tenant table, in one
//! SQLite file, and back.
//!
//! - [`export_tenant`] reads the tenant's rows from one snapshot
//!   ([`AdminPool::snapshot`]: `REPEATABLE READ, READ ONLY`), so the file is consistent
//!   across tables, and writes them with a manifest: the schema version, and each
//!   table's row count and SHA-256 checksum.
//! - [`import_tenant`] checks the file (format, every checksum) before it writes
//!   anything, refuses a file from another schema version
//!   ([`Error::SchemaMismatch`]), and restores it in one admin transaction: with its
//!   original ids when that tenant does not exist ([`Error::TenantExists`] when it
//!   does), or, with [`ImportOptions::slug`], as a new tenant next to the original,
//!   with fresh ids and every reference rewritten.
//!
//! Tables come from the catalog ([`crate::catalog::tenant_tables`]): a new tenant table
//! is exported and restored without a change here. Rows go in parents first (the order
//! of the foreign keys among tenant tables). Tables the application role may not
//! insert into are derived, kept by triggers (`embedding_counts`): the triggers fill
//! them as the other tables' rows go in, and the import then replaces the tenant's rows
//! there with the file's, so they are not counted twice and come back as exported.
//!
//! The README's "Export and restore" describes the file format.
//!
//! ```no_run
//! use std::path::Path;
//! use rowguard::transfer::{export_tenant, import_tenant, ImportOptions};
//!
//! # async fn demo(admin: rowguard::pool::AdminPool, tenant: rowguard::TenantId) -> rowguard::Result<()> {
//! let exported = export_tenant(&admin, tenant, Path::new("acme.sqlite")).await?;
//! println!("{} rows", exported.total());
//! // A copy next to the original, with fresh ids.
//! let copy = import_tenant(
//!     &admin,
//!     Path::new("acme.sqlite"),
//!     &ImportOptions { slug: Some("acme-staging".into()) },
//! )
//! .await?;
//! assert_ne!(copy.tenant, tenant);
//! # Ok(()) }
//! ```

mod file;
mod schema;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel::{ExpressionMethods, QueryDsl, QueryableByName, SelectableHelper};
use diesel_async::RunQueryDsl;
use futures_util::TryStreamExt;
use rusqlite::types::Value;
use serde::Serialize;

use crate::models::Tenant;
use crate::pool::{AdminConn, AdminPool};
use crate::schema::tenants;
use crate::{Error, Result, TenantId};

use file::{Checksum, FileTable, Reader, Writer};
use schema::Table;

/// What [`export_tenant`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// The tenant exported.
    pub tenant: TenantId,
    /// Its slug.
    pub slug: String,
    /// The database's schema version (its newest migration), recorded in the file.
    pub schema_version: String,
    /// The file written.
    pub path: PathBuf,
    /// Rows written, by table name (every tenant table, with 0 where the tenant has none).
    pub rows: BTreeMap<String, i64>,
}

impl ExportReport {
    /// Every row written.
    pub fn total(&self) -> i64 {
        self.rows.values().sum()
    }
}

/// How [`import_tenant`] restores a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `None`: restore the tenant as it was, with its ids (it must not exist).
    /// `Some(slug)`: make a copy, a new tenant with this slug (which must be free),
    /// fresh ids and every reference rewritten, next to the original.
    pub slug: Option<String>,
}

/// What [`import_tenant`] restored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The tenant restored (for a copy, the new tenant).
    pub tenant: TenantId,
    /// Its slug.
    pub slug: String,
    /// For a copy, the tenant the file was exported from.
    pub copy_of: Option<TenantId>,
    /// The schema version of the file and the database.
    pub schema_version: String,
    /// Rows inserted, by table name.
    pub rows: BTreeMap<String, i64>,
    /// Rows of the file a copy leaves out, by table name: sessions and pending invites
    /// (their token hashes would sign in to, or join, both tenants).
    pub left_out: BTreeMap<String, i64>,
}

impl ImportReport {
    /// Every row inserted.
    pub fn total(&self) -> i64 {
        self.rows.values().sum()
    }
}

/// Rows per statement of an export (a page of a keyset scan in primary key order).
const EXPORT_PAGE_ROWS: usize = 1000;

/// Rows per insert statement, and the size of its JSON beyond which it is sent early.
const BATCH_ROWS: usize = 500;
const BATCH_BYTES: usize = 8 << 20;

/// One row as the export reads it: each column's value as PostgreSQL prints it.
#[derive(QueryableByName)]
struct Printed {
    #[diesel(sql_type = Array<Nullable<Text>>)]
    v: Vec<Option<String>>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn app_role(admin: &AdminPool) -> String {
    admin
        .config()
        .app_role
        .clone()
        .unwrap_or_else(|| "rowguard_app".to_owned())
}

/// Writes every row of `tenant`, from every tenant table, into a new SQLite file at
/// `path`, read from one snapshot. The file appears only once complete: it is written
/// under a temporary name next to `path` and renamed.
///
/// # Errors
/// [`Error::NotFound`] when there is no such tenant; [`Error::ExportFile`] when `path`
/// exists (an export never overwrites) or the file cannot be written;
/// [`Error::Forbidden`] when the admin role may not read the schema version
/// (`__diesel_schema_migrations`); database errors.
pub async fn export_tenant(
    admin: &AdminPool,
    tenant: TenantId,
    path: &Path,
) -> Result<ExportReport> {
    if path.exists() {
        return Err(Error::ExportFile(format!(
            "{} exists: an export never overwrites a file",
            path.display()
        )));
    }
    let partial = partial_path(path);
    let writer = Writer::create(&partial)?;
    let app_role = app_role(admin);
    let reason = format!("export tenant {tenant}");
    let outcome = admin
        .snapshot(&reason, async |conn| {
            export_rows(conn, &writer, tenant, &app_role, path).await
        })
        .await;
    let finished = outcome.and_then(|report| {
        writer.finish()?;
        std::fs::rename(&partial, path).map_err(|e| {
            Error::ExportFile(format!("cannot rename the file to {}: {e}", path.display()))
        })?;
        Ok(report)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    finished
}

/// `<path>.partial-<pid>`: where the file is written until it is complete.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".partial-{}", std::process::id()));
    path.with_file_name(name)
}

async fn export_rows(
    conn: &mut AdminConn,
    writer: &Writer,
    tenant: TenantId,
    app_role: &str,
    path: &Path,
) -> Result<ExportReport> {
    schema::fix_output_formats(conn).await?;
    let (version, source) = schema::schema_version(conn).await?;
    let row: Tenant = tenants::table
        .filter(tenants::id.eq(tenant))
        .select(Tenant::as_select())
        .first(conn)
        .await?;
    let tables = schema::tenant_tables(conn, app_role).await?;
    let manifest = [
        ("format", file::FORMAT.to_owned()),
        ("schema_version", version.clone()),
        ("schema_version_source", source.as_str().to_owned()),
        ("tenant_id", tenant.to_string()),
        ("tenant_slug", row.slug.clone()),
        ("exported_at", chrono::Utc::now().to_rfc3339()),
        ("rowguard_version", env!("CARGO_PKG_VERSION").to_owned()),
    ];
    writer.begin(&manifest, &tables)?;
    let mut rows = BTreeMap::new();
    for (position, table) in tables.iter().enumerate() {
        let mut sum = Checksum::new(&table.table.table_name, &table.columns);
        let mut n = 0i64;
        let key = table.page_key();
        let page = key.as_ref().map(|_| EXPORT_PAGE_ROWS);
        let mut after: Option<Vec<String>> = None;
        loop {
            let mut query = diesel::sql_query(table.select_sql(page, after.is_some()))
                .into_boxed::<diesel::pg::Pg>()
                .bind::<SqlUuid, _>(tenant);
            for value in after.iter().flatten() {
                query = query.bind::<Text, _>(value.clone());
            }
            let mut stream = query.load_stream::<Printed>(conn).await?;
            let mut in_page = 0usize;
            let mut last_key = None;
            while let Some(printed) = stream.try_next().await? {
                if printed.v.len() != table.columns.len() {
                    return Err(Error::Protocol(format!(
                        "a row of {} came with {} values for {} columns",
                        table.table.name,
                        printed.v.len(),
                        table.columns.len()
                    )));
                }
                if let Some(key) = &key {
                    last_key = Some(
                        key.iter()
                            .map(|&i| printed.v.get(i).cloned().flatten().unwrap_or_default())
                            .collect::<Vec<String>>(),
                    );
                }
                let values = table
                    .columns
                    .iter()
                    .zip(printed.v)
                    .map(|(c, v)| file::to_file(c.kind, v))
                    .collect::<Result<Vec<Value>>>()?;
                sum.row(&values);
                writer.row(table, &values)?;
                n += 1;
                in_page += 1;
            }
            match (page, last_key) {
                (Some(page), Some(last)) if in_page == page => after = Some(last),
                _ => break,
            }
        }
        writer.table_done(position, table, n, &sum.hex())?;
        rows.insert(table.table.table_name.clone(), n);
    }
    Ok(ExportReport {
        tenant,
        slug: row.slug,
        schema_version: version,
        path: path.to_owned(),
        rows,
    })
}

/// Restores the export at `path` in one admin transaction: the tenant as it was, or a
/// copy ([`ImportOptions::slug`]). Every table's row count and checksum are checked
/// before anything is written, and again as the rows go in.
///
/// A copy gets a fresh UUID v7 for every row's `id` and its own tenant id; every uuid
/// column, and every JSON string, holding one of the file's ids is rewritten to the
/// new one. It is named `<name> (copy)`, and leaves out its domains (a host is
/// verified for one tenant at most), its sessions and its pending invites, whose token
/// hashes would otherwise sign in to, or join, both tenants.
///
/// The transaction first sets `rowguard.audit_bulk` to the tenant's id, so that audit
/// triggers may record the restore instead of every row.
///
/// # Errors
/// [`Error::ExportFile`] for a file that is not an export, is damaged or was edited
/// (a count or checksum mismatch); [`Error::SchemaMismatch`] for a file from another
/// schema version, or whose tables differ from the database's;
/// [`Error::TenantExists`] when the tenant exists (same id) or the slug is taken;
/// database errors. Nothing is written on any error.
pub async fn import_tenant(
    admin: &AdminPool,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportReport> {
    let file = Reader::open(path)?;
    file.verify()?;
    let entry = |key: &str| {
        file.manifest
            .get(key)
            .cloned()
            .ok_or_else(|| Error::ExportFile(format!("the manifest has no {key}")))
    };
    let file_version = entry("schema_version")?;
    let original: TenantId = entry("tenant_id")?
        .parse()
        .map_err(|_| Error::ExportFile("the manifest's tenant_id is not a uuid".into()))?;
    let original_slug = entry("tenant_slug")?;
    let (target, slug) = match &options.slug {
        Some(slug) => (TenantId::new_v7(), slug.clone()),
        None => (original, original_slug.clone()),
    };
    let copy = options.slug.is_some();
    let app_role = app_role(admin);
    let reason = if copy {
        format!("import tenant {original} ({original_slug}) as a copy, {slug}")
    } else {
        format!("restore tenant {original} ({original_slug})")
    };
    admin
        .as_admin(&reason, async |conn| {
            // First of all: audit triggers read it to skip per-row audit rows.
            diesel::sql_query("SELECT set_config('rowguard.audit_bulk', $1, true)")
                .bind::<Text, _>(target.to_string())
                .execute(conn)
                .await?;
            schema::fix_output_formats(conn).await?;
            let (version, _) = schema::schema_version(conn).await?;
            if version != file_version {
                return Err(Error::SchemaMismatch {
                    file: file_version.clone(),
                    database: version,
                });
            }
            let tables = schema::tenant_tables(conn, &app_role).await?;
            let pairs = pair_tables(&tables, &file.tables, &version)?;
            refuse_existing(
                conn,
                original,
                &original_slug,
                copy.then_some(slug.as_str()),
            )
            .await?;
            let ids = if copy {
                fresh_ids(&file, original, target)?
            } else {
                HashMap::new()
            };
            let restore = Restore {
                file: &file,
                ids,
                target,
                slug: &slug,
                copy,
            };
            let mut report = ImportReport {
                tenant: target,
                slug: slug.clone(),
                copy_of: copy.then_some(original),
                schema_version: version,
                rows: BTreeMap::new(),
                left_out: BTreeMap::new(),
            };
            // Derived tables last: the triggers have filled them by then.
            for derived in [false, true] {
                for (table, in_file) in pairs.iter().filter(|(t, _)| t.derived == derived) {
                    let (rows, left_out) = restore.table(conn, table, in_file).await?;
                    report.rows.insert(table.table.table_name.clone(), rows);
                    if left_out > 0 {
                        report
                            .left_out
                            .insert(table.table.table_name.clone(), left_out);
                    }
                }
            }
            Ok(report)
        })
        .await
}

/// Each database table with the file's table of the same name, in the database's
/// insert order; the file must hold exactly the database's tenant tables and columns.
fn pair_tables<'a>(
    tables: &'a [Table],
    in_file: &'a [FileTable],
    version: &str,
) -> Result<Vec<(&'a Table, &'a FileTable)>> {
    let mismatch = |what: String| Error::SchemaMismatch {
        file: format!("{version} ({what})"),
        database: version.to_owned(),
    };
    if let Some(extra) = in_file
        .iter()
        .find(|f| !tables.iter().any(|t| t.table.name == f.qualified))
    {
        return Err(mismatch(format!(
            "table {} is not a tenant table of the database",
            extra.qualified
        )));
    }
    tables
        .iter()
        .map(|t| {
            let f = in_file
                .iter()
                .find(|f| f.qualified == t.table.name)
                .ok_or_else(|| mismatch(format!("the file lacks table {}", t.table.name)))?;
            if f.columns != t.columns || f.key_column != t.table.key_column {
                return Err(mismatch(format!(
                    "the columns of {} differ from the database's",
                    t.table.name
                )));
            }
            Ok((t, f))
        })
        .collect()
}

/// Refuses a restore over an existing tenant (same id, or its slug taken), and a copy
/// whose slug is taken.
async fn refuse_existing(
    conn: &mut AdminConn,
    original: TenantId,
    original_slug: &str,
    copy_slug: Option<&str>,
) -> Result<()> {
    let taken = |slug: &str| {
        diesel::sql_query("SELECT count(*) AS n FROM tenants WHERE slug = $1")
            .bind::<Text, _>(slug.to_owned())
    };
    match copy_slug {
        Some(slug) => {
            let row: Count = taken(slug).get_result(conn).await?;
            if row.n > 0 {
                return Err(Error::TenantExists(format!(
                    "the slug {slug:?} is taken: a copy needs a free one"
                )));
            }
        }
        None => {
            let row: Count = diesel::sql_query("SELECT count(*) AS n FROM tenants WHERE id = $1")
                .bind::<SqlUuid, _>(original)
                .get_result(conn)
                .await?;
            if row.n > 0 {
                return Err(Error::TenantExists(format!(
                    "tenant {original} exists: delete it first, or import a copy with --slug"
                )));
            }
            let row: Count = taken(original_slug).get_result(conn).await?;
            if row.n > 0 {
                return Err(Error::TenantExists(format!(
                    "the slug {original_slug:?} belongs to another tenant now: import a copy \
                     with a free slug"
                )));
            }
        }
    }
    Ok(())
}

/// A copy's id map: a fresh UUID v7 for every `id` of the file's rows, and the new
/// tenant for the old.
fn fresh_ids(
    file: &Reader,
    original: TenantId,
    target: TenantId,
) -> Result<HashMap<String, String>> {
    let mut ids = HashMap::new();
    for table in &file.tables {
        let has_uuid_id = table
            .columns
            .iter()
            .any(|c| c.name == "id" && c.sql_type == "uuid");
        if has_uuid_id {
            for id in file.uuids(table, "id")? {
                ids.entry(id)
                    .or_insert_with(|| uuid::Uuid::now_v7().to_string());
            }
        }
    }
    ids.insert(original.to_string(), target.to_string());
    Ok(ids)
}

/// One import's state: the file, and for a copy, the id map and the new slug.
struct Restore<'a> {
    file: &'a Reader,
    ids: HashMap<String, String>,
    target: TenantId,
    slug: &'a str,
    copy: bool,
}

impl Restore<'_> {
    /// Inserts the file's rows of `table` (a derived table's rows of the tenant are
    /// deleted first), checking its count and checksum again; returns the rows
    /// inserted and the rows a copy left out.
    async fn table(
        &self,
        conn: &mut AdminConn,
        table: &Table,
        in_file: &FileTable,
    ) -> Result<(i64, i64)> {
        if table.derived {
            diesel::sql_query(table.delete_sql())
                .bind::<SqlUuid, _>(self.target)
                .execute(conn)
                .await?;
        }
        let sql = table.insert_sql();
        let is_tenants = table.table.key_column != "tenant_id";
        let rewrite = |s: &str| self.ids.get(s).cloned();
        let mut sum = Checksum::new(&in_file.name, &in_file.columns);
        let (mut read, mut inserted, mut left_out) = (0i64, 0i64, 0i64);
        let mut batch = Batch::default();
        let mut after = 0;
        loop {
            let (rows, last) = self.file.rows(in_file, after, BATCH_ROWS)?;
            if rows.is_empty() {
                break;
            }
            after = last;
            for mut row in rows {
                sum.row(&row);
                read += 1;
                if self.copy {
                    if left_out_of_copy(&in_file.name, &in_file.columns, &row) {
                        left_out += 1;
                        continue;
                    }
                    if is_tenants {
                        self.rename_copy(&in_file.columns, &mut row);
                    }
                }
                batch.push(&in_file.columns, &row, &rewrite)?;
                // A table that references itself goes in one statement, so its rows
                // may come in any order.
                if !table.self_referencing
                    && (batch.rows >= BATCH_ROWS || batch.json.len() >= BATCH_BYTES)
                {
                    inserted += batch.send(conn, &sql, is_tenants).await?;
                }
            }
        }
        inserted += batch.send(conn, &sql, is_tenants).await?;
        file::check_table(in_file, read, sum)?;
        Ok((inserted, left_out))
    }

    /// The copy's tenant row: its new slug and `<name> (copy)`.
    fn rename_copy(&self, columns: &[schema::Column], row: &mut [Value]) {
        for (c, v) in columns.iter().zip(row.iter_mut()) {
            match c.name.as_str() {
                "slug" => *v = Value::Text(self.slug.to_owned()),
                "name" => {
                    if let Value::Text(name) = v {
                        name.push_str(" (copy)");
                    }
                }
                _ => {}
            }
        }
    }
}

/// Rows a copy leaves out: those that hold a secret that authenticates, whose hash is
/// looked up across tenants (`rowguard.resolve_session`, `rowguard.resolve_invite`), so
/// a copy would answer to the same token as the original: every session, and every
/// invite not yet accepted; and every domain, because a host is verified for one
/// tenant at most (the copy gets its own through `rowguard::domains`).
fn left_out_of_copy(table: &str, columns: &[schema::Column], row: &[Value]) -> bool {
    match table {
        "sessions" | "domains" => true,
        "invites" => columns
            .iter()
            .zip(row)
            .any(|(c, v)| c.name == "accepted_at" && *v == Value::Null),
        _ => false,
    }
}

/// Rows gathered for one insert statement, as the JSON array it binds.
#[derive(Default)]
struct Batch {
    json: String,
    rows: usize,
}

impl Batch {
    fn push(
        &mut self,
        columns: &[schema::Column],
        row: &[Value],
        rewrite: &dyn Fn(&str) -> Option<String>,
    ) -> Result<()> {
        self.json.push(if self.rows == 0 { '[' } else { ',' });
        self.json.push('{');
        for (i, (c, v)) in columns.iter().zip(row).enumerate() {
            if i > 0 {
                self.json.push(',');
            }
            self.json
                .push_str(&serde_json::Value::from(c.name.as_str()).to_string());
            self.json.push(':');
            file::to_json(&mut self.json, c, v, rewrite)?;
        }
        self.json.push('}');
        self.rows += 1;
        Ok(())
    }

    /// Inserts the rows gathered, if any, and empties the batch; returns the rows
    /// inserted.
    async fn send(&mut self, conn: &mut AdminConn, sql: &str, is_tenants: bool) -> Result<i64> {
        if self.rows == 0 {
            return Ok(0);
        }
        self.json.push(']');
        let json = std::mem::take(&mut self.json);
        let expected = std::mem::take(&mut self.rows);
        let n = diesel::sql_query(sql)
            .bind::<Text, _>(json)
            .execute(conn)
            .await
            .map_err(Error::from)
            .map_err(|e| match e {
                // A tenant created meanwhile, with the same id or slug.
                Error::UniqueViolation { constraint } if is_tenants => Error::TenantExists(
                    format!("a tenant with the same id or slug exists ({constraint})"),
                ),
                e => e,
            })?;
        if n != expected {
            return Err(Error::Protocol(format!(
                "{n} rows inserted of a batch of {expected}"
            )));
        }
        Ok(n as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::file::{to_file, to_json};
    use super::schema::{Column, Kind};
    use rusqlite::types::Value;

    fn column(kind: Kind, sql_type: &str) -> Column {
        Column {
            name: "c".into(),
            sql_type: sql_type.into(),
            kind,
        }
    }

    fn round_trip(kind: Kind, sql_type: &str, printed: &str) -> String {
        let value = to_file(kind, Some(printed.to_owned())).expect("to file");
        let mut out = String::new();
        to_json(&mut out, &column(kind, sql_type), &value, &|_| None).expect("to json");
        out
    }

    #[test]
    fn values_come_back_as_printed() {
        assert_eq!(
            round_trip(Kind::Vector, "vector(3)", "[0.1,-2.5,3e-7]"),
            "\"[0.1,-2.5,0.0000003]\""
        );
        assert_eq!(
            round_trip(Kind::Bytes, "bytea", "00ff10"),
            "\"\\\\x00ff10\""
        );
        assert_eq!(
            round_trip(Kind::Integer, "bigint", "-9223372036854775808"),
            "-9223372036854775808"
        );
        assert_eq!(round_trip(Kind::Real, "double precision", "0.1"), "0.1");
        assert_eq!(round_trip(Kind::Real, "double precision", "NaN"), "\"NaN\"");
        assert_eq!(round_trip(Kind::Bool, "boolean", "t"), "true");
        assert_eq!(
            round_trip(Kind::Json, "jsonb", "{\"a\": 12345678901234567890.5}"),
            "{\"a\": 12345678901234567890.5}"
        );
        assert_eq!(round_trip(Kind::Text, "text", "a \"q\""), "\"a \\\"q\\\"\"");
    }

    #[test]
    fn a_vector_blob_is_little_endian_f32() {
        let Value::Blob(b) = to_file(Kind::Vector, Some("[1,-1]".into())).expect("vector") else {
            panic!("a blob");
        };
        assert_eq!(b, [1f32.to_le_bytes(), (-1f32).to_le_bytes()].concat());
    }

    #[test]
    fn a_copy_rewrites_uuid_columns_and_json_strings_only() {
        let old = "0190b7a4-7c5e-7cc1-9b1c-6f0e2b0c1d2e";
        let new = "0190b7a4-0000-7000-8000-000000000000";
        let rewrite = |s: &str| (s == old).then(|| new.to_owned());
        let mut out = String::new();
        to_json(
            &mut out,
            &column(Kind::Text, "uuid"),
            &Value::Text(old.into()),
            &rewrite,
        )
        .expect("uuid");
        assert_eq!(out, format!("\"{new}\""));
        let mut out = String::new();
        to_json(
            &mut out,
            &column(Kind::Text, "text"),
            &Value::Text(old.into()),
            &rewrite,
        )
        .expect("text");
        assert_eq!(out, format!("\"{old}\""), "text columns keep their value");
        let mut out = String::new();
        let json = format!("{{\"deal\": \"{old}\", \"n\": 1.50, \"s\": \"x\\\"{old}\"}}");
        to_json(
            &mut out,
            &column(Kind::Json, "jsonb"),
            &Value::Text(json),
            &rewrite,
        )
        .expect("json");
        assert_eq!(
            out,
            format!("{{\"deal\": \"{new}\", \"n\": 1.50, \"s\": \"x\\\"{old}\"}}")
        );
    }
}
