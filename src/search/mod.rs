//! Vector search under row-level security.
//!
//! An HNSW scan hands back `ef_search` candidates and RLS then drops other tenants'
//! rows, so pgvector's defaults under-return for small tenants; a shared graph also
//! loses recall for a large tenant asked about something outside its usual topics,
//! where its rows are a minority around the query (docs/search-bench.md). The planner,
//! which no longer sees the tenant behind the policy's sub-select, cannot be trusted to
//! choose either (docs/search-study.md). This module therefore chooses the path itself,
//! per query and per table, from the tenant's maintained row count (`embedding_counts`,
//! kept by triggers; each pool reuses a tenant's counts for a few seconds, `counts.rs`)
//! and whether it has an index of its own (docs/search-strategy.md):
//!
//! - **exact** ([`Strategy::Exact`]): a scan of the tenant's rows through the
//!   `tenant_id` btree and a top-k sort, written `ORDER BY (embedding <=> $1) + 0` so
//!   that no plan, custom or generic, can use an HNSW index. Recall 1.0; cost grows
//!   with the tenant's rows (~2 µs per 1536-d row here with the vectors stored in the
//!   row, ~5 µs once they no longer fit in memory). Chosen for tenants with at most
//!   [`StrategyRules::exact_max_rows`] rows, for larger tenants that have no index of
//!   their own yet, for metrics without an HNSW index (L2, inner product) and for
//!   searches restricted to given parents.
//! - **tenant HNSW** ([`Strategy::TenantHnsw`]): the tenant's own partial HNSW index
//!   ([`tenant_index`], built by `rowguard indexes sync` for tenants above
//!   `exact_max_rows`): a graph of the tenant's rows only, so every query, near the
//!   tenant's usual data or far from it, meets the tenant's own nearest rows.
//!   `ef_search` [`HnswParams::tenant_ef_search`].
//! - **shared HNSW** ([`Strategy::Hnsw`]): the table's index over every tenant, with
//!   pgvector's iterative scan. Only when asked for, or with
//!   [`StrategyRules::shared_hnsw_fallback`] for tenants without an index of their own.
//!
//! An HNSW answer chosen by [`Strategy::Auto`] whose nearest row is farther than
//! [`StrategyRules::recheck_beyond`] (the query is unrelated to everything the tenant
//! has, where no graph walk is reliable), or that is shorter than the tenant's rows
//! allow, is replaced by an exact scan in the same transaction
//! ([`TablePlan::rechecked_from`] says so).
//!
//! Both HNSW strategies run with pgvector's iterative scan (`relaxed_order` on the
//! shared index, `strict_order` on a tenant's own), `max_scan_tuples` 20,000,
//! `enable_seqscan`, `enable_bitmapscan` and `enable_sort` off so that an index scan
//! is the only plan, and `plan_cache_mode = force_custom_plan`. The settings are sent, pipelined, before every HNSW query, in
//! its transaction. The hits are re-sorted by distance in Rust (relaxed order may
//! return them slightly out of order).
//!
//! Each strategy has its own SQL text, every value is bound (the vector through
//! pgvector's diesel type), and every query names the tenant explicitly
//! (`tenant_id = $2`) on top of RLS. The choice is visible in tracing (`debug` events
//! in the `rowguard.search` span) and returned in a [`SearchReport`].
//!
//! Also here: [`hybrid`] search (full text and vectors fused by reciprocal rank),
//! [`ingest`](mod@ingest) (bulk, validated, all-or-nothing) and [`validate`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Double, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use pgvector::Vector;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use uuid::Uuid;

use crate::pool::Prepared;
use crate::tenant::TenantConn;
use crate::{Error, Result};

mod counts;
pub mod hybrid;
pub mod ingest;
pub mod tenant_index;
pub mod validate;

pub(crate) use counts::CountsCache;
pub use counts::{embedding_counts, EmbeddingCounts};
pub use hybrid::{
    hybrid_search, hybrid_search_with_report, HybridHit, HybridOptions, HybridReport,
};
pub use ingest::{ingest, ingest_as_admin, NewEmbedding};
pub use validate::{validate_embedding, Metric};

/// Dimensions of the `embedding` column of every embedding table.
pub const DIMENSIONS: usize = 1536;

/// The largest `k` a search accepts.
pub const MAX_K: usize = 1000;

/// Which embedding table(s) to search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `document_embeddings` (parent: `document_id`).
    #[default]
    Documents,
    /// `deal_activity_embeddings` (parent: `deal_activity_id`).
    Deals,
    /// `meeting_embeddings` (parent: `meeting_id`).
    Meetings,
    /// All three tables; hits from each are merged by distance.
    All,
}

impl Kind {
    /// The single-table kinds this kind covers (three for [`Kind::All`]).
    pub fn tables(self) -> &'static [Kind] {
        match self {
            Kind::Documents => &[Kind::Documents],
            Kind::Deals => &[Kind::Deals],
            Kind::Meetings => &[Kind::Meetings],
            Kind::All => &[Kind::Documents, Kind::Deals, Kind::Meetings],
        }
    }

    /// `documents`, `deals`, `meetings` or `all` (as in `embedding_counts.kind`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Documents => "documents",
            Kind::Deals => "deals",
            Kind::Meetings => "meetings",
            Kind::All => "all",
        }
    }

    /// The table and parent column, for a single-table kind.
    pub(crate) fn table(self) -> Option<&'static Table> {
        TABLES.iter().find(|t| t.kind == self)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "documents" => Ok(Kind::Documents),
            "deals" => Ok(Kind::Deals),
            "meetings" => Ok(Kind::Meetings),
            "all" => Ok(Kind::All),
            other => Err(Error::InvalidInput(format!(
                "unknown embedding kind {other:?} (expected documents, deals, meetings or all)"
            ))),
        }
    }
}

