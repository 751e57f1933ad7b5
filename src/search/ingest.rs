//! Bulk insert of embeddings.
//!
//! Rows go in through one `INSERT ... SELECT ... FROM unnest($1, $2, ...)` with one
//! array parameter per column: any number of rows, one statement, one round trip, a
//! fixed SQL text. `COPY FROM` is not an option: PostgreSQL refuses it on a table with
//! row-level security ("COPY FROM not supported with row-level security").
//!
//! Every row is checked before anything is sent: 1536 dimensions, every element
//! finite, not the zero vector (the tables are searched by cosine distance, which a
//! zero vector does not have), a non-negative chunk index and a non-blank model. One
//! bad row rejects the batch with [`Error::InvalidInput`] naming it. The statement is
//! atomic, so a failure in the database (a missing parent, a duplicate chunk) writes
//! nothing either; inside a tenant transaction it rolls the transaction back.

use diesel::pg::Pg;
use diesel::sql_types::{Array, Integer, Text};
use diesel_async::{AsyncConnectionCore, RunQueryDsl};
use pgvector::Vector;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{validate_embedding, Kind, Metric, Table, DIMENSIONS};
use crate::pool::AdminConn;
use crate::tenant::TenantConn;
use crate::{Error, Result, TenantId};

/// One embedding row to insert (the tenant comes from the transaction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEmbedding {
    /// The row's id (a UUID v7 from [`NewEmbedding::new`]).
    pub id: Uuid,
    /// The document, deal activity or meeting the chunk belongs to (same tenant).
    pub parent_id: Uuid,
    /// Position of the chunk within its parent, from 0.
    pub chunk_index: i32,
    /// The chunk's text (also indexed for full-text search).
    pub chunk: String,
    /// The model that produced the vector.
    pub model: String,
    /// The 1536-d embedding.
    pub embedding: Vector,
}

impl NewEmbedding {
    /// A row with a fresh UUID v7 id.
    pub fn new(
        parent_id: Uuid,
        chunk_index: i32,
        chunk: impl Into<String>,
        model: impl Into<String>,
        embedding: impl Into<Vector>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            parent_id,
            chunk_index,
            chunk: chunk.into(),
            model: model.into(),
            embedding: embedding.into(),
        }
    }
}

fn check_rows<'a>(
    kind: Kind,
    rows: impl Iterator<Item = &'a NewEmbedding>,
) -> Result<&'static Table> {
    let table = kind.table().ok_or_else(|| {
        Error::InvalidInput("ingest goes into one table: documents, deals or meetings".to_owned())
    })?;
    for (i, row) in rows.enumerate() {
        validate_embedding(row.embedding.as_slice(), DIMENSIONS, Metric::Cosine).map_err(|e| {
            match e {
                Error::InvalidInput(m) => Error::InvalidInput(format!("row {i}: {m}")),
                other => other,
            }
        })?;
        if row.chunk_index < 0 {
            return Err(Error::InvalidInput(format!(
                "row {i}: chunk_index {} is negative",
                row.chunk_index
            )));
        }
        if row.model.trim().is_empty() {
            return Err(Error::InvalidInput(format!("row {i}: model is blank")));
        }
    }
    Ok(table)
}

/// The tenant-side statement: the tenant is the transaction's (RLS `WITH CHECK`
/// would refuse any other).
fn tenant_sql(t: &Table) -> String {
    format!(
        "INSERT INTO {name} (tenant_id, id, {parent}, chunk_index, chunk, model, embedding) \
         SELECT (SELECT rowguard.current_tenant_id()), u.id, u.parent_id, u.chunk_index, u.chunk, u.model, u.embedding \
           FROM unnest($1::uuid[], $2::uuid[], $3::int4[], $4::text[], $5::text[], $6::vector[]) \
                AS u (id, parent_id, chunk_index, chunk, model, embedding)",
        name = t.name,
        parent = t.parent
    )
}

/// The admin-side statement: one tenant per row, `$7`.
fn admin_sql(t: &Table) -> String {
    format!(
        "INSERT INTO {name} (tenant_id, id, {parent}, chunk_index, chunk, model, embedding) \
         SELECT u.tenant_id, u.id, u.parent_id, u.chunk_index, u.chunk, u.model, u.embedding \
           FROM unnest($7::uuid[], $1::uuid[], $2::uuid[], $3::int4[], $4::text[], $5::text[], $6::vector[]) \
                AS u (tenant_id, id, parent_id, chunk_index, chunk, model, embedding)",
        name = t.name,
        parent = t.parent
    )
}

