//! The tenant's row counts and own indexes, from which a search chooses its strategy,
//! and the pool's short-lived copy of them.
//!
//! Reading them costs a statement whose answer the search must wait for before it can
//! send its query: a round trip, and catalog look-ups on the server. They change
//! slowly (ingestion, `rowguard indexes sync`), so each pool keeps every tenant's last
//! answer for [`StrategyRules::counts_max_age`](super::StrategyRules::counts_max_age)
//! (5 s by default), and a search within that age sends its settings and query right
//! behind the transaction's opening.
//!
//! A stale copy can choose a slower strategy, never a wrong answer: an index that
//! disappeared leaves the query planned as the exact scan it then is (the settings only
//! discourage other plans), a tenant that grew past
//! [`StrategyRules::exact_max_rows`](super::StrategyRules::exact_max_rows) is scanned
//! exactly, and an HNSW answer shorter than the counted rows allow is
//! rescanned. Every query still names the tenant and runs under RLS, so the copy never
//! decides whose rows are read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{tenant_index, Kind};
use crate::pool::Prepared;
use crate::tenant::TenantConn;
use crate::{Error, Result};

/// The tenant's row counts, as the strategy sees them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingCounts {
    /// The transaction's tenant.
    pub tenant_id: Uuid,
    /// `(kind, tenant rows, table rows)` for each of the three tables.
    pub tables: Vec<(Kind, u64, u64)>,
    /// The tables where the tenant has a usable index of its own ([`tenant_index`]).
    pub own_index: Vec<Kind>,
}

impl EmbeddingCounts {
    /// `(tenant rows, table rows)` of `kind`'s table.
    pub fn get(&self, kind: Kind) -> (u64, u64) {
        self.tables
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map_or((0, 0), |(_, t, n)| (*t, *n))
    }

    /// The tenant's rows in `kind`'s table(s).
    pub fn tenant_rows(&self, kind: Kind) -> u64 {
        kind.tables().iter().map(|k| self.get(*k).0).sum()
    }

    /// Whether the tenant has a usable HNSW index of its own on `kind`'s table.
    pub fn has_own_index(&self, kind: Kind) -> bool {
        self.own_index.contains(&kind)
    }
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    tenant_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    tenant_rows: i64,
    #[diesel(sql_type = Double)]
    table_rows: f64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    own_index: bool,
}

/// The tenant, its counts, and whether it has a usable index of its own on each table:
/// found by name (`<table>_hnsw_<tenant>`, one catalog index probe) and used only if
/// `tenant_index::usable_tenant_index!` holds for it (valid, ready, HNSW with the
/// table's operator class, on `l2_normalize(embedding)`, with the predicate exactly
/// `tenant_id = '<tenant>'`): the same condition `tenant_index::list` reports.
pub(crate) const COUNTS_SQL: &str = concat!(
    "\
SELECT t.id AS tenant_id, k.kind::text AS kind, \
       coalesce(e.rows, 0)::int8 AS tenant_rows, c.reltuples::float8 AS table_rows, \
       EXISTS (SELECT FROM pg_catalog.pg_class ic \
                 JOIN pg_catalog.pg_index i ON i.indexrelid = ic.oid \
                 JOIN pg_catalog.pg_am am ON am.oid = ic.relam \
                WHERE ic.relname = c.relname || '_hnsw_' || replace(t.id::text, '-', '') \
                  AND ic.relnamespace = c.relnamespace AND i.indrelid = c.oid \
                  AND ",
    tenant_index::usable_tenant_index!("k.opclass", "t.id"),
    ") AS own_index \
  FROM (SELECT rowguard.current_tenant_id() AS id) AS t \
 CROSS JOIN (VALUES ('documents'::embedding_kind, 'public.document_embeddings'::regclass, 'vector_cosine_ops'), \
                    ('deals'::embedding_kind, 'public.deal_activity_embeddings'::regclass, 'vector_cosine_ops'), \
                    ('meetings'::embedding_kind, 'public.meeting_embeddings'::regclass, 'vector_cosine_ops')) AS k (kind, rel, opclass) \
  JOIN pg_catalog.pg_class c ON c.oid = k.rel \
  LEFT JOIN embedding_counts e ON e.kind = k.kind AND e.tenant_id = t.id"
);

/// Reads the transaction's tenant, its row counts and which tables it has an index of
/// its own on (one statement), now. The table's size is the planner's estimate, which
/// every role can read in `pg_class`; no other tenant's count is visible. The answer
/// also refreshes the pool's copy that searches plan from
/// ([`StrategyRules::counts_max_age`](super::StrategyRules::counts_max_age)).
pub async fn embedding_counts(conn: &mut TenantConn) -> Result<EmbeddingCounts> {
    let counts = read_counts(conn).await?;
    conn.counts_cache().put(&counts);
    Ok(counts)
}