/// One embedding table: its name, its parent column, and the metric its HNSW index serves.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) kind: Kind,
    pub(crate) name: &'static str,
    pub(crate) parent: &'static str,
    /// The metric of the table's HNSW index (`vector_cosine_ops`); other metrics scan exactly.
    pub(crate) hnsw_metric: Metric,
}

pub(crate) const TABLES: [Table; 3] = [
    Table {
        kind: Kind::Documents,
        name: "document_embeddings",
        parent: "document_id",
        hnsw_metric: Metric::Cosine,
    },
    Table {
        kind: Kind::Deals,
        name: "deal_activity_embeddings",
        parent: "deal_activity_id",
        hnsw_metric: Metric::Cosine,
    },
    Table {
        kind: Kind::Meetings,
        name: "meeting_embeddings",
        parent: "meeting_id",
        hnsw_metric: Metric::Cosine,
    },
];

/// How a search reaches its rows: chosen per query ([`Strategy::Auto`]) or forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Choose per table from the tenant's row count ([`StrategyRules`]).
    #[default]
    Auto,
    /// Exact scan of the tenant's rows (recall 1.0).
    Exact,
    /// The table's shared HNSW index with iterative scan (cosine only: the only metric
    /// with an index). Fast, but recall falls for a tenant that is a minority around
    /// the query; [`Strategy::Auto`] uses it only with
    /// [`StrategyRules::shared_hnsw_fallback`].
    Hnsw,
    /// The tenant's own HNSW index ([`tenant_index`]): a graph of its rows only.
    TenantHnsw,
}

impl Strategy {
    /// `auto`, `exact`, `hnsw` or `tenant_hnsw`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Strategy::Auto => "auto",
            Strategy::Exact => "exact",
            Strategy::Hnsw => "hnsw",
            Strategy::TenantHnsw => "tenant_hnsw",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Strategy::Auto),
            "exact" => Ok(Strategy::Exact),
            "hnsw" => Ok(Strategy::Hnsw),
            "tenant_hnsw" | "tenant-hnsw" => Ok(Strategy::TenantHnsw),
            other => Err(Error::InvalidInput(format!(
                "unknown search strategy {other:?} (expected auto, exact, hnsw or tenant_hnsw)"
            ))),
        }
    }
}

/// How [`Strategy::Auto`] chooses (docs/search-strategy.md). A tenant with an index of
/// its own ([`tenant_index`]) searches it; otherwise the exact scan, which is always
/// right and costs ~2 µs a 1536-d row here (vectors in the row, in memory). An exact
/// scan fits the latency budget up to ~1,500 rows (docs/search-study.md), the size
/// above which `rowguard indexes sync` builds a tenant its own index.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategyRules {
    /// Tenants with at most this many rows in a table are scanned exactly, index or not.
    pub exact_max_rows: u64,
    /// For a larger tenant with no index of its own: search the table's shared HNSW
    /// index instead of scanning exactly, if the tenant holds at least
    /// [`StrategyRules::hnsw_min_share`] of the table. Off by default: the shared graph
    /// loses recall for queries away from the tenant's usual topics (0.50 for a tenant
    /// holding half the table, docs/search-bench.md). On, it trades that for speed
    /// until the tenant's index is built.
    pub shared_hnsw_fallback: bool,
    /// See [`StrategyRules::shared_hnsw_fallback`]: below this share of the table the
    /// shared graph is never used (its recall collapses when the filter is that
    /// selective).
    pub hnsw_min_share: f64,
    /// When an HNSW search chosen by [`Strategy::Auto`] finds its nearest row farther
    /// than this cosine distance, the query is far from every row the tenant has, and
    /// the table is scanned again exactly. Far from all of them, the rows' distances
    /// differ by little more than noise, no graph walk tells them apart (recall 0.3 to
    /// 0.8 on the synthetic bench's queries from other tenants' topics), and only the
    /// scan is right. 0.8 is a cosine similarity of 0.2: unrelated text for sentence
    /// embedding models. `None` never rescans. An HNSW result shorter than the
    /// tenant's rows allow is always rescanned.
    pub recheck_beyond: Option<f64>,
    /// How old the tenant's row counts and own indexes that choose the strategy may
    /// be: each pool keeps the last answer per tenant and reuses it for this long,
    /// which saves the search a statement and a round trip (see [`embedding_counts`]).
    /// A stale copy can choose a slower strategy, never a wrong answer; an index built
    /// by `rowguard indexes sync` is used within this time. Zero reads them every time.
    #[serde(default = "default_counts_max_age")]
    pub counts_max_age: Duration,
}

fn default_counts_max_age() -> Duration {
    Duration::from_secs(5)
}

impl Default for StrategyRules {
    fn default() -> Self {
        Self {
            exact_max_rows: 1_500,
            shared_hnsw_fallback: false,
            hnsw_min_share: 0.03,
            recheck_beyond: Some(0.8),
            counts_max_age: default_counts_max_age(),
        }
    }
}