async fn insert<C>(
    conn: &mut C,
    sql: String,
    rows: &[&NewEmbedding],
    tenants: Option<Vec<Uuid>>,
) -> Result<usize>
where
    C: AsyncConnectionCore<Backend = Pg>,
{
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let parents: Vec<Uuid> = rows.iter().map(|r| r.parent_id).collect();
    let idx: Vec<i32> = rows.iter().map(|r| r.chunk_index).collect();
    let chunks: Vec<&str> = rows.iter().map(|r| r.chunk.as_str()).collect();
    let models: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    let vectors: Vec<&Vector> = rows.iter().map(|r| &r.embedding).collect();
    let mut query = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
        .bind::<Array<diesel::sql_types::Uuid>, _>(&parents)
        .bind::<Array<Integer>, _>(&idx)
        .bind::<Array<Text>, _>(&chunks)
        .bind::<Array<Text>, _>(&models)
        .bind::<Array<pgvector::sql_types::Vector>, _>(&vectors);
    if let Some(tenants) = &tenants {
        query = query.bind::<Array<diesel::sql_types::Uuid>, _>(tenants);
    }
    let n = query.execute(conn).await?;
    tracing::debug!(rows = n, "ingested embeddings");
    Ok(n)
}

/// Inserts `rows` into `kind`'s table for the transaction's tenant, all or nothing,
/// in one statement; returns how many were inserted. Checks every row first
/// ([`Error::InvalidInput`], nothing sent). `embedding_counts` follows by trigger.
///
/// ```no_run
/// use rowguard::embed::{Embedder, HashingEmbedder};
/// use rowguard::search::{ingest, Kind, NewEmbedding};
/// # async fn demo(pool: rowguard::pool::TenantPool, ctx: rowguard::TenantContext, document_id: uuid::Uuid) -> rowguard::Result<()> {
/// let emb = HashingEmbedder::default();
/// let rows = vec![NewEmbedding::new(document_id, 0, "Q3 board notes", emb.model(), emb.embed("Q3 board notes")?)];
/// pool.with_tenant(&ctx, async |conn| ingest(conn, Kind::Documents, &rows).await).await?;
/// # Ok(()) }
/// ```
pub async fn ingest(conn: &mut TenantConn, kind: Kind, rows: &[NewEmbedding]) -> Result<usize> {
    let table = check_rows(kind, rows.iter())?;
    if rows.is_empty() {
        return Ok(0);
    }
    let refs: Vec<&NewEmbedding> = rows.iter().collect();
    let n = insert(conn, tenant_sql(table), &refs, None).await?;
    // The tenant's counts changed: this pool's next search reads them again.
    let tenant = conn.context().tenant_id.as_uuid();
    conn.counts_cache().forget(tenant);
    Ok(n)
}

/// Inserts rows of many tenants at once, as the admin role (bulk loads, migrations
/// between systems, the bench). Same checks and atomicity as [`ingest`].
pub async fn ingest_as_admin(
    conn: &mut AdminConn,
    kind: Kind,
    rows: &[(TenantId, NewEmbedding)],
) -> Result<usize> {
    let table = check_rows(kind, rows.iter().map(|(_, r)| r))?;
    if rows.is_empty() {
        return Ok(0);
    }
    let refs: Vec<&NewEmbedding> = rows.iter().map(|(_, r)| r).collect();
    let tenants = rows.iter().map(|(t, _)| t.as_uuid()).collect();
    insert(conn, admin_sql(table), &refs, Some(tenants)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Vec<f32>) -> NewEmbedding {
        NewEmbedding::new(Uuid::nil(), 0, "x", "m", v)
    }

    #[test]
    fn checks_every_row_and_names_it() {
        let good = vec![0.1f32; DIMENSIONS];
        let mut nan = good.clone();
        nan[3] = f32::NAN;
        let rows = [row(good.clone()), row(nan)];
        match check_rows(Kind::Documents, rows.iter()) {
            Err(Error::InvalidInput(m)) => assert_eq!(m, "row 1: embedding element 3 is NaN"),
            other => panic!("{other:?}"),
        }
        assert!(check_rows(Kind::All, [row(good.clone())].iter()).is_err());
        assert!(check_rows(Kind::Deals, [row(vec![0.0; DIMENSIONS])].iter()).is_err());
        assert!(check_rows(Kind::Meetings, [row(good)].iter()).is_ok());
    }
}
