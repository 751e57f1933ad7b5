//! Shared by the search benches: a synthetic clustered dataset loaded into the real
//! `document_embeddings` table through rowguard's admin ingest path, reused across
//! runs when a database with the same parameters is already loaded.
#![allow(dead_code)]

pub mod text;

use std::time::{Duration, Instant};

use diesel::sql_types::{Array, Text};
use diesel::{Connection, PgConnection};
use diesel_async::RunQueryDsl;
use rowguard::pool::{AdminPool, PoolConfig, TenantPool};
use rowguard::search::{ingest_as_admin, Kind, NewEmbedding};
use rowguard::{TenantContext, TenantId};
use rowguard_testkit::fixtures::N;
use rowguard_testkit::synth::{assign_tenants, tenant_counts, Mixture, MixtureSpec, SynthRng};
use uuid::Uuid;

/// What to load.
#[derive(Clone, Debug)]
pub struct DatasetSpec {
    pub rows: usize,
    pub shares: Vec<f64>,
    pub small_tenants: usize,
    pub mixture: MixtureSpec,
    pub seed: u64,
    pub batch: usize,
    /// Each tenant's rows come from clusters of its own ([`DatasetSpec::topics`]),
    /// as real tenants' data covers different subjects; otherwise every tenant samples
    /// the whole mixture.
    pub topical: bool,
}

impl DatasetSpec {
    /// Database name: a hash of every parameter, so a changed dataset never reuses.
    pub fn database_name(&self, prefix: &str) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.rows.hash(&mut h);
        for s in &self.shares {
            s.to_bits().hash(&mut h);
        }
        self.small_tenants.hash(&mut h);
        self.mixture.dims.hash(&mut h);
        self.mixture.clusters.hash(&mut h);
        self.mixture.spread.to_bits().hash(&mut h);
        self.mixture.seed.hash(&mut h);
        self.seed.hash(&mut h);
        self.topical.hash(&mut h);
        format!("{prefix}_{}_{:x}", self.rows, h.finish() & 0xffff_ffff)
    }

    /// The clusters tenant `t` draws its rows from when topical: half the clusters
    /// for the first share, a tenth for the second, then two, then one; each small
    /// tenant one of the clusters left. Every tenant's topics are its own (the small
    /// tenants share theirs with each other only).
    pub fn topics(&self, t: usize) -> Vec<usize> {
        let n = self.mixture.clusters;
        let bounds = [
            0,
            n / 2,
            n / 2 + n / 10,
            n / 2 + n / 10 + 2,
            n / 2 + n / 10 + 3,
        ];
        if t + 1 < bounds.len() && t < self.shares.len() {
            (bounds[t]..bounds[t + 1]).collect()
        } else {
            let first = bounds[bounds.len() - 1];
            vec![first + (t % (n - first).max(1))]
        }
    }
}

/// Tenants of the loaded dataset, in `assign_tenants` order (shares first, then small).
pub struct Dataset {
    pub tenants: Vec<(TenantId, usize)>,
    pub app: TenantPool,
    pub admin: AdminPool,
    pub owner_url: String,
    /// The synthetic dataset's mixture (`None` for the real-text dataset).
    pub mixture: Option<Mixture>,
    /// Ingest rows/s, HNSW build time and index size, when this run loaded the data.
    pub load: Option<LoadStats>,
}

pub struct LoadStats {
    pub rows: usize,
    pub ingest: Duration,
    pub hnsw_build: Duration,
    pub hnsw_bytes: i64,
    pub table_bytes: i64,
}

/// The per-tenant indexes `tenant_index::sync` built (default threshold): one line each.
pub struct TenantIndexStats {
    pub built: Vec<(u64, Duration, i64)>,
}

/// Brings the per-tenant HNSW indexes in line (as the owner, like `rowguard indexes
/// sync`); returns `(tenant rows, build time, index bytes)` of each index built.
pub fn sync_tenant_indexes(owner_url: &str) -> TenantIndexStats {
    use rowguard::search::tenant_index::{self, Change, SyncOptions};
    let mut owner = PgConnection::establish(owner_url).expect("owner connection");
    let opts = SyncOptions {
        maintenance_work_mem: Some("2GB".into()),
        ..SyncOptions::default()
    };
    let mut timed = Vec::new();
    tenant_index::sync(&mut owner, &opts, |change, took| {
        eprintln!("  {change:?} in {:.1} s", took.as_secs_f64());
        if let Change::Create { tenant_rows, .. } | Change::Rebuild { tenant_rows, .. } = change {
            timed.push((change.index_name(), *tenant_rows, took));
        }
    })
    .expect("sync tenant indexes");
    // Their sizes, from the same listing `rowguard indexes list` prints.
    let listed = tenant_index::list(&mut owner).expect("list tenant indexes");
    let built = timed
        .into_iter()
        .map(|(name, rows, took)| {
            let bytes = listed
                .iter()
                .find(|i| i.name == name)
                .map_or(0, |i| i.bytes);
            (rows, took, bytes)
        })
        .collect();
    TenantIndexStats { built }
}