/// pgvector settings of the two HNSW strategies (docs/search-bench.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswParams {
    /// `hnsw.ef_search` on the shared index ([`Strategy::Hnsw`]; raised to `k` when `k`
    /// is larger; at most 1,000). 400 is where tenants of 10 % and 50 % of a 100k ×
    /// 1536-d table reach recall@10 ≥ 0.98 near their own data through the iterative
    /// scan (0.985 and 0.989; ef_search 100 gave 0.93).
    pub ef_search: u32,
    /// `hnsw.ef_search` on a tenant's own index ([`Strategy::TenantHnsw`]) at the least;
    /// [`HnswParams::tenant_rows_per_ef`] raises it for large tenants, and it is raised to
    /// `k` likewise. 100 gives recall@10 ≥ 0.98 for both kinds of query on the real text
    /// bench and near the tenants' own topics on the synthetic one up to 10,000 rows
    /// (docs/search-bench.md); queries far from every row of the tenant are rescanned
    /// instead ([`StrategyRules::recheck_beyond`]).
    pub tenant_ef_search: u32,
    /// A larger graph needs a wider search for the same recall: on a tenant's own index
    /// `ef_search` is at least the tenant's rows divided by this (default 160: 312 at
    /// 50,000 rows; on the synthetic bench with pgvector 0.8.0 that tenant's graph gave
    /// recall 0.971 at 100 and 0.980 at 200 in one build, 0.998 at 300 in another).
    /// `None` keeps [`HnswParams::tenant_ef_search`] for every size.
    #[serde(default = "default_tenant_rows_per_ef")]
    pub tenant_rows_per_ef: Option<u32>,
    /// `hnsw.max_scan_tuples`: bounds how far the iterative scan goes.
    pub max_scan_tuples: u32,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            ef_search: 400,
            tenant_ef_search: 100,
            tenant_rows_per_ef: default_tenant_rows_per_ef(),
            max_scan_tuples: 20_000,
        }
    }
}

fn default_tenant_rows_per_ef() -> Option<u32> {
    Some(160)
}

impl HnswParams {
    /// The `ef_search` a search of `k` rows walks a tenant's own index of `tenant_rows`
    /// rows with: [`HnswParams::tenant_ef_search`], raised by
    /// [`HnswParams::tenant_rows_per_ef`] and to `k`, at most 1,000 (pgvector's limit).
    ///
    /// ```
    /// use rowguard::search::HnswParams;
    /// let p = HnswParams::default();
    /// assert_eq!(p.tenant_ef_search_for(10, 2_000), 100);
    /// assert_eq!(p.tenant_ef_search_for(10, 50_000), 312);
    /// assert_eq!(p.tenant_ef_search_for(10, 10_000_000), 1_000);
    /// ```
    pub fn tenant_ef_search_for(&self, k: usize, tenant_rows: u64) -> u32 {
        let scaled = self
            .tenant_rows_per_ef
            .filter(|per| *per > 0)
            .map_or(0, |per| tenant_rows / u64::from(per));
        let floor = u32::try_from(scaled)
            .unwrap_or(u32::MAX)
            .max(self.tenant_ef_search);
        ef_search_for(k, floor)
    }
}

/// What to search and how.
///
/// ```
/// use rowguard::search::{Kind, Metric, SearchOptions, Strategy};
/// let opts = SearchOptions::new(Kind::All).metric(Metric::Cosine).strategy(Strategy::Auto);
/// assert_eq!(opts.kind, Kind::All);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchOptions {
    /// The table(s) to search.
    pub kind: Kind,
    /// The distance; only cosine has an HNSW index.
    pub metric: Metric,
    /// Auto (default) or a forced strategy.
    pub strategy: Strategy,
    /// When `Auto` picks HNSW.
    pub rules: StrategyRules,
    /// Settings of the HNSW strategy.
    pub hnsw: HnswParams,
    /// Only rows of these parents (documents, deal activities or meetings).
    pub parent_ids: Option<Vec<Uuid>>,
}

impl SearchOptions {
    /// Defaults for `kind`: cosine, automatic strategy.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// Sets the metric.
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Sets the strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets the rules `Auto` follows.
    pub fn rules(mut self, rules: StrategyRules) -> Self {
        self.rules = rules;
        self
    }

    /// Sets the HNSW settings.
    pub fn hnsw(mut self, hnsw: HnswParams) -> Self {
        self.hnsw = hnsw;
        self
    }

    /// Restricts the search to rows of these parents.
    pub fn parent_ids(mut self, ids: Vec<Uuid>) -> Self {
        self.parent_ids = Some(ids);
        self
    }
}

/// Anything that can be a query vector: `pgvector::Vector`, `[f32]`, `Vec<f32>`.
pub trait AsEmbedding {
    /// The vector's elements.
    fn as_embedding(&self) -> &[f32];
}

impl AsEmbedding for Vector {
    fn as_embedding(&self) -> &[f32] {
        self.as_slice()
    }
}

impl AsEmbedding for [f32] {
    fn as_embedding(&self) -> &[f32] {
        self
    }
}

impl AsEmbedding for Vec<f32> {
    fn as_embedding(&self) -> &[f32] {
        self
    }
}

