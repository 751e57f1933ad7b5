//! The export file: one SQLite database holding the tenant's tables, the manifest, and
//! the checksum that proves each table's rows are those exported.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::types::Value;
use sha2::{Digest, Sha256};

use super::schema::{Column, Kind, Table};
use crate::catalog::quote_ident;
use crate::{Error, Result};

/// The file format, recorded in the manifest; an import refuses any other.
pub(crate) const FORMAT: &str = "rowguard-tenant-export/1";

/// Names of the file's own tables; a tenant table may not share one.
pub(crate) const MANIFEST: &str = "rowguard_manifest";
pub(crate) const TABLES: &str = "rowguard_tables";
pub(crate) const COLUMNS: &str = "rowguard_columns";

fn file_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::ExportFile(format!("{what}: {e}"))
}

/// A table as the file describes it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FileTable {
    /// The PostgreSQL table's qualified name (`public.tasks`, quoted as needed).
    pub(crate) qualified: String,
    /// Its own name, which is also the SQLite table's.
    pub(crate) name: String,
    /// Its tenant key column.
    pub(crate) key_column: String,
    /// Derived (kept by triggers).
    pub(crate) derived: bool,
    /// Rows exported.
    pub(crate) rows: i64,
    /// SHA-256 of its rows ([`Checksum`]), lower-case hex.
    pub(crate) sha256: String,
    /// Its columns, in order.
    pub(crate) columns: Vec<Column>,
}

/// The running SHA-256 of one table: its name and columns, then every row in order,
/// each value tagged with its SQLite type and length-prefixed, so that no two
/// different tables or row sets serialize alike.
pub(crate) struct Checksum(Sha256);

impl Checksum {
    pub(crate) fn new(name: &str, columns: &[Column]) -> Self {
        let mut h = Sha256::new();
        Self::text(&mut h, FORMAT);
        Self::text(&mut h, name);
        h.update((columns.len() as u64).to_be_bytes());
        for c in columns {
            Self::text(&mut h, &c.name);
            Self::text(&mut h, &c.sql_type);
            Self::text(&mut h, c.kind.as_str());
        }
        Self(h)
    }

    fn text(h: &mut Sha256, s: &str) {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    }

    pub(crate) fn row(&mut self, values: &[Value]) {
        let h = &mut self.0;
        for v in values {
            match v {
                Value::Null => h.update(b"N"),
                Value::Integer(i) => {
                    h.update(b"I");
                    h.update(i.to_be_bytes());
                }
                Value::Real(f) => {
                    h.update(b"R");
                    h.update(f.to_bits().to_be_bytes());
                }
                Value::Text(s) => {
                    h.update(b"T");
                    Self::text(h, s);
                }
                Value::Blob(b) => {
                    h.update(b"B");
                    h.update((b.len() as u64).to_be_bytes());
                    h.update(b);
                }
            }
        }
    }

