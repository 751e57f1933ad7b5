//! Hybrid search: full text and vectors, fused by reciprocal rank.
//!
//! Two candidate lists are built for the tenant, in one transaction:
//! - lexical: `chunk_tsv @@ websearch_to_tsquery('english', $text)` (GIN index),
//!   ranked by `ts_rank_cd`;
//! - vector: the same strategy-chosen search as [`super::search`].
//!
//! and fused with reciprocal rank fusion: each row scores `Σ 1 / (rrf_k + rank)` over
//! the lists it appears in (ranks from 1, `rrf_k` = 60 by default), highest first.
//! A row only one list found still competes, so exact keyword matches the embedding
//! misses and semantic neighbours without the words both come back.

use std::collections::HashMap;

use diesel::pg::Pg;
use diesel::sql_types::{Array, BigInt, Double, Text};
use diesel::QueryableByName;
use pgvector::Vector;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use uuid::Uuid;

use super::{
    check_query, run_vector_search, settings_query, settings_then_load, AsEmbedding, Kind,
    SearchOptions, Strategy, Table, TablePlan, MAX_K,
};
use crate::tenant::TenantConn;
use crate::{Error, Result};

/// Options of [`hybrid_search`].
#[derive(Clone, Debug, PartialEq)]
pub struct HybridOptions {
    /// Table(s), metric and strategy of the vector side (and the tables of the text side).
    pub search: SearchOptions,
    /// Candidates taken from each list before fusion (at least `k`); default 50.
    pub candidates: usize,
    /// The RRF constant; 60 as in Cormack et al.
    pub rrf_k: f64,
}

impl Default for HybridOptions {
    fn default() -> Self {
        Self {
            search: SearchOptions::default(),
            candidates: 50,
            rrf_k: 60.0,
        }
    }
}

impl HybridOptions {
    /// Defaults for `kind`.
    pub fn new(kind: super::Kind) -> Self {
        Self {
            search: SearchOptions::new(kind),
            ..Self::default()
        }
    }
}

/// One fused result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridHit {
    /// The table it came from.
    pub kind: Kind,
    /// The embedding row's id.
    pub id: Uuid,
    /// Its document, deal activity or meeting.
    pub parent_id: Uuid,
    /// The chunk's text.
    pub chunk: String,
    /// Vector distance to the query (computed for lexical-only hits too).
    pub distance: f64,
    /// The RRF score (higher is better).
    pub score: f64,
    /// Rank in the vector list (from 1), if the row was in it.
    pub vector_rank: Option<usize>,
    /// Rank in the full-text list (from 1), if the row was in it.
    pub text_rank: Option<usize>,
}

/// Fused hits plus the vector side's per-table strategy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HybridReport {
    /// Best first, at most `k`.
    pub hits: Vec<HybridHit>,
    /// The vector side's decisions.
    pub plans: Vec<TablePlan>,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    parent_id: Uuid,
    #[diesel(sql_type = Text)]
    chunk: String,
    #[diesel(sql_type = Double)]
    rank: f64,
    #[diesel(sql_type = Double)]
    distance: f64,
}

/// Full-text candidates of one table. `$1` text, `$2` tenant, `$3` limit, `$4` vector,
/// `$5` parent ids. The distance is computed outside the limited sub-query, so only
/// for the rows returned, not for every row that matches the words.
fn text_sql(table: &Table, op: &str, filtered: bool) -> String {
    let (t, parent) = (table.name, table.parent);
    let filter = if filtered {
        format!(" AND {parent} = ANY($5)")
    } else {
        String::new()
    };
    format!(
        "SELECT id, parent_id, chunk, rank, embedding {op} $4 AS distance FROM ( \
           SELECT id, {parent} AS parent_id, chunk, embedding, ts_rank_cd(chunk_tsv, q)::float8 AS rank \
             FROM {t}, websearch_to_tsquery('english', $1) AS q \
            WHERE tenant_id = $2 AND chunk_tsv @@ q{filter} \
            ORDER BY rank DESC, id LIMIT $3) AS s \
          ORDER BY rank DESC, id"
    )
}