impl<const N: usize> AsEmbedding for [f32; N] {
    fn as_embedding(&self) -> &[f32] {
        self
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The table it came from (never [`Kind::All`]).
    pub kind: Kind,
    /// The embedding row's id.
    pub id: Uuid,
    /// Its document, deal activity or meeting.
    pub parent_id: Uuid,
    /// The chunk's text.
    pub chunk: String,
    /// Distance to the query under the search's metric (smaller is nearer).
    pub distance: f64,
}

/// What the search decided for one table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TablePlan {
    /// The table.
    pub kind: Kind,
    /// The strategy used (never [`Strategy::Auto`]).
    pub strategy: Strategy,
    /// The tenant's rows in the table (`embedding_counts`).
    pub tenant_rows: u64,
    /// The table's rows (planner estimate `pg_class.reltuples`, at least `tenant_rows`).
    pub table_rows: u64,
    /// Why this strategy.
    pub reason: String,
    /// `hnsw.ef_search` used, for HNSW.
    pub ef_search: Option<u32>,
    /// The HNSW strategy that ran first, when its answer was rescanned exactly (see
    /// [`StrategyRules::recheck_beyond`]); `strategy` is then [`Strategy::Exact`].
    pub rechecked_from: Option<Strategy>,
}

/// Hits plus the per-table decisions that produced them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// Nearest first, at most `k`.
    pub hits: Vec<Hit>,
    /// One entry per table searched.
    pub plans: Vec<TablePlan>,
}

impl SearchReport {
    /// The strategy used for `kind`'s table, if it was searched.
    pub fn strategy_for(&self, kind: Kind) -> Option<Strategy> {
        self.plans
            .iter()
            .find(|p| p.kind == kind)
            .map(|p| p.strategy)
    }
}

/// Checks a search's inputs before anything is sent; returns the query as a `Vector`.
pub(crate) fn check_query(query: &[f32], k: usize, opts: &SearchOptions) -> Result<Vector> {
    validate_embedding(query, DIMENSIONS, opts.metric)?;
    if k == 0 || k > MAX_K {
        return Err(Error::InvalidInput(format!(
            "k must be between 1 and {MAX_K}, got {k}"
        )));
    }
    if matches!(opts.strategy, Strategy::Hnsw | Strategy::TenantHnsw) {
        if let Some(t) = opts
            .kind
            .tables()
            .iter()
            .filter_map(|k| k.table())
            .find(|t| t.hnsw_metric != opts.metric)
        {
            return Err(Error::InvalidInput(format!(
                "{} has no HNSW index for {:?} distance (its index is {}); use Strategy::Exact or Auto",
                t.name,
                opts.metric,
                t.hnsw_metric.hnsw_opclass()
            )));
        }
    }
    if opts.parent_ids.as_ref().is_some_and(|p| p.is_empty()) {
        return Err(Error::InvalidInput(
            "parent_ids is empty: nothing can match".to_owned(),
        ));
    }
    if opts
        .rules
        .recheck_beyond
        .is_some_and(|d| !(d.is_finite() && (0.0..=2.0).contains(&d)))
    {
        return Err(Error::InvalidInput(format!(
            "recheck_beyond must be a cosine distance between 0 and 2, got {:?}",
            opts.rules.recheck_beyond
        )));
    }
    if !(opts.rules.hnsw_min_share.is_finite() && opts.rules.hnsw_min_share >= 0.0) {
        return Err(Error::InvalidInput(format!(
            "hnsw_min_share must be a non-negative fraction, got {}",
            opts.rules.hnsw_min_share
        )));
    }
    if opts.hnsw.ef_search == 0
        || opts.hnsw.tenant_ef_search == 0
        || opts.hnsw.tenant_rows_per_ef == Some(0)
        || opts.hnsw.max_scan_tuples == 0
    {
        return Err(Error::InvalidInput(
            "ef_search, tenant_ef_search, tenant_rows_per_ef and max_scan_tuples must be at \
             least 1"
                .to_owned(),
        ));
    }
    Ok(Vector::from(query.to_vec()))
}

/// Decides the strategy for one table. A forced [`Strategy::TenantHnsw`] on a table
/// where the tenant has no usable index of its own is refused, not quietly downgraded.
pub(crate) fn plan_table(
    table: &Table,
    counts: &EmbeddingCounts,
    k: usize,
    opts: &SearchOptions,
) -> Result<TablePlan> {
    let (tenant_rows, table_rows) = counts.get(table.kind);
    let has_index = table.hnsw_metric == opts.metric;
    let own_index = has_index && counts.has_own_index(table.kind);
    let share = tenant_rows as f64 / table_rows.max(1) as f64;
    let rules = &opts.rules;
    let (strategy, reason) = match opts.strategy {
        Strategy::Exact => (Strategy::Exact, "requested".to_owned()),
        Strategy::Hnsw => (Strategy::Hnsw, "requested".to_owned()),
        Strategy::TenantHnsw if own_index => (Strategy::TenantHnsw, "requested".to_owned()),
        Strategy::TenantHnsw => {
            return Err(Error::InvalidInput(format!(
                "the tenant has no usable HNSW index of its own on {} (build it with \
                 `rowguard indexes sync`); use Strategy::Auto or Exact",
                table.name
            )))
        }
        Strategy::Auto if !has_index => (
            Strategy::Exact,
            format!("no HNSW index for {:?} distance", opts.metric),
        ),
        Strategy::Auto if opts.parent_ids.is_some() => {
            (Strategy::Exact, "restricted to given parents".to_owned())
        }
        Strategy::Auto if tenant_rows <= rules.exact_max_rows => (
            Strategy::Exact,
            format!(
                "{tenant_rows} rows <= {} (exact is cheap)",
                rules.exact_max_rows
            ),
        ),
        Strategy::Auto if own_index => (
            Strategy::TenantHnsw,
            format!("{tenant_rows} rows, with an HNSW index of its own"),
        ),
        Strategy::Auto if rules.shared_hnsw_fallback && share >= rules.hnsw_min_share => (
            Strategy::Hnsw,
            format!(
                "{tenant_rows} rows, {:.2}% of the table, no index of its own: the shared \
                 index (fallback on)",
                share * 100.0
            ),
        ),
        Strategy::Auto => (
            Strategy::Exact,
            format!(
                "{tenant_rows} rows and no index of its own (build it with `rowguard indexes \
                 sync`): exact, never approximate"
            ),
        ),
    };
    let ef_search = match strategy {
        Strategy::Hnsw => Some(ef_search_for(k, opts.hnsw.ef_search)),
        Strategy::TenantHnsw => Some(opts.hnsw.tenant_ef_search_for(k, tenant_rows)),
        _ => None,
    };
    Ok(TablePlan {
        kind: table.kind,
        strategy,
        tenant_rows,
        table_rows,
        reason,
        ef_search,
        rechecked_from: None,
    })
}