/// The counts a search plans from, and whether they are the pool's copy.
pub(crate) struct PlanCounts {
    counts: EmbeddingCounts,
    copy: bool,
}

impl PlanCounts {
    /// The tenant the counts are of: the transaction's.
    pub(crate) fn tenant_id(&self) -> Uuid {
        self.counts.tenant_id
    }

    /// The pool's copy of the tenant's counts, if it is at most `max_age` old, else
    /// [`embedding_counts`].
    pub(crate) async fn get(conn: &mut TenantConn, max_age: Duration) -> Result<Self> {
        let tenant = conn.context().tenant_id.as_uuid();
        Ok(match conn.counts_cache().get(tenant, max_age) {
            Some(counts) => Self { counts, copy: true },
            None => Self {
                counts: embedding_counts(conn).await?,
                copy: false,
            },
        })
    }

    /// Plans `table` with `plan`; a plan refused on the pool's copy (a strategy forced
    /// onto an index built after the copy was taken) is tried again on counts read now,
    /// so a stale copy never turns into an error.
    pub(crate) async fn plan<T>(
        &mut self,
        conn: &mut TenantConn,
        plan: impl Fn(&EmbeddingCounts) -> Result<T>,
    ) -> Result<T> {
        match plan(&self.counts) {
            Err(_) if self.copy => {
                self.counts = embedding_counts(conn).await?;
                self.copy = false;
                plan(&self.counts)
            }
            planned => planned,
        }
    }
}

async fn read_counts(conn: &mut TenantConn) -> Result<EmbeddingCounts> {
    let rows: Vec<CountRow> = Prepared::new(diesel::sql_query(COUNTS_SQL))
        .load(conn)
        .await?;
    let tenant_id = rows
        .iter()
        .find_map(|r| r.tenant_id)
        .ok_or(Error::NoTenant)?;
    let own_index = rows
        .iter()
        .filter(|r| r.own_index)
        .map(|r| r.kind.parse())
        .collect::<Result<Vec<Kind>>>()?;
    let tables = rows
        .iter()
        .map(|r| {
            let kind = r.kind.parse()?;
            let tenant = u64::try_from(r.tenant_rows).unwrap_or(0);
            // reltuples is -1 for a table never vacuumed or analysed: then the
            // tenant's own count is all that is known.
            let table = if r.table_rows.is_finite() && r.table_rows > 0.0 {
                r.table_rows as u64
            } else {
                0
            };
            Ok((kind, tenant, table.max(tenant)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EmbeddingCounts {
        tenant_id,
        tables,
        own_index,
    })
}

/// The last counts read for each tenant, shared by one pool's connections.
#[derive(Debug, Default)]
pub(crate) struct CountsCache {
    entries: Mutex<HashMap<Uuid, (Instant, EmbeddingCounts)>>,
}

impl CountsCache {
    /// Beyond this many tenants the copies are dropped and read again as needed, so
    /// the cache stays small however many tenants a process serves.
    const MAX_TENANTS: usize = 4096;

    /// `tenant`'s counts, if read at most `max_age` ago.
    fn get(&self, tenant: Uuid, max_age: Duration) -> Option<EmbeddingCounts> {
        if max_age.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&tenant)
            .filter(|(at, _)| at.elapsed() <= max_age)
            .map(|(_, counts)| counts.clone())
    }

    fn put(&self, counts: &EmbeddingCounts) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Self::MAX_TENANTS && !entries.contains_key(&counts.tenant_id) {
            entries.clear();
        }
        entries.insert(counts.tenant_id, (Instant::now(), counts.clone()));
    }

    /// Drops `tenant`'s copy (its rows have just changed through this pool).
    pub(crate) fn forget(&self, tenant: Uuid) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(tenant: Uuid) -> EmbeddingCounts {
        EmbeddingCounts {
            tenant_id: tenant,
            tables: vec![(Kind::Documents, 5, 10)],
            own_index: vec![],
        }
    }

    #[test]
    fn copies_expire_and_are_forgotten() {
        let cache = CountsCache::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        cache.put(&counts(a));
        assert_eq!(cache.get(a, Duration::from_secs(60)), Some(counts(a)));
        assert_eq!(cache.get(b, Duration::from_secs(60)), None, "other tenant");
        assert_eq!(cache.get(a, Duration::ZERO), None, "zero age: never");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(cache.get(a, Duration::from_millis(10)), None, "too old");
        cache.forget(a);
        assert_eq!(cache.get(a, Duration::from_secs(60)), None, "forgotten");
    }

    #[test]
    fn bounded() {
        let cache = CountsCache::default();
        for _ in 0..CountsCache::MAX_TENANTS + 10 {
            cache.put(&counts(Uuid::now_v7()));
        }
        let n = cache.entries.lock().unwrap().len();
        assert!(n <= CountsCache::MAX_TENANTS, "{n} entries");
    }
}