struct Candidate {
    kind: Kind,
    id: Uuid,
    parent_id: Uuid,
    chunk: String,
    distance: f64,
    vector_rank: Option<usize>,
    text_rank: Option<usize>,
}

/// Reciprocal rank fusion of two ranked lists (each best first), keeping `k`.
fn fuse(
    vector: Vec<super::Hit>,
    text: Vec<(Kind, TextRow)>,
    rrf_k: f64,
    k: usize,
) -> Vec<HybridHit> {
    let mut by_id: HashMap<Uuid, Candidate> = HashMap::new();
    for (i, h) in vector.into_iter().enumerate() {
        by_id.entry(h.id).or_insert(Candidate {
            kind: h.kind,
            id: h.id,
            parent_id: h.parent_id,
            chunk: h.chunk,
            distance: h.distance,
            vector_rank: Some(i + 1),
            text_rank: None,
        });
    }
    for (i, (kind, r)) in text.into_iter().enumerate() {
        by_id
            .entry(r.id)
            .and_modify(|c| c.text_rank = Some(i + 1))
            .or_insert(Candidate {
                kind,
                id: r.id,
                parent_id: r.parent_id,
                chunk: r.chunk,
                distance: r.distance,
                vector_rank: None,
                text_rank: Some(i + 1),
            });
    }
    let rrf = |rank: Option<usize>| rank.map_or(0.0, |r| 1.0 / (rrf_k + r as f64));
    let mut hits: Vec<HybridHit> = by_id
        .into_values()
        .map(|c| HybridHit {
            score: rrf(c.vector_rank) + rrf(c.text_rank),
            kind: c.kind,
            id: c.id,
            parent_id: c.parent_id,
            chunk: c.chunk,
            distance: c.distance,
            vector_rank: c.vector_rank,
            text_rank: c.text_rank,
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.distance.total_cmp(&b.distance))
            .then(a.id.cmp(&b.id))
    });
    hits.truncate(k);
    hits
}

/// The `k` best rows for `text` and `query` together: full-text and vector candidates
/// fused by reciprocal rank (see the module docs). Inputs are checked before anything
/// is sent ([`Error::InvalidInput`]): the vector as for [`super::search`], and the
/// text must not be blank.
///
/// ```no_run
/// use rowguard::embed::{Embedder, HashingEmbedder};
/// use rowguard::search::{hybrid_search, HybridOptions, Kind};
/// # async fn demo(pool: rowguard::pool::TenantPool, ctx: rowguard::TenantContext) -> rowguard::Result<()> {
/// let text = "unpaid March invoices";
/// let q = HashingEmbedder::default().embed(text)?;
/// let hits = pool
///     .with_tenant(&ctx, async |conn| {
///         hybrid_search(conn, text, &q, 10, &HybridOptions::new(Kind::All)).await
///     })
///     .await?;
/// # Ok(()) }
/// ```
pub async fn hybrid_search<Q: AsEmbedding + ?Sized>(
    conn: &mut TenantConn,
    text: &str,
    query: &Q,
    k: usize,
    opts: &HybridOptions,
) -> Result<Vec<HybridHit>> {
    Ok(hybrid_search_with_report(conn, text, query, k, opts)
        .await?
        .hits)
}

/// [`hybrid_search`], also returning the vector side's strategy per table.
pub async fn hybrid_search_with_report<Q: AsEmbedding + ?Sized>(
    conn: &mut TenantConn,
    text: &str,
    query: &Q,
    k: usize,
    opts: &HybridOptions,
) -> Result<HybridReport> {
    let vector = check_query(query.as_embedding(), k, &opts.search)?;
    if text.trim().is_empty() {
        return Err(Error::InvalidInput(
            "hybrid search needs a non-blank text".to_owned(),
        ));
    }
    if !(opts.rrf_k.is_finite() && opts.rrf_k >= 0.0) {
        return Err(Error::InvalidInput(format!(
            "rrf_k must be a non-negative number, got {}",
            opts.rrf_k
        )));
    }
    let candidates = opts.candidates.max(k).min(MAX_K);
    let span = tracing::debug_span!(
        "rowguard.hybrid_search",
        kind = %opts.search.kind,
        k,
        candidates
    );
    run_hybrid(conn, text, &vector, k, candidates, opts)
        .instrument(span)
        .await
}