fn ef_search_for(k: usize, ef_search: u32) -> u32 {
    let k = u32::try_from(k).unwrap_or(u32::MAX);
    ef_search.max(k).min(1_000)
}

pub(crate) type Sql<'a> = BoxedSqlQuery<'a, Pg, SqlQuery>;

/// The settings statement sent before every query of a strategy, in its transaction.
/// It sets every setting any strategy touches, so one strategy's settings never leak
/// into the next query of the same transaction. Values that vary are bound.
pub(crate) fn settings_query<'a>(strategy: Strategy, hnsw: Option<(u32, u32)>) -> Sql<'a> {
    match (strategy, hnsw) {
        (Strategy::Hnsw | Strategy::TenantHnsw, Some((ef, max_scan))) => diesel::sql_query(
            "SELECT set_config('hnsw.iterative_scan', $3, true), \
                    set_config('hnsw.ef_search', $1, true), \
                    set_config('hnsw.max_scan_tuples', $2, true), \
                    set_config('enable_seqscan', 'off', true), \
                    set_config('enable_bitmapscan', 'off', true), \
                    set_config('enable_sort', 'off', true), \
                    set_config('plan_cache_mode', 'force_custom_plan', true), \
                    set_config('jit', 'off', true)",
        )
        .into_boxed()
        .bind::<Text, _>(ef.to_string())
        .bind::<Text, _>(max_scan.to_string())
        // The shared graph is filtered, and relaxed order lets the iterative scan go on
        // past other tenants' rows cheaply. Every row of a tenant's own graph passes
        // the filter, so nothing is gained by relaxing there: strict order returns
        // its candidates nearest first, so `LIMIT k` keeps the nearest it found.
        .bind::<Text, _>(if strategy == Strategy::TenantHnsw {
            "strict_order"
        } else {
            "relaxed_order"
        }),
        _ => diesel::sql_query(
            "SELECT set_config('hnsw.iterative_scan', 'off', true), \
                    set_config('enable_seqscan', 'on', true), \
                    set_config('enable_bitmapscan', 'on', true), \
                    set_config('enable_sort', 'on', true), \
                    set_config('plan_cache_mode', 'force_custom_plan', true), \
                    set_config('jit', 'off', true)",
        )
        .into_boxed(),
    }
}

/// The SQL of one strategy on one table. Only identifiers from [`TABLES`] and the
/// metric's operator are spliced in; every value is a parameter:
/// `$1` the query vector, `$2` the tenant, `$3` the limit, `$4` the parent ids.
pub(crate) fn vector_sql(
    table: &Table,
    strategy: Strategy,
    metric: Metric,
    filtered: bool,
) -> String {
    let op = metric.operator();
    let (t, parent) = (table.name, table.parent);
    let filter = if filtered {
        format!(" AND {parent} = ANY($4)")
    } else {
        String::new()
    };
    match strategy {
        // Index-orderable only as the bare `embedding <=> $1`: the index scan is the
        // plan (the settings disable every other path).
        Strategy::Hnsw => format!(
            "SELECT id, {parent} AS parent_id, chunk, embedding {op} $1 AS distance \
               FROM {t} WHERE tenant_id = $2{filter} \
              ORDER BY embedding {op} $1 LIMIT $3"
        ),
        // Ordered by the expression only the tenant's own index holds
        // (`tenant_index::INDEXED`), so the shared index cannot serve it; with the
        // tenant's id bound and plans forced custom, `tenant_id = $2` proves the partial
        // index's predicate. The distance returned is the column's, exact.
        // tests/it/search.rs checks the plan (docs/upstream-behaviour.md).
        Strategy::TenantHnsw => format!(
            "SELECT id, {parent} AS parent_id, chunk, embedding {op} $1 AS distance \
               FROM {t} WHERE tenant_id = $2{filter} \
              ORDER BY {} {op} $1 LIMIT $3",
            tenant_index::INDEXED
        ),
        // `+ 0` makes the order key an expression no index can serve, so no plan can
        // flip to HNSW; the distance is computed once (the sort key is the column).
        _ => format!(
            "SELECT id, {parent} AS parent_id, chunk, (embedding {op} $1) + 0 AS distance \
               FROM {t} WHERE tenant_id = $2{filter} \
              ORDER BY distance LIMIT $3"
        ),
    }
}

#[derive(QueryableByName)]
pub(crate) struct HitRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub(crate) id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub(crate) parent_id: Uuid,
    #[diesel(sql_type = Text)]
    pub(crate) chunk: String,
    #[diesel(sql_type = Double)]
    pub(crate) distance: f64,
}