    pub(crate) fn hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// `bytes` as lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Hex (either case) as bytes; `None` when it is not hex.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

/// The value PostgreSQL printed (`None`: NULL) as the file holds a column of `kind`.
pub(crate) fn to_file(kind: Kind, text: Option<String>) -> Result<Value> {
    let Some(text) = text else {
        return Ok(Value::Null);
    };
    let bad = |what: &str| Error::ExportFile(format!("cannot read {what} {text:?}"));
    Ok(match kind {
        Kind::Vector => {
            let inner = text
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .ok_or_else(|| bad("vector"))?;
            let mut blob = Vec::new();
            for part in inner.split(',').filter(|p| !p.trim().is_empty()) {
                let x: f32 = part.trim().parse().map_err(|_| bad("vector"))?;
                blob.extend_from_slice(&x.to_le_bytes());
            }
            Value::Blob(blob)
        }
        Kind::Bytes => Value::Blob(unhex(&text).ok_or_else(|| bad("bytea"))?),
        Kind::Integer => Value::Integer(text.parse().map_err(|_| bad("integer"))?),
        Kind::Real => match text.parse::<f64>() {
            // SQLite stores NaN as NULL: NaN and the infinities stay text.
            Ok(x) if x.is_finite() => Value::Real(x),
            _ => Value::Text(text),
        },
        Kind::Bool => match text.as_str() {
            "t" | "true" => Value::Integer(1),
            "f" | "false" => Value::Integer(0),
            _ => return Err(bad("boolean")),
        },
        Kind::Json | Kind::Text => Value::Text(text),
    })
}

/// Appends `s` to `out` as a JSON string.
fn json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

/// Appends the file's `value` of a column of `kind` to `out` as JSON that
/// `json_populate_recordset` reads back to the same value: JSON itself for json
/// columns, numbers and booleans as such, everything else as the text PostgreSQL
/// printed (a vector as `[x,y,...]`, bytea as `\x...`). `rewrite` maps a uuid's text to
/// another (a copy's fresh ids); it sees uuid columns and JSON strings.
pub(crate) fn to_json(
    out: &mut String,
    column: &Column,
    value: &Value,
    rewrite: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    let bad = |what: &str| {
        Error::ExportFile(format!(
            "column {} ({}) holds {what}",
            column.name, column.sql_type
        ))
    };
    match (column.kind, value) {
        (_, Value::Null) => out.push_str("null"),
        (Kind::Vector, Value::Blob(b)) => {
            if b.len() % 4 != 0 {
                return Err(bad("a blob that is not f32 values"));
            }
            let parts: Vec<String> = b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
                .collect();
            json_string(out, &format!("[{}]", parts.join(",")));
        }
        (Kind::Bytes, Value::Blob(b)) => json_string(out, &format!("\\x{}", hex(b))),
        (Kind::Bool, Value::Integer(i)) => out.push_str(if *i != 0 { "true" } else { "false" }),
        (_, Value::Integer(i)) => out.push_str(&i.to_string()),
        // Rust prints the shortest text that reads back as the same f64, never in
        // exponent form: valid JSON, and exact for float4 and float8 alike.
        (_, Value::Real(f)) => out.push_str(&f.to_string()),
        (Kind::Json, Value::Text(s)) => {
            if serde_json::from_str::<serde::de::IgnoredAny>(s).is_err() {
                return Err(bad("text that is not JSON"));
            }
            out.push_str(&rewrite_json_strings(s, rewrite));
        }
        (_, Value::Text(s)) => {
            let rewritten = if column.sql_type == "uuid" {
                rewrite(s)
            } else {
                None
            };
            json_string(out, rewritten.as_deref().unwrap_or(s));
        }
        (_, Value::Blob(_)) => return Err(bad("a blob")),
    }
    Ok(())
}

/// `json` with every string that `rewrite` maps replaced, written back exactly
/// otherwise (numbers keep every digit).
fn rewrite_json_strings(json: &str, rewrite: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        // The string's end: the first quote not escaped.
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in after.char_indices() {
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[start..]);
            return out;
        };
        let content = &after[..end];
        match rewrite(content) {
            Some(new) => json_string(&mut out, &new),
            None => {
                out.push('"');
                out.push_str(content);
                out.push('"');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// An export file being written: one SQLite transaction, committed by [`Writer::finish`].
///
/// The connection sits behind a mutex so that the export's future stays `Send`; it is
/// never locked across an await.
pub(crate) struct Writer {
    conn: Mutex<rusqlite::Connection>,
}

impl Writer {
    /// Creates the file at `path` (which must not exist) and opens its transaction.
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE,
        )
        .map_err(|e| file_error(&format!("cannot create {}", path.display()), e))?;
        conn.execute_batch("BEGIN")
            .map_err(|e| file_error("cannot begin", e))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, rusqlite::Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::ExportFile("the file's connection was poisoned".into()))
    }