const WORDS: &[&str] = &[
    "invoice",
    "renewal",
    "pipeline",
    "roadmap",
    "contract",
    "onboarding",
    "churn",
    "pricing",
    "security",
    "migration",
    "hiring",
    "forecast",
    "quarterly",
    "support",
    "integration",
    "feedback",
    "budget",
    "launch",
    "compliance",
    "partnership",
];

/// Chunk text correlated with the cluster, so full-text and vector search agree a bit.
pub fn chunk_text(cluster: usize, i: usize) -> String {
    format!(
        "{} {} notes {} item {i}",
        WORDS[cluster % WORDS.len()],
        WORDS[(cluster * 7 + 3) % WORDS.len()],
        WORDS[(cluster * 13 + i) % WORDS.len()]
    )
}

fn owner_exec(conn: &mut PgConnection, sql: &str) {
    diesel::RunQueryDsl::execute(diesel::sql_query(sql), conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn owner_count(conn: &mut PgConnection, sql: &str) -> i64 {
    let r: N = diesel::RunQueryDsl::get_result(diesel::sql_query(sql), conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    r.n
}

fn slug(prefix: &str, i: usize) -> String {
    format!("{}-t{i}", prefix.replace('_', "-"))
}

/// A tenant pool and an admin pool on the migrated database `owner_url`, as the test
/// logins, the tenant pool signing with the database's key.
pub async fn pools(
    owner_url: &str,
    max_size: u32,
    statement_timeout: Option<Duration>,
) -> (TenantPool, AdminPool) {
    let logins = rowguard_testkit::server::prepare_database(owner_url).expect("logins");
    let admin = PoolConfig::new(logins.admin_url)
        .max_size(max_size)
        .statement_timeout(statement_timeout)
        .build_admin()
        .expect("admin pool");
    let key = admin.context_key().await.expect("context key");
    let app = PoolConfig::new(logins.app_url)
        .context_key(key)
        .max_size(max_size)
        .statement_timeout(statement_timeout)
        .build()
        .expect("tenant pool");
    (app, admin)
}

/// Loads (or finds loaded) the synthetic dataset and returns its tenants and pools.
pub async fn dataset(spec: &DatasetSpec, prefix: &str, log: bool) -> Dataset {
    let mixture = Mixture::new(spec.mixture).expect("mixture");
    let assignment =
        assign_tenants(spec.rows, &spec.shares, spec.small_tenants, spec.seed).expect("assign");
    let counts = tenant_counts(&assignment);
    let rows = || {
        let mut rng = SynthRng::new(spec.seed ^ 0x5eed);
        let mixture = &mixture;
        assignment.iter().enumerate().map(move |(j, t)| {
            let (cluster, v) = if spec.topical {
                let topics = spec.topics(*t);
                let c = topics[rng.below(topics.len())];
                (c, mixture.sample_cluster(&mut rng, c))
            } else {
                mixture.sample(&mut rng)
            };
            (*t, chunk_text(cluster, j), v)
        })
    };
    let mut ds = load_dataset(
        &spec.database_name(prefix),
        prefix,
        &counts,
        rows,
        spec.batch,
        log,
    )
    .await;
    ds.mixture = Some(mixture);
    ds
}

/// Loads `rows()` (tenant index, chunk text, vector), the rows of tenants with `counts`
/// in load order, into the database `name` as the admin role, unless it already holds
/// them and its HNSW index; returns the tenants and pools.
pub async fn load_dataset<I>(
    name: &str,
    prefix: &str,
    counts: &[usize],
    rows: impl FnOnce() -> I,
    batch: usize,
    log: bool,
) -> Dataset
where
    I: Iterator<Item = (usize, String, Vec<f32>)>,
{
    let total: usize = counts.iter().sum();
    let owner_url = rowguard_testkit::server::migrated_database(name).expect("migrated database");
    let (app, admin) = pools(&owner_url, 2, Some(Duration::from_secs(600))).await;
    let mut owner = PgConnection::establish(&owner_url).expect("owner connection");
    // Tenant ids are derived from the slug order: read them back when reusing.
    let loaded = owner_count(&mut owner, "SELECT count(*) AS n FROM document_embeddings");
    let has_index = owner_count(
        &mut owner,
        "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'document_embeddings_embedding_hnsw_idx'",
    );
    let mut load = None;
    if loaded as usize != total || has_index == 0 {
        if log {
            eprintln!("loading {total} rows into {name} ...");
        }
        owner_exec(&mut owner, "TRUNCATE tenants CASCADE");
        owner_exec(
            &mut owner,
            "DROP INDEX IF EXISTS document_embeddings_embedding_hnsw_idx",
        );
        let tenants: Vec<TenantId> = (0..counts.len()).map(|_| TenantId::new_v7()).collect();
        let slugs: Vec<String> = (0..counts.len()).map(|i| slug(prefix, i)).collect();
        let ids: Vec<Uuid> = tenants.iter().map(|t| t.as_uuid()).collect();
        // One document per 100 chunks.
        let docs: Vec<Vec<Uuid>> = counts
            .iter()
            .map(|c| (0..c.div_ceil(100)).map(|_| Uuid::now_v7()).collect())
            .collect();
        let (doc_tenants, doc_ids): (Vec<Uuid>, Vec<Uuid>) = docs
            .iter()
            .enumerate()
            .flat_map(|(t, ds)| {
                let tid = ids[t];
                ds.iter().map(move |d| (tid, *d))
            })
            .unzip();
        admin.as_admin("bench: create tenants and documents", async |conn| {
            diesel::sql_query(
                "INSERT INTO tenants (id, slug, name) SELECT i, s, s FROM unnest($1::uuid[], $2::text[]) AS u (i, s)",
            )
            .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
            .bind::<Array<Text>, _>(&slugs)
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO documents (tenant_id, id, title) SELECT t, d, 'bench document' FROM unnest($1::uuid[], $2::uuid[]) AS u (t, d)",
            )
            .bind::<Array<diesel::sql_types::Uuid>, _>(&doc_tenants)
            .bind::<Array<diesel::sql_types::Uuid>, _>(&doc_ids)
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
        .expect("tenants");

        let mut next_chunk = vec![0usize; counts.len()];
        let mut ingest_time = Duration::ZERO;
        let mut source = rows().peekable();
        let mut b = 0usize;
        while source.peek().is_some() {
            let rows: Vec<(TenantId, NewEmbedding)> = source
                .by_ref()
                .take(batch)
                .map(|(t, text, v)| {
                    let c = next_chunk[t];
                    next_chunk[t] += 1;
                    (
                        tenants[t],
                        NewEmbedding::new(docs[t][c / 100], (c % 100) as i32, text, "bench", v),
                    )
                })
                .collect();
            let start = Instant::now();
            admin
                .as_admin("bench: load embeddings", async |conn| {
                    ingest_as_admin(conn, Kind::Documents, &rows).await
                })
                .await
                .expect("ingest");
            ingest_time += start.elapsed();
            if log && b % 20 == 0 {
                eprintln!("  {} rows", (b + 1) * batch);
            }
            b += 1;
        }
        assert_eq!(next_chunk, counts, "rows() must yield each tenant's count");
        let start = Instant::now();
        owner_exec(&mut owner, "SET maintenance_work_mem = '2GB'");
        // pgvector 0.6.0-0.8.1 (CVE-2026-3172): serial HNSW builds only.
        owner_exec(&mut owner, "SET max_parallel_maintenance_workers = 0");
        owner_exec(
            &mut owner,
            "CREATE INDEX document_embeddings_embedding_hnsw_idx ON document_embeddings USING hnsw (embedding vector_cosine_ops)",
        );
        let hnsw_build = start.elapsed();
        owner_exec(&mut owner, "VACUUM ANALYZE document_embeddings");
        load = Some(LoadStats {
            rows: total,
            ingest: ingest_time,
            hnsw_build,
            hnsw_bytes: owner_count(
                &mut owner,
                "SELECT pg_relation_size('document_embeddings_embedding_hnsw_idx') AS n",
            ),
            table_bytes: owner_count(
                &mut owner,
                "SELECT pg_total_relation_size('document_embeddings') AS n",
            ),
        });
    } else if log {
        eprintln!("reusing {name} ({loaded} rows)");
    }
    let tenants = admin
        .as_admin("bench: list tenants", async |conn| {
            #[derive(diesel::QueryableByName)]
            struct T {
                #[diesel(sql_type = diesel::sql_types::Uuid)]
                id: Uuid,
                #[diesel(sql_type = Text)]
                slug: String,
            }
            let rows: Vec<T> = diesel::sql_query("SELECT id, slug FROM tenants")
                .load(conn)
                .await?;
            Ok(rows)
        })
        .await
        .expect("tenants");
    let mut by_index = vec![(TenantId::new_v7(), 0); counts.len()];
    for t in tenants {
        if let Some(i) = t
            .slug
            .strip_prefix(&format!("{}-t", prefix.replace('_', "-")))
            .and_then(|s| s.parse::<usize>().ok())
        {
            if i < counts.len() {
                by_index[i] = (TenantId::from_uuid(t.id), counts[i]);
            }
        }
    }
    Dataset {
        tenants: by_index,
        app,
        admin,
        owner_url,
        mixture: None,
        load,
    }
}

/// A tenant context for tenant index `i`.
pub fn ctx(ds: &Dataset, i: usize) -> TenantContext {
    TenantContext::new(ds.tenants[i].0)
}