/// Sends the settings and the query pipelined and loads the rows, the settings'
/// execution ahead of the query's. Every SQL text the search sends is built from
/// [`TABLES`], a strategy, a metric and whether parents are given, a small fixed set,
/// so both are [`Prepared`]: once a connection has run them, they take one round trip
/// together (the first run on a connection adds one, for their Parses; with the
/// statement cache off, every run does). The settings set `plan_cache_mode =
/// force_custom_plan` ahead of every query, so a prepared query is still planned for
/// its bound tenant and vector, which the tenant's partial index needs
/// (docs/upstream-behaviour.md, behaviour 19).
pub(crate) async fn settings_then_load<T>(
    conn: &mut TenantConn,
    settings: Sql<'_>,
    query: Sql<'_>,
) -> Result<Vec<T>>
where
    T: QueryableByName<Pg> + Send + 'static,
{
    let shared: &AsyncPgConnection = conn.pg();
    let (set, rows) = futures_util::join!(
        Prepared::new(settings).execute(&mut &*shared),
        Prepared::new(query).load::<T>(&mut &*shared)
    );
    let wire = conn.wire();
    set.map_err(|e| wire.error(e))?;
    rows.map_err(|e| wire.error(e))
}

/// The settings statement and the bound query of one table's plan.
fn plan_queries<'a>(
    sql: String,
    tenant_id: Uuid,
    plan: &TablePlan,
    vector: &'a Vector,
    limit: usize,
    opts: &'a SearchOptions,
) -> (Sql<'a>, Sql<'a>) {
    let mut query = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<pgvector::sql_types::Vector, _>(vector)
        .bind::<diesel::sql_types::Uuid, _>(tenant_id)
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX));
    if let Some(parents) = &opts.parent_ids {
        query = query.bind::<Array<diesel::sql_types::Uuid>, _>(parents);
    }
    let settings = settings_query(
        plan.strategy,
        plan.ef_search.map(|ef| (ef, opts.hnsw.max_scan_tuples)),
    );
    (settings, query)
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// What PostgreSQL would run for each table of a [`search`]: the strategy chosen and
/// the `EXPLAIN (COSTS OFF)` of its query, planned with the same settings, bound values
/// and role, in the caller's transaction (nothing is executed). Shows which index a
/// search walks, for example that [`Strategy::TenantHnsw`] uses the tenant's own.
pub async fn explain<Q: AsEmbedding + ?Sized>(
    conn: &mut TenantConn,
    query: &Q,
    k: usize,
    opts: &SearchOptions,
) -> Result<Vec<(TablePlan, String)>> {
    let vector = check_query(query.as_embedding(), k, opts)?;
    let mut counts = counts::PlanCounts::get(conn, opts.rules.counts_max_age).await?;
    let mut out = Vec::new();
    for table in opts.kind.tables().iter().filter_map(|k| k.table()) {
        let plan = counts.plan(conn, |c| plan_table(table, c, k, opts)).await?;
        let sql = format!(
            "EXPLAIN (COSTS OFF) {}",
            vector_sql(table, plan.strategy, opts.metric, opts.parent_ids.is_some())
        );
        let (settings, query) = plan_queries(sql, counts.tenant_id(), &plan, &vector, k, opts);
        let lines: Vec<PlanLine> = settings_then_load(conn, settings, query).await?;
        let text = lines
            .into_iter()
            .map(|l| l.line)
            .collect::<Vec<_>>()
            .join("\n");
        out.push((plan, text));
    }
    Ok(out)
}

/// Searches one table with the plan's strategy.
pub(crate) async fn search_table(
    conn: &mut TenantConn,
    tenant_id: Uuid,
    plan: &TablePlan,
    vector: &Vector,
    limit: usize,
    opts: &SearchOptions,
) -> Result<Vec<Hit>> {
    let table = plan
        .kind
        .table()
        .ok_or_else(|| Error::InvalidInput("a plan names a single table".to_owned()))?;
    let sql = vector_sql(table, plan.strategy, opts.metric, opts.parent_ids.is_some());
    let (settings, query) = plan_queries(sql, tenant_id, plan, vector, limit, opts);
    let rows: Vec<HitRow> = settings_then_load(conn, settings, query).await?;
    let mut hits: Vec<Hit> = rows
        .into_iter()
        .map(|r| Hit {
            kind: plan.kind,
            id: r.id,
            parent_id: r.parent_id,
            chunk: r.chunk,
            distance: r.distance,
        })
        .collect();
    sort_hits(&mut hits);
    Ok(hits)
}

/// Nearest first; ties by id, so the order is deterministic.
pub(crate) fn sort_hits(hits: &mut [Hit]) {
    hits.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.id.cmp(&b.id)));
}

/// Why an automatically chosen HNSW answer must be rescanned exactly, if it must: it is
/// shorter than the tenant's rows allow, or its nearest row is beyond
/// [`StrategyRules::recheck_beyond`].
fn recheck_reason(
    plan: &TablePlan,
    hits: &[Hit],
    k: usize,
    opts: &SearchOptions,
) -> Option<String> {
    if opts.strategy != Strategy::Auto
        || !matches!(plan.strategy, Strategy::Hnsw | Strategy::TenantHnsw)
    {
        return None;
    }
    let expected = usize::try_from(plan.tenant_rows)
        .unwrap_or(usize::MAX)
        .min(k);
    // (Auto never sends a search restricted to given parents to HNSW, so every row of
    // the tenant up to k is a fair expectation here.)
    if hits.len() < expected {
        return Some(format!(
            "{} returned {} of {expected} rows: rescanned exactly",
            plan.strategy,
            hits.len()
        ));
    }
    match (hits.first(), opts.rules.recheck_beyond) {
        (Some(nearest), Some(limit)) if nearest.distance > limit => Some(format!(
            "{}'s nearest row at distance {:.3} > {limit}: the query is far from every row \
             of the tenant, where no index tells them apart; rescanned exactly",
            plan.strategy, nearest.distance
        )),
        _ => None,
    }
}