    /// Writes the manifest and creates every table's SQLite table.
    pub(crate) fn begin(&self, manifest: &[(&str, String)], tables: &[Table]) -> Result<()> {
        let conn = self.lock()?;
        let w = |e| file_error("cannot write the manifest", e);
        conn.execute_batch(&format!(
            "CREATE TABLE {MANIFEST} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE {TABLES} (qualified TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
               position INTEGER NOT NULL, key_column TEXT NOT NULL, derived INTEGER NOT NULL,
               rows INTEGER NOT NULL, sha256 TEXT NOT NULL);
             CREATE TABLE {COLUMNS} (table_name TEXT NOT NULL, position INTEGER NOT NULL,
               name TEXT NOT NULL, sql_type TEXT NOT NULL, kind TEXT NOT NULL,
               PRIMARY KEY (table_name, position));"
        ))
        .map_err(w)?;
        for (key, value) in manifest {
            conn.execute(
                &format!("INSERT INTO {MANIFEST} (key, value) VALUES (?1, ?2)"),
                (key, value),
            )
            .map_err(w)?;
        }
        for t in tables {
            let name = &t.table.table_name;
            if [MANIFEST, TABLES, COLUMNS].contains(&name.as_str()) {
                return Err(Error::ExportFile(format!(
                    "a tenant table is named {name}, as one of the file's own tables"
                )));
            }
            let columns: Vec<String> = t
                .columns
                .iter()
                .map(|c| format!("{} {}", quote_ident(&c.name), c.kind.sqlite_type()))
                .collect();
            conn.execute_batch(&format!(
                "CREATE TABLE {} ({})",
                quote_ident(name),
                columns.join(", ")
            ))
            .map_err(|e| file_error(&format!("cannot create table {name}"), e))?;
            for (i, c) in t.columns.iter().enumerate() {
                conn.execute(
                    &format!(
                        "INSERT INTO {COLUMNS} (table_name, position, name, sql_type, kind) \
                         VALUES (?1, ?2, ?3, ?4, ?5)"
                    ),
                    (name, i as i64, &c.name, &c.sql_type, c.kind.as_str()),
                )
                .map_err(w)?;
            }
        }
        Ok(())
    }

    /// Appends one row of `table`.
    pub(crate) fn row(&self, table: &Table, values: &[Value]) -> Result<()> {
        let conn = self.lock()?;
        let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
        let mut stmt = conn
            .prepare_cached(&format!(
                "INSERT INTO {} VALUES ({})",
                quote_ident(&table.table.table_name),
                marks.join(", ")
            ))
            .map_err(|e| file_error("cannot write a row", e))?;
        stmt.execute(rusqlite::params_from_iter(values.iter()))
            .map_err(|e| {
                file_error(
                    &format!("cannot write a row of {}", table.table.table_name),
                    e,
                )
            })?;
        Ok(())
    }

    /// Records a table's row count and checksum.
    pub(crate) fn table_done(
        &self,
        position: usize,
        table: &Table,
        rows: i64,
        sha256: &str,
    ) -> Result<()> {
        let conn = self.lock()?;
        conn.execute(
            &format!(
                "INSERT INTO {TABLES} (qualified, name, position, key_column, derived, rows, sha256) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            (
                &table.table.name,
                &table.table.table_name,
                position as i64,
                &table.table.key_column,
                table.derived,
                rows,
                sha256,
            ),
        )
        .map_err(|e| file_error("cannot write the manifest", e))?;
        Ok(())
    }

    /// Commits the file.
    pub(crate) fn finish(self) -> Result<()> {
        let conn = self
            .conn
            .into_inner()
            .map_err(|_| Error::ExportFile("the file's connection was poisoned".into()))?;
        conn.execute_batch("COMMIT")
            .map_err(|e| file_error("cannot commit", e))?;
        conn.close()
            .map_err(|(_, e)| file_error("cannot close", e))?;
        Ok(())
    }
}

/// An export file opened for reading.
pub(crate) struct Reader {
    conn: Mutex<rusqlite::Connection>,
    /// The manifest's entries.
    pub(crate) manifest: BTreeMap<String, String>,
    /// Its tables, in the order they were exported.
    pub(crate) tables: Vec<FileTable>,
}