async fn run_hybrid(
    conn: &mut TenantConn,
    text: &str,
    vector: &Vector,
    k: usize,
    candidates: usize,
    opts: &HybridOptions,
) -> Result<HybridReport> {
    // The vector search reads the tenant; every table's text query names it too.
    let (report, tenant_id) = run_vector_search(conn, vector, candidates, &opts.search).await?;
    let mut text_hits = Vec::new();
    for table in opts.search.kind.tables().iter().filter_map(|k| k.table()) {
        let sql = text_sql(
            table,
            opts.search.metric.operator(),
            opts.search.parent_ids.is_some(),
        );
        let mut query = diesel::sql_query(sql)
            .into_boxed::<Pg>()
            .bind::<Text, _>(text)
            .bind::<diesel::sql_types::Uuid, _>(tenant_id)
            .bind::<BigInt, _>(i64::try_from(candidates).unwrap_or(i64::MAX))
            .bind::<pgvector::sql_types::Vector, _>(vector);
        if let Some(parents) = &opts.search.parent_ids {
            query = query.bind::<Array<diesel::sql_types::Uuid>, _>(parents);
        }
        // Full text needs the bitmap scan of the GIN index: the exact settings.
        let settings = settings_query(Strategy::Exact, None);
        let rows: Vec<TextRow> = settings_then_load(conn, settings, query).await?;
        text_hits.extend(rows.into_iter().map(|r| (table.kind, r)));
    }
    // Across tables, the lexical list is ordered by rank (ts_rank_cd is comparable:
    // same configuration, same normalisation).
    text_hits.sort_by(|a, b| b.1.rank.total_cmp(&a.1.rank).then(a.1.id.cmp(&b.1.id)));
    text_hits.truncate(candidates);
    tracing::debug!(
        vector_candidates = report.hits.len(),
        text_candidates = text_hits.len(),
        "hybrid search candidates"
    );
    Ok(HybridReport {
        hits: fuse(report.hits, text_hits, opts.rrf_k, k),
        plans: report.plans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Hit;

    fn hit(id: u128, d: f64) -> Hit {
        Hit {
            kind: Kind::Documents,
            id: Uuid::from_u128(id),
            parent_id: Uuid::nil(),
            chunk: String::new(),
            distance: d,
        }
    }

    fn text_row(id: u128, rank: f64) -> (Kind, TextRow) {
        (
            Kind::Documents,
            TextRow {
                id: Uuid::from_u128(id),
                parent_id: Uuid::nil(),
                chunk: String::new(),
                rank,
                distance: 0.9,
            },
        )
    }

    #[test]
    fn rrf_rewards_both_lists_and_keeps_single_list_hits() {
        let fused = fuse(
            vec![hit(1, 0.1), hit(2, 0.2), hit(3, 0.3)],
            vec![text_row(3, 0.9), text_row(4, 0.5)],
            60.0,
            10,
        );
        let ids: Vec<u128> = fused.iter().map(|h| h.id.as_u128()).collect();
        assert_eq!(ids[0], 3, "in both lists");
        assert!(ids.contains(&4) && ids.contains(&1));
        let h3 = &fused[0];
        assert_eq!((h3.vector_rank, h3.text_rank), (Some(3), Some(1)));
        assert!((h3.score - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-12);
        assert_eq!(fuse(vec![hit(1, 0.1)], vec![], 60.0, 0).len(), 0);
    }
}