/// Plans and runs a vector search (after [`check_query`]); shared with hybrid search.
pub(crate) async fn run_vector_search(
    conn: &mut TenantConn,
    vector: &Vector,
    k: usize,
    opts: &SearchOptions,
) -> Result<(SearchReport, Uuid)> {
    let mut counts = counts::PlanCounts::get(conn, opts.rules.counts_max_age).await?;
    let mut hits = Vec::new();
    let mut plans = Vec::new();
    for table in opts.kind.tables().iter().filter_map(|k| k.table()) {
        let mut plan = counts.plan(conn, |c| plan_table(table, c, k, opts)).await?;
        tracing::debug!(
            kind = %plan.kind,
            strategy = %plan.strategy,
            tenant_rows = plan.tenant_rows,
            table_rows = plan.table_rows,
            ef_search = plan.ef_search,
            reason = %plan.reason,
            "vector search strategy"
        );
        let mut found = search_table(conn, counts.tenant_id(), &plan, vector, k, opts).await?;
        if let Some(why) = recheck_reason(&plan, &found, k, opts) {
            tracing::debug!(kind = %plan.kind, reason = %why, "vector search rescanned exactly");
            plan = TablePlan {
                strategy: Strategy::Exact,
                reason: why,
                ef_search: None,
                rechecked_from: Some(plan.strategy),
                ..plan
            };
            found = search_table(conn, counts.tenant_id(), &plan, vector, k, opts).await?;
        }
        hits.extend(found);
        plans.push(plan);
    }
    sort_hits(&mut hits);
    hits.truncate(k);
    Ok((SearchReport { hits, plans }, counts.tenant_id()))
}

/// The `k` rows nearest to `query` among the tenant's rows of `opts.kind`.
///
/// The query is validated first (dimensions, finiteness, the zero vector under cosine:
/// [`Error::InvalidInput`], nothing sent). The strategy is chosen from the tenant's
/// row counts ([`embedding_counts`], or the pool's copy of them, at most
/// [`StrategyRules::counts_max_age`] old), and for each table the strategy's settings
/// and query go out pipelined, in one round trip once the connection has them
/// prepared. With a fresh copy of the counts and one table, a search inside
/// `with_tenant` is two round trips in all: the opening with the settings and the
/// query, then `COMMIT`. Returns exactly `k` hits whenever the tenant has `k` rows or
/// more.
///
/// ```no_run
/// use rowguard::search::{search, Kind, SearchOptions};
/// # async fn demo(pool: rowguard::pool::TenantPool, ctx: rowguard::TenantContext, q: Vec<f32>) -> rowguard::Result<()> {
/// let hits = pool
///     .with_tenant(&ctx, async |conn| search(conn, &q, 10, &SearchOptions::new(Kind::All)).await)
///     .await?;
/// # Ok(()) }
/// ```
pub async fn search<Q: AsEmbedding + ?Sized>(
    conn: &mut TenantConn,
    query: &Q,
    k: usize,
    opts: &SearchOptions,
) -> Result<Vec<Hit>> {
    Ok(search_with_report(conn, query, k, opts).await?.hits)
}