impl Reader {
    /// Opens `path` read-only and reads its manifest.
    ///
    /// # Errors
    /// [`Error::ExportFile`] when it is not an export of this format.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| file_error(&format!("cannot open {}", path.display()), e))?;
        let not_export = |e| file_error(&format!("{} is not a rowguard export", path.display()), e);
        let manifest: BTreeMap<String, String> = {
            let mut stmt = conn
                .prepare(&format!("SELECT key, value FROM {MANIFEST}"))
                .map_err(not_export)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(not_export)?;
            rows.collect::<rusqlite::Result<_>>().map_err(not_export)?
        };
        match manifest.get("format") {
            Some(f) if f == FORMAT => {}
            other => {
                return Err(Error::ExportFile(format!(
                    "{} is in format {:?}; this version reads {FORMAT}",
                    path.display(),
                    other
                )))
            }
        }
        let mut tables: Vec<FileTable> = {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT qualified, name, key_column, derived, rows, sha256 FROM {TABLES} \
                     ORDER BY position"
                ))
                .map_err(not_export)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(FileTable {
                        qualified: r.get(0)?,
                        name: r.get(1)?,
                        key_column: r.get(2)?,
                        derived: r.get(3)?,
                        rows: r.get(4)?,
                        sha256: r.get(5)?,
                        columns: Vec::new(),
                    })
                })
                .map_err(not_export)?;
            rows.collect::<rusqlite::Result<_>>().map_err(not_export)?
        };
        for t in &mut tables {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT name, sql_type, kind FROM {COLUMNS} WHERE table_name = ?1 \
                     ORDER BY position"
                ))
                .map_err(not_export)?;
            let rows = stmt
                .query_map([&t.name], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(not_export)?;
            for row in rows {
                let (name, sql_type, kind) = row.map_err(not_export)?;
                let kind = Kind::parse(&kind).ok_or_else(|| {
                    Error::ExportFile(format!("column {name} of {} has kind {kind:?}", t.name))
                })?;
                t.columns.push(Column {
                    name,
                    sql_type,
                    kind,
                });
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
            manifest,
            tables,
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, rusqlite::Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::ExportFile("the file's connection was poisoned".into()))
    }

    /// Up to `limit` rows of `table` after SQLite rowid `after`, in the order they were
    /// written, with the rowid of the last.
    pub(crate) fn rows(
        &self,
        table: &FileTable,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<Vec<Value>>, i64)> {
        let conn = self.lock()?;
        let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let read = |e| file_error(&format!("cannot read table {}", table.name), e);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT rowid, {} FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
                columns.join(", "),
                quote_ident(&table.name)
            ))
            .map_err(read)?;
        let n = table.columns.len();
        let mut last = after;
        let mut out = Vec::new();
        let mut rows = stmt.query((after, limit as i64)).map_err(read)?;
        while let Some(row) = rows.next().map_err(read)? {
            last = row.get(0).map_err(read)?;
            let mut values = Vec::with_capacity(n);
            for i in 1..=n {
                values.push(row.get::<_, Value>(i).map_err(read)?);
            }
            out.push(values);
        }
        Ok((out, last))
    }

    /// Reads every table through and checks its row count and checksum against the
    /// manifest.
    ///
    /// # Errors
    /// [`Error::ExportFile`] naming the first table that does not match.
    pub(crate) fn verify(&self) -> Result<()> {
        for table in &self.tables {
            let mut sum = Checksum::new(&table.name, &table.columns);
            let mut count = 0i64;
            let mut after = 0;
            loop {
                let (rows, last) = self.rows(table, after, 1000)?;
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    sum.row(row);
                }
                count += rows.len() as i64;
                after = last;
            }
            check_table(table, count, sum)?;
        }
        Ok(())
    }

    /// The values of column `column` (a uuid) of every row of `table`, as text.
    pub(crate) fn uuids(&self, table: &FileTable, column: &str) -> Result<Vec<String>> {
        let conn = self.lock()?;
        let read = |e| file_error(&format!("cannot read table {}", table.name), e);
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {} FROM {}",
                quote_ident(column),
                quote_ident(&table.name)
            ))
            .map_err(read)?;
        let rows = stmt
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .map_err(read)?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(v) = row.map_err(read)? {
                out.push(v);
            }
        }
        Ok(out)
    }
}

/// Checks a table's rows read (`count`, `sum`) against what its manifest row says.
pub(crate) fn check_table(table: &FileTable, count: i64, sum: Checksum) -> Result<()> {
    if count != table.rows {
        return Err(Error::ExportFile(format!(
            "table {} holds {count} rows, its manifest says {}: the file is damaged or was edited",
            table.name, table.rows
        )));
    }
    if sum.hex() != table.sha256 {
        return Err(Error::ExportFile(format!(
            "table {}: checksum mismatch, the file is damaged or was edited",
            table.name
        )));
    }
    Ok(())
}