/// [`search`], also returning the strategy chosen for each table and why.
pub async fn search_with_report<Q: AsEmbedding + ?Sized>(
    conn: &mut TenantConn,
    query: &Q,
    k: usize,
    opts: &SearchOptions,
) -> Result<SearchReport> {
    let vector = check_query(query.as_embedding(), k, opts)?;
    let span = tracing::debug_span!(
        "rowguard.search",
        kind = %opts.kind,
        k,
        metric = ?opts.metric,
        requested = %opts.strategy
    );
    let (report, _) = run_vector_search(conn, &vector, k, opts)
        .instrument(span)
        .await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(tenant: u64, table: u64) -> EmbeddingCounts {
        EmbeddingCounts {
            tenant_id: Uuid::nil(),
            tables: vec![(Kind::Documents, tenant, table)],
            own_index: vec![],
        }
    }

    fn with_index(tenant: u64, table: u64) -> EmbeddingCounts {
        EmbeddingCounts {
            own_index: vec![Kind::Documents],
            ..counts(tenant, table)
        }
    }

    fn docs() -> &'static Table {
        Kind::Documents.table().unwrap()
    }

    #[test]
    fn auto_rules() {
        let o = SearchOptions::default();
        let p = |c: EmbeddingCounts| plan_table(docs(), &c, 10, &o).unwrap().strategy;
        assert_eq!(p(counts(0, 0)), Strategy::Exact);
        assert_eq!(p(counts(1_500, 100_000)), Strategy::Exact);
        assert_eq!(
            p(with_index(1_500, 100_000)),
            Strategy::Exact,
            "small: exact"
        );
        assert_eq!(p(counts(50_000, 100_000)), Strategy::Exact, "no own index");
        assert_eq!(p(with_index(50_000, 100_000)), Strategy::TenantHnsw);
        assert_eq!(p(with_index(2_000, 100_000)), Strategy::TenantHnsw);
        let fallback = SearchOptions::default().rules(StrategyRules {
            shared_hnsw_fallback: true,
            ..StrategyRules::default()
        });
        let f = |c: EmbeddingCounts| plan_table(docs(), &c, 10, &fallback).unwrap().strategy;
        assert_eq!(f(counts(50_000, 100_000)), Strategy::Hnsw);
        assert_eq!(f(counts(2_000, 100_000)), Strategy::Exact, "2% share");
        assert_eq!(f(with_index(50_000, 100_000)), Strategy::TenantHnsw);
        let l2 = SearchOptions::default().metric(Metric::L2);
        let plan = plan_table(docs(), &with_index(50_000, 100_000), 10, &l2).unwrap();
        assert_eq!(plan.strategy, Strategy::Exact);
        let filtered = SearchOptions::default().parent_ids(vec![Uuid::nil()]);
        let plan = plan_table(docs(), &with_index(50_000, 100_000), 10, &filtered).unwrap();
        assert_eq!(plan.strategy, Strategy::Exact);
        let forced = SearchOptions::default().strategy(Strategy::Hnsw);
        let plan = plan_table(docs(), &counts(5, 100_000), 500, &forced).unwrap();
        assert_eq!(plan.strategy, Strategy::Hnsw);
        assert_eq!(plan.ef_search, Some(500));
        let own = SearchOptions::default().strategy(Strategy::TenantHnsw);
        let plan = plan_table(docs(), &with_index(5, 100_000), 10, &own).unwrap();
        assert_eq!(plan.ef_search, Some(HnswParams::default().tenant_ef_search));
        // A large tenant's graph is walked wider, unless the scaling is off.
        let plan = plan_table(docs(), &with_index(50_000, 100_000), 10, &own).unwrap();
        assert_eq!(plan.ef_search, Some(312));
        let fixed = SearchOptions::default().hnsw(HnswParams {
            tenant_rows_per_ef: None,
            ..HnswParams::default()
        });
        let plan = plan_table(docs(), &with_index(50_000, 100_000), 10, &fixed).unwrap();
        assert_eq!(plan.ef_search, Some(100));
        assert!(matches!(
            plan_table(docs(), &counts(50_000, 100_000), 10, &own),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn far_or_short_hnsw_answers_are_rescanned() {
        let o = SearchOptions::default();
        let plan = plan_table(docs(), &with_index(50_000, 100_000), 10, &o).unwrap();
        let hit = |d: f64| Hit {
            kind: Kind::Documents,
            id: Uuid::now_v7(),
            parent_id: Uuid::nil(),
            chunk: String::new(),
            distance: d,
        };
        let near: Vec<Hit> = (0..10).map(|i| hit(0.3 + f64::from(i) / 100.0)).collect();
        let far: Vec<Hit> = (0..10).map(|i| hit(0.85 + f64::from(i) / 100.0)).collect();
        assert_eq!(recheck_reason(&plan, &near, 10, &o), None);
        assert!(recheck_reason(&plan, &far, 10, &o).is_some());
        assert!(recheck_reason(&plan, &near[..9], 10, &o).is_some(), "short");
        let never = SearchOptions::default().rules(StrategyRules {
            recheck_beyond: None,
            ..StrategyRules::default()
        });
        assert_eq!(recheck_reason(&plan, &far, 10, &never), None);
        let forced = SearchOptions::default().strategy(Strategy::TenantHnsw);
        assert_eq!(
            recheck_reason(&plan, &far, 10, &forced),
            None,
            "forced stays"
        );
        let exact = plan_table(docs(), &counts(500, 100_000), 10, &o).unwrap();
        assert_eq!(recheck_reason(&exact, &far, 10, &o), None);
        let bad = SearchOptions::default().rules(StrategyRules {
            recheck_beyond: Some(f64::NAN),
            ..StrategyRules::default()
        });
        assert!(check_query(&[0.1; DIMENSIONS], 10, &bad).is_err());
    }

    #[test]
    fn checks_before_sending() {
        let o = SearchOptions::default();
        let good = vec![0.1f32; DIMENSIONS];
        assert!(check_query(&good, 10, &o).is_ok());
        assert!(check_query(&good, 0, &o).is_err());
        assert!(check_query(&good, MAX_K + 1, &o).is_err());
        assert!(check_query(&good[..10], 10, &o).is_err());
        assert!(check_query(&vec![0.0; DIMENSIONS], 10, &o).is_err());
        let l2_hnsw = SearchOptions::default()
            .metric(Metric::L2)
            .strategy(Strategy::Hnsw);
        assert!(matches!(
            check_query(&good, 10, &l2_hnsw),
            Err(Error::InvalidInput(_))
        ));
        let zero = SearchOptions::default().hnsw(HnswParams {
            tenant_rows_per_ef: Some(0),
            ..HnswParams::default()
        });
        assert!(matches!(
            check_query(&good, 10, &zero),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn distinct_sql_per_strategy() {
        let exact = vector_sql(docs(), Strategy::Exact, Metric::Cosine, false);
        let hnsw = vector_sql(docs(), Strategy::Hnsw, Metric::Cosine, false);
        let own = vector_sql(docs(), Strategy::TenantHnsw, Metric::Cosine, false);
        assert_ne!(exact, hnsw);
        assert_ne!(own, hnsw);
        assert_ne!(own, exact);
        assert!(exact.contains("+ 0"));
        assert!(hnsw.contains("ORDER BY embedding <=> $1"));
        assert!(vector_sql(docs(), Strategy::Exact, Metric::L2, true).contains("<->"));
        assert!(vector_sql(docs(), Strategy::Exact, Metric::L2, true).contains("ANY($4)"));
    }
}
