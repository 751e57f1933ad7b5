//! Vector search under row-level security, on small clustered datasets
//! from `rowguard::search::synth`, acting through `TenantPool` as the application
//! role (the admin role only creates tenants):
//! - recall@10 against an exact ground truth (computed here, in f64) is at least 0.95,
//!   with exactly k rows, for a tiny tenant (exact scan) and a large one (its own HNSW
//!   index once `tenant_index::sync` built it, exact before), chosen automatically;
//! - a large tenant asked about other tenants' topics still gets recall ≥ 0.98 from
//!   its own index, which the planner really walks (`search::explain`); an index that
//!   is not what its name says is never used, and sync rebuilds it;
//! - automatic selection picks exact for a tiny tenant and the shared HNSW index for a
//!   large one when the fallback is on (read from the returned report), and
//!   `embedding_counts` follows inserts and deletes;
//! - searches plan from the pool's copy of the counts within `counts_max_age` (writes
//!   through the same pool renew it, a strategy forced onto an index newer than the
//!   copy still runs), and their statements stay prepared, planned afresh for each
//!   search (custom plans), and walk the tenant's own index;
//! - hybrid search returns a lexical-only hit and a vector-only hit;
//! - bad vectors (wrong length, NaN, ±infinity, zero under cosine) are rejected with
//!   `Error::InvalidInput` before anything is sent, and nothing is written; a batch the
//!   database refuses writes nothing either; `COPY FROM` is refused under RLS;
//! - no search returns another tenant's row, under any strategy, metric or kind, or
//!   in hybrid search, even when the other tenant holds every true nearest neighbour.

use std::collections::HashSet;
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use rowguard::pool::TenantPool;
use rowguard::search::tenant_index::{self, Change, SyncOptions};
use rowguard::search::{
    embedding_counts, explain, hybrid_search, hybrid_search_with_report, ingest, search,
    search_with_report, HybridOptions, Kind, Metric, NewEmbedding, SearchOptions, Strategy,
    StrategyRules, DIMENSIONS,
};
use rowguard::{Error, TenantContext};
use rowguard_testkit::fixtures::N;
use rowguard_testkit::server::TestDatabase;
use rowguard_testkit::synth::{Mixture, MixtureSpec, SynthRng};
use uuid::Uuid;

const K: usize = 10;

async fn make_tenant(pool: &TenantPool, slug: &str) -> TenantContext {
    TenantContext::new(rowguard_testkit::fixtures::make_tenant(pool, slug).await)
}

/// Creates a parent row (document, deal activity or meeting) and returns its id.
async fn make_parent(pool: &TenantPool, ctx: &TenantContext, kind: Kind) -> Uuid {
    let id = Uuid::now_v7();
    let sql = match kind {
        Kind::Documents => {
            "INSERT INTO documents (tenant_id, id, title) \
             VALUES ((SELECT rowguard.current_tenant_id()), $1, 'doc')"
        }
        Kind::Deals => {
            "WITH d AS (INSERT INTO deals (tenant_id, title) \
                        VALUES ((SELECT rowguard.current_tenant_id()), 'deal') RETURNING id) \
             INSERT INTO deal_activities (tenant_id, id, deal_id, kind) \
             SELECT (SELECT rowguard.current_tenant_id()), $1, d.id, 'note' FROM d"
        }
        Kind::Meetings => {
            "INSERT INTO meetings (tenant_id, id, title, starts_at, ends_at) \
             VALUES ((SELECT rowguard.current_tenant_id()), $1, 'meeting', now(), now() + interval '1 hour')"
        }
        Kind::All => unreachable!("one table"),
    };
    pool.with_tenant(ctx, async |conn| {
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Uuid, _>(id)
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
    .expect("create parent");
    id
}

/// Ingests `vectors` (with `texts`, or "chunk N") for the tenant, 100 chunks per
/// parent, in batches; returns `(id, vector)` per row.
async fn load(
    pool: &TenantPool,
    ctx: &TenantContext,
    kind: Kind,
    vectors: Vec<Vec<f32>>,
    texts: Option<Vec<String>>,
) -> Vec<(Uuid, Vec<f32>)> {
    let mut out = Vec::with_capacity(vectors.len());
    let mut rows = Vec::with_capacity(vectors.len());
    let mut parent = Uuid::nil();
    for (i, v) in vectors.into_iter().enumerate() {
        if i % 100 == 0 {
            parent = make_parent(pool, ctx, kind).await;
        }
        let text = texts
            .as_ref()
            .map_or_else(|| format!("chunk {i}"), |t| t[i].clone());
        let row = NewEmbedding::new(parent, (i % 100) as i32, text, "synthetic", v.clone());
        out.push((row.id, v));
        rows.push(row);
    }
    for batch in rows.chunks(500) {
        let n = pool
            .with_tenant(ctx, async |conn| ingest(conn, kind, batch).await)
            .await
            .expect("ingest");
        assert_eq!(n, batch.len());
    }
    out
}

fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    1.0 - dot / (na.sqrt() * nb.sqrt())
}

/// Exact cosine top-k ids among `rows`.
fn truth(rows: &[(Uuid, Vec<f32>)], q: &[f32], k: usize) -> Vec<Uuid> {
    let mut d: Vec<(f64, Uuid)> = rows
        .iter()
        .map(|(id, v)| (cosine_distance(q, v), *id))
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    d.into_iter().take(k).map(|(_, id)| id).collect()
}

fn mixture() -> Mixture {
    Mixture::new(MixtureSpec::default()).expect("mixture")
}

/// Mean recall@k of `strategy`-chosen searches for `queries`; asserts every search
/// returned exactly k rows and used `expect` for the documents table.
async fn mean_recall(
    pool: &TenantPool,
    ctx: &TenantContext,
    rows: &[(Uuid, Vec<f32>)],
    queries: &[Vec<f32>],
    expect: Strategy,
) -> f64 {
    mean_recall_with(pool, ctx, rows, queries, &fresh_counts(), expect).await
}

/// Options that read the tenant's counts on every search: for tests that watch the
/// strategy follow indexes and rows as they change.
fn fresh_counts() -> SearchOptions {
    SearchOptions::new(Kind::Documents).rules(StrategyRules {
        counts_max_age: Duration::ZERO,
        ..StrategyRules::default()
    })
}

/// [`mean_recall`] with given options.
async fn mean_recall_with(
    pool: &TenantPool,
    ctx: &TenantContext,
    rows: &[(Uuid, Vec<f32>)],
    queries: &[Vec<f32>],
    opts: &SearchOptions,
    expect: Strategy,
) -> f64 {
    let mut total = 0.0;
    for q in queries {
        let report = pool
            .with_tenant(ctx, async |conn| search_with_report(conn, q, K, opts).await)
            .await
            .expect("search");
        assert_eq!(report.strategy_for(Kind::Documents), Some(expect));
        assert_eq!(report.hits.len(), K, "exactly k rows");
        assert!(
            report
                .hits
                .windows(2)
                .all(|w| w[0].distance <= w[1].distance),
            "sorted by distance"
        );
        let want: HashSet<Uuid> = truth(rows, q, K).into_iter().collect();
        let got = report.hits.iter().filter(|h| want.contains(&h.id)).count();
        total += got as f64 / K as f64;
    }
    total / queries.len() as f64
}

#[tokio::test]
async fn recall_for_a_tiny_and_a_large_tenant() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let m = mixture();
    let mut rng = SynthRng::new(1);
    let large = make_tenant(&pool, "large").await;
    let tiny = make_tenant(&pool, "tiny").await;
    let other = make_tenant(&pool, "other").await;
    // 2,000 rows: above the 1,500-row exact limit and ~89 % of the table -> HNSW.
    let large_rows = load(
        &pool,
        &large,
        Kind::Documents,
        m.vectors(&mut rng, 2_000),
        None,
    )
    .await;
    let tiny_rows = load(&pool, &tiny, Kind::Documents, m.vectors(&mut rng, 40), None).await;
    load(
        &pool,
        &other,
        Kind::Documents,
        m.vectors(&mut rng, 200),
        None,
    )
    .await;
    let queries = m.vectors(&mut SynthRng::new(99), 20);

    // Above the exact limit with no index of its own: exact, never approximate.
    let r_exact = mean_recall(&pool, &large, &large_rows, &queries[..3], Strategy::Exact).await;
    assert!(r_exact >= 0.999, "exact recall {r_exact}");
    let mut owner = db.owner_conn().expect("owner");
    let built = tenant_index::sync(&mut owner, &SyncOptions::default(), |_, _| {}).expect("sync");
    assert_eq!(
        built,
        vec![Change::Create {
            kind: Kind::Documents,
            tenant_id: large.tenant_id.as_uuid(),
            tenant_rows: 2_000
        }]
    );
    let r_large = mean_recall(&pool, &large, &large_rows, &queries, Strategy::TenantHnsw).await;
    let r_tiny = mean_recall(&pool, &tiny, &tiny_rows, &queries, Strategy::Exact).await;
    eprintln!("recall@10: large (tenant_hnsw) {r_large:.3}, tiny (exact) {r_tiny:.3}");
    assert!(r_large >= 0.95, "large tenant recall {r_large}");
    assert!(r_tiny >= 0.99, "tiny tenant recall {r_tiny}");

    // A tenant with fewer than k rows gets all of them, nearest first.
    let few = make_tenant(&pool, "few").await;
    let few_rows = load(&pool, &few, Kind::Documents, m.vectors(&mut rng, 4), None).await;
    let hits = pool
        .with_tenant(&few, async |conn| {
            search(conn, &queries[0], K, &SearchOptions::new(Kind::Documents)).await
        })
        .await
        .expect("search");
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        truth(&few_rows, &queries[0], K)
    );

    // L2 and inner product (exact: no index for them) agree with the ground truth's
    // top hit (on unit vectors every metric ranks alike).
    for metric in [Metric::L2, Metric::InnerProduct] {
        let hits = pool
            .with_tenant(&tiny, async |conn| {
                search(
                    conn,
                    &queries[1],
                    K,
                    &SearchOptions::new(Kind::Documents).metric(metric),
                )
                .await
            })
            .await
            .expect("search");
        assert_eq!(hits.len(), K);
        assert_eq!(
            hits[0].id,
            truth(&tiny_rows, &queries[1], 1)[0],
            "{metric:?}"
        );
    }
}

#[tokio::test]
async fn auto_selection_follows_the_maintained_counts() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let m = mixture();
    let mut rng = SynthRng::new(2);
    let big = make_tenant(&pool, "big").await;
    let small = make_tenant(&pool, "small").await;
    load(&pool, &big, Kind::Documents, m.vectors(&mut rng, 300), None).await;
    let small_rows = load(
        &pool,
        &small,
        Kind::Documents,
        m.vectors(&mut rng, 30),
        None,
    )
    .await;

    // The counts are the triggers' work, per tenant and table.
    let counts = pool
        .with_tenant(&big, async |conn| embedding_counts(conn).await)
        .await
        .expect("counts");
    assert_eq!(counts.tenant_id, big.tenant_id.as_uuid());
    assert_eq!(counts.get(Kind::Documents).0, 300);
    assert_eq!(counts.get(Kind::Meetings).0, 0);

    // Scaled-down rules, so a small dataset exercises both branches.
    let rules = StrategyRules {
        exact_max_rows: 100,
        shared_hnsw_fallback: true,
        hnsw_min_share: 0.5,
        recheck_beyond: None,
        ..StrategyRules::default()
    };
    let opts = SearchOptions::new(Kind::All).rules(rules);
    let q = m.vectors(&mut SynthRng::new(5), 1).remove(0);
    let report_big = pool
        .with_tenant(&big, async |conn| {
            search_with_report(conn, &q, K, &opts).await
        })
        .await
        .expect("search");
    let report_small = pool
        .with_tenant(&small, async |conn| {
            search_with_report(conn, &q, K, &opts).await
        })
        .await
        .expect("search");
    assert_eq!(
        report_big.strategy_for(Kind::Documents),
        Some(Strategy::Hnsw)
    );
    assert_eq!(
        report_small.strategy_for(Kind::Documents),
        Some(Strategy::Exact)
    );
    // Empty tables of a tenant are scanned exactly (and cost nothing).
    assert_eq!(report_big.strategy_for(Kind::Deals), Some(Strategy::Exact));
    assert_eq!(report_big.plans.len(), 3);
    assert_eq!(report_big.hits.len(), K);
    let plan = &report_big.plans[0];
    assert_eq!((plan.tenant_rows, plan.ef_search), (300, Some(400)));

    // Default rules: 30 rows is a tiny tenant; deleting rows is counted too.
    let report = pool
        .with_tenant(&small, async |conn| {
            search_with_report(conn, &q, K, &SearchOptions::new(Kind::Documents)).await
        })
        .await
        .expect("search");
    assert_eq!(report.strategy_for(Kind::Documents), Some(Strategy::Exact));
    let gone = small_rows[0].0;
    let after = pool
        .with_tenant(&small, async |conn| {
            diesel::sql_query("DELETE FROM document_embeddings WHERE id = $1")
                .bind::<diesel::sql_types::Uuid, _>(gone)
                .execute(conn)
                .await?;
            embedding_counts(conn).await
        })
        .await
        .expect("delete");
    assert_eq!(after.get(Kind::Documents).0, 29);

    // A forced strategy wins; a metric without an index cannot be forced onto HNSW.
    let forced = pool
        .with_tenant(&small, async |conn| {
            search_with_report(
                conn,
                &q,
                K,
                &SearchOptions::new(Kind::Documents).strategy(Strategy::Hnsw),
            )
            .await
        })
        .await
        .expect("search");
    assert_eq!(forced.strategy_for(Kind::Documents), Some(Strategy::Hnsw));
    let err = pool
        .with_tenant(&small, async |conn| {
            search(
                conn,
                &q,
                K,
                &SearchOptions::new(Kind::Documents)
                    .metric(Metric::L2)
                    .strategy(Strategy::Hnsw),
            )
            .await
        })
        .await
        .expect_err("no L2 index");
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}

/// Runs one Auto search for `ctx` with `opts`; returns its strategy on documents.
async fn strategy_of(
    pool: &TenantPool,
    ctx: &TenantContext,
    q: &[f32],
    opts: &SearchOptions,
) -> Strategy {
    let report = pool
        .with_tenant(ctx, async |conn| search_with_report(conn, q, K, opts).await)
        .await
        .expect("search");
    report
        .strategy_for(Kind::Documents)
        .expect("documents searched")
}

async fn explained(
    pool: &TenantPool,
    ctx: &TenantContext,
    q: &[f32],
    opts: &SearchOptions,
) -> String {
    let plans = pool
        .with_tenant(ctx, async |conn| explain(conn, q, K, opts).await)
        .await
        .expect("explain");
    assert_eq!(plans.len(), 1);
    plans[0].1.clone()
}

#[tokio::test]
async fn a_large_tenant_searches_its_own_index_whatever_the_query() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let m = mixture();
    let mut rng = SynthRng::new(3);
    let large = make_tenant(&pool, "large").await;
    let crowd = make_tenant(&pool, "crowd").await;
    // Topical tenants: `large` writes about clusters 0-4, `crowd` (twice its size) about
    // 5-99. A query from crowd's topics finds large's rows a small minority around it.
    let pick = |rng: &mut SynthRng, from: usize, to: usize| from + rng.below(to - from);
    let large_vectors: Vec<Vec<f32>> = (0..800)
        .map(|_| {
            let c = pick(&mut rng, 0, 5);
            m.sample_cluster(&mut rng, c)
        })
        .collect();
    let crowd_vectors: Vec<Vec<f32>> = (0..1_600)
        .map(|_| {
            let c = pick(&mut rng, 5, 100);
            m.sample_cluster(&mut rng, c)
        })
        .collect();
    let large_rows = load(&pool, &large, Kind::Documents, large_vectors, None).await;
    load(&pool, &crowd, Kind::Documents, crowd_vectors, None).await;
    let mut qrng = SynthRng::new(77);
    let off_topic: Vec<Vec<f32>> = (0..20)
        .map(|_| {
            let c = pick(&mut qrng, 5, 100);
            m.sample_cluster(&mut qrng, c)
        })
        .collect();
    let rules = StrategyRules {
        exact_max_rows: 500,
        counts_max_age: Duration::ZERO,
        ..StrategyRules::default()
    };
    let opts = SearchOptions::new(Kind::Documents).rules(rules);
    let q = &off_topic[0];

    // No index of its own yet: exact, never the shared graph.
    assert_eq!(strategy_of(&pool, &large, q, &opts).await, Strategy::Exact);
    let forced = SearchOptions::new(Kind::Documents).strategy(Strategy::TenantHnsw);
    let err = pool
        .with_tenant(&large, async |conn| search(conn, q, K, &forced).await)
        .await
        .expect_err("no index to force");
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");

    // The application role cannot read other tenants' counts through the owner's look-up.
    let err = pool
        .with_tenant(&large, async |conn| {
            diesel::sql_query("SELECT count(*) AS n FROM rowguard.embedding_tenant_rows()")
                .get_result::<N>(conn)
                .await?;
            Ok(())
        })
        .await
        .expect_err("not executable by rowguard_app");
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");

    let mut owner = db.owner_conn().expect("owner");
    let sync = SyncOptions {
        min_rows: 500,
        maintenance_work_mem: Some("256MB".into()),
        dry_run: false,
    };
    let changes = tenant_index::sync(&mut owner, &sync, |_, _| {}).expect("sync");
    assert_eq!(changes.len(), 2, "{changes:?}");
    let listed = tenant_index::list(&mut owner).expect("list");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|i| i.usable), "{listed:?}");
    assert!(
        tenant_index::plan(&mut owner, &sync)
            .expect("plan")
            .is_empty(),
        "in line"
    );

    // Auto now walks the tenant's own graph, and the plan shows that index.
    let own_name = tenant_index::index_name(Kind::Documents, large.tenant_id.as_uuid()).unwrap();
    let plan = explained(&pool, &large, q, &opts).await;
    assert!(
        plan.contains(&format!("Index Scan using {own_name}")),
        "{plan}"
    );
    let exact = explained(
        &pool,
        &large,
        q,
        &SearchOptions::new(Kind::Documents).strategy(Strategy::Exact),
    )
    .await;
    assert!(!exact.contains("hnsw"), "{exact}");
    // Near its own topics, its own graph answers.
    let mut nrng = SynthRng::new(78);
    let near: Vec<Vec<f32>> = (0..20)
        .map(|_| {
            let c = pick(&mut nrng, 0, 5);
            m.sample_cluster(&mut nrng, c)
        })
        .collect();
    let recall = mean_recall_with(
        &pool,
        &large,
        &large_rows,
        &near,
        &opts,
        Strategy::TenantHnsw,
    )
    .await;
    eprintln!("recall@10 near its own topics, own index: {recall:.3}");
    assert!(recall >= 0.98, "recall {recall}");
    // From other topics every row of the tenant is far (these clusters are mutually
    // orthogonal): no graph tells them apart, so the answer is rescanned exactly.
    let recall = mean_recall_with(
        &pool,
        &large,
        &large_rows,
        &off_topic,
        &opts,
        Strategy::Exact,
    )
    .await;
    assert!(recall >= 0.999, "rescanned recall {recall}");
    let report = pool
        .with_tenant(&large, async |conn| {
            search_with_report(conn, q, K, &opts).await
        })
        .await
        .expect("search");
    assert_eq!(
        report.plans[0].rechecked_from,
        Some(Strategy::TenantHnsw),
        "{:?}",
        report.plans
    );
    assert!(report.hits[0].distance > 0.8, "{:?}", report.hits[0]);
    let no_recheck = opts.clone().rules(StrategyRules {
        recheck_beyond: None,
        ..rules
    });
    mean_recall_with(
        &pool,
        &large,
        &large_rows,
        &off_topic[..3],
        &no_recheck,
        Strategy::TenantHnsw,
    )
    .await;

    // An index that carries the tenant's name but not its predicate is never used.
    {
        use diesel::connection::SimpleConnection;
        owner
            .batch_execute(&format!(
                "DROP INDEX {own_name}; CREATE INDEX {own_name} ON document_embeddings \
                 USING hnsw (embedding vector_cosine_ops) WHERE tenant_id = '{}'",
                crowd.tenant_id.as_uuid()
            ))
            .expect("plant a wrong index");
    }
    assert_eq!(
        strategy_of(&pool, &large, &near[0], &opts).await,
        Strategy::Exact
    );
    let listed = tenant_index::list(&mut owner).expect("list");
    assert!(
        listed.iter().any(|i| i.name == own_name && !i.usable),
        "{listed:?}"
    );
    let changes = tenant_index::sync(&mut owner, &sync, |_, _| {}).expect("rebuild");
    assert!(
        matches!(changes.as_slice(), [Change::Rebuild { .. }]),
        "{changes:?}"
    );
    assert_eq!(
        strategy_of(&pool, &large, &near[0], &opts).await,
        Strategy::TenantHnsw
    );

    // A tenant that falls to half the threshold loses its index (dry run: nothing moves).
    let dry = SyncOptions {
        min_rows: 2_000,
        dry_run: true,
        ..sync.clone()
    };
    let changes = tenant_index::sync(&mut owner, &dry, |_, _| {}).expect("dry run");
    assert_eq!(
        changes,
        vec![Change::Drop {
            kind: Kind::Documents,
            tenant_id: large.tenant_id.as_uuid(),
            tenant_rows: 800
        }]
    );
    assert_eq!(tenant_index::list(&mut owner).expect("list").len(), 2);
    let bad = SyncOptions {
        maintenance_work_mem: Some("1GB; RESET ALL".into()),
        ..sync
    };
    assert!(matches!(
        tenant_index::sync(&mut owner, &bad, |_, _| {}),
        Err(Error::InvalidInput(_))
    ));
}

/// Reads the documents plan of one search.
async fn documents_plan(
    pool: &TenantPool,
    ctx: &TenantContext,
    q: &[f32],
    opts: &SearchOptions,
) -> rowguard::search::TablePlan {
    let report = pool
        .with_tenant(ctx, async |conn| search_with_report(conn, q, K, opts).await)
        .await
        .expect("search");
    assert_eq!(report.hits.len(), K);
    report.plans[0].clone()
}

#[tokio::test]
async fn searches_plan_from_a_short_lived_copy_and_stay_prepared() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let elsewhere = db.app_pool(1).expect("second pool");
    let m = mixture();
    let mut rng = SynthRng::new(4);
    let t = make_tenant(&pool, "copy").await;
    let parent = make_parent(&pool, &t, Kind::Documents).await;
    load(&pool, &t, Kind::Documents, m.vectors(&mut rng, 30), None).await;
    let q = m.vectors(&mut SynthRng::new(6), 1).remove(0);
    let with_age = |age: Duration| {
        SearchOptions::new(Kind::Documents).rules(StrategyRules {
            exact_max_rows: 20,
            recheck_beyond: None,
            counts_max_age: age,
            ..StrategyRules::default()
        })
    };
    let long = with_age(Duration::from_secs(600));
    let one_row = |pool: &TenantPool, chunk: i32| {
        let (pool, ctx, v) = (pool.clone(), t, m.vectors(&mut SynthRng::new(7), 1));
        async move {
            pool.with_tenant(&ctx, async |conn| {
                let row = NewEmbedding::new(parent, chunk, "one more", "synthetic", v[0].clone());
                ingest(conn, Kind::Documents, &[row]).await
            })
            .await
            .expect("ingest")
        }
    };
    assert_eq!(documents_plan(&pool, &t, &q, &long).await.tenant_rows, 30);
    // A row written through another pool: this pool's copy does not see it, a search
    // that asks for fresh counts does, and so does the copy once it is too old.
    one_row(&elsewhere, 1_000).await;
    assert_eq!(documents_plan(&pool, &t, &q, &long).await.tenant_rows, 30);
    let fresh = with_age(Duration::ZERO);
    assert_eq!(documents_plan(&pool, &t, &q, &fresh).await.tenant_rows, 31);
    one_row(&elsewhere, 1_001).await;
    // (2 s: room for a slow machine between the fresh read above and this search.)
    let short = with_age(Duration::from_secs(2));
    assert_eq!(documents_plan(&pool, &t, &q, &short).await.tenant_rows, 31);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(documents_plan(&pool, &t, &q, &short).await.tenant_rows, 32);
    // A write through this pool renews its copy at once.
    one_row(&pool, 1_002).await;
    assert_eq!(documents_plan(&pool, &t, &q, &long).await.tenant_rows, 33);

    // An index built after the copy was taken: Auto keeps the copy's exact scan until
    // the copy expires, and a strategy forced onto the index reads the counts again.
    let mut owner = db.owner_conn().expect("owner");
    let sync = SyncOptions {
        min_rows: 20,
        maintenance_work_mem: None,
        dry_run: false,
    };
    assert_eq!(
        tenant_index::sync(&mut owner, &sync, |_, _| {})
            .expect("sync")
            .len(),
        1
    );
    assert_eq!(
        documents_plan(&pool, &t, &q, &long).await.strategy,
        Strategy::Exact
    );
    let forced = long.clone().strategy(Strategy::TenantHnsw);
    assert_eq!(
        documents_plan(&pool, &t, &q, &forced).await.strategy,
        Strategy::TenantHnsw
    );
    assert_eq!(
        documents_plan(&pool, &t, &q, &long).await.strategy,
        Strategy::TenantHnsw,
        "the forced search's fresh read renewed the copy"
    );

    // The search's statements stay prepared on the connection (one each, however many
    // searches), are planned for each search's tenant and vector (custom plans, never
    // a generic one), and those plans walk the tenant's own index.
    let own_name = tenant_index::index_name(Kind::Documents, t.tenant_id.as_uuid()).unwrap();
    let searches = 8;
    let (scans, statements) = pool
        .with_tenant(&t, async |conn| {
            for _ in 0..searches {
                let hits = search(conn, &q, K, &long).await?;
                assert_eq!(hits.len(), K);
            }
            let scans = diesel::sql_query(format!(
                "SELECT pg_stat_get_xact_numscans('{own_name}'::regclass) AS n"
            ))
            .get_result::<N>(conn)
            .await?
            .n;
            let statements: Vec<PreparedRow> = diesel::sql_query(
                "SELECT custom_plans, generic_plans FROM pg_prepared_statements \
                  WHERE statement LIKE 'SELECT id, document_id AS parent_id%l2_normalize%'",
            )
            .load(conn)
            .await?;
            Ok((scans, statements))
        })
        .await
        .expect("searches");
    assert!(
        scans >= searches,
        "{scans} index scans for {searches} searches"
    );
    assert_eq!(
        statements.len(),
        1,
        "one prepared statement: {statements:?}"
    );
    assert!(
        statements[0].custom_plans > searches && statements[0].generic_plans == 0,
        "{statements:?}"
    );
}

#[derive(diesel::QueryableByName, Debug)]
struct PreparedRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    custom_plans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    generic_plans: i64,
}

#[derive(diesel::QueryableByName, Debug)]
struct Storage {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    storage: String,
    #[diesel(sql_type = Text)]
    toast: String,
}

/// Exact scans read every row's vector: it must sit in the heap row, not in TOAST
/// (migration 2026-12-01-000023). The chunk's text and tsvector may move out of line;
/// a 1536-d vector would take four chunks of ~2 kB there.
#[tokio::test]
async fn embeddings_are_stored_in_the_row_not_in_toast() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(1).expect("pool");
    let t = make_tenant(&pool, "inline").await;
    for kind in [Kind::Documents, Kind::Deals, Kind::Meetings] {
        load(
            &pool,
            &t,
            kind,
            mixture().vectors(&mut SynthRng::new(8), 50),
            None,
        )
        .await;
    }
    let mut owner = db.owner_conn().expect("owner");
    let tables: Vec<Storage> = diesel::RunQueryDsl::load(
        diesel::sql_query(
        "SELECT c.relname::text AS table_name, a.attstorage::text AS storage, \
                c.reltoastrelid::regclass::text AS toast \
           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'embedding' \
          WHERE c.relname IN ('document_embeddings', 'deal_activity_embeddings', 'meeting_embeddings') \
          ORDER BY 1",
        ),
        &mut owner,
    )
    .expect("storage");
    assert_eq!(tables.len(), 3, "{tables:?}");
    for t in &tables {
        assert_eq!(
            t.storage, "p",
            "{} stores embeddings {tables:?}",
            t.table_name
        );
        let big = diesel::RunQueryDsl::get_result::<N>(
            diesel::sql_query(format!(
                "SELECT count(*) AS n FROM {} WHERE octet_length(chunk_data) > 1000",
                t.toast
            )),
            &mut owner,
        )
        .expect("toast chunks")
        .n;
        assert_eq!(big, 0, "{} holds vectors in TOAST", t.table_name);
    }
}

#[tokio::test]
async fn hybrid_finds_lexical_only_and_vector_only_hits() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let m = mixture();
    let mut rng = SynthRng::new(3);
    let t = make_tenant(&pool, "hybrid").await;
    let q = m.sample_cluster(&mut SynthRng::new(7), 4);
    // 200 rows without the word; the vector side finds its neighbours among them.
    let rows = load(&pool, &t, Kind::Documents, m.vectors(&mut rng, 200), None).await;
    // One meeting chunk with the word, whose vector is as far from the query as any
    // vector can be (the opposite direction): only full text can find it.
    let opposite: Vec<f32> = q.iter().map(|x| -x).collect();
    let lexical = load(
        &pool,
        &t,
        Kind::Meetings,
        vec![opposite],
        Some(vec!["the zebra contract renewal".to_owned()]),
    )
    .await[0]
        .0;
    let opts = HybridOptions {
        candidates: K,
        ..HybridOptions::new(Kind::All)
    };
    let report = pool
        .with_tenant(&t, async |conn| {
            hybrid_search_with_report(conn, "zebra contracts", &q, K, &opts).await
        })
        .await
        .expect("hybrid");
    let hits = &report.hits;
    assert_eq!(hits.len(), K);
    let lex = hits
        .iter()
        .find(|h| h.id == lexical)
        .expect("lexical-only hit");
    assert_eq!((lex.vector_rank, lex.text_rank), (None, Some(1)));
    assert_eq!(lex.kind, Kind::Meetings);
    assert!(
        lex.distance > 1.9,
        "distance computed for it too: {}",
        lex.distance
    );
    let nearest = truth(&rows, &q, 1)[0];
    let vec_only = hits
        .iter()
        .find(|h| h.id == nearest)
        .expect("vector-only hit");
    assert_eq!((vec_only.vector_rank, vec_only.text_rank), (Some(1), None));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));

    // Blank text and bad vectors are refused before anything is sent.
    let err = pool
        .with_tenant(&t, async |conn| {
            hybrid_search(conn, "  ", &q, K, &opts).await
        })
        .await
        .expect_err("blank");
    assert!(matches!(err, Error::InvalidInput(_)));
}

#[tokio::test]
async fn bad_vectors_are_rejected_and_nothing_is_written() {
    let db = TestDatabase::new().expect("db");
    let pool = db.app_pool(2).expect("pool");
    let t = make_tenant(&pool, "bad").await;
    let m = mixture();
    let mut rng = SynthRng::new(4);
    load(&pool, &t, Kind::Documents, m.vectors(&mut rng, 3), None).await;
    let parent = make_parent(&pool, &t, Kind::Documents).await;
    let good = m.vectors(&mut rng, 1).remove(0);

    let mut nan = good.clone();
    nan[10] = f32::NAN;
    let mut inf = good.clone();
    inf[0] = f32::INFINITY;
    let mut neg_inf = good.clone();
    neg_inf[DIMENSIONS - 1] = f32::NEG_INFINITY;
    let cases: Vec<(&str, Vec<f32>)> = vec![
        ("wrong length", good[..DIMENSIONS - 1].to_vec()),
        ("too long", [good.clone(), vec![0.1]].concat()),
        ("NaN", nan),
        ("+infinity", inf),
        ("-infinity", neg_inf),
        ("zero", vec![0.0; DIMENSIONS]),
    ];
    for (what, bad) in &cases {
        // A good row first: the batch is all or nothing.
        let batch = vec![
            NewEmbedding::new(parent, 0, "good", "synthetic", good.clone()),
            NewEmbedding::new(parent, 1, "bad", "synthetic", bad.clone()),
        ];
        let (ingest_err, search_err, count) = pool
            .with_tenant(&t, async |conn| {
                let ingest_err = ingest(conn, Kind::Documents, &batch).await.err();
                let search_err = search(conn, bad, K, &SearchOptions::default()).await.err();
                // Had anything reached the server and failed, the transaction would be
                // aborted and this statement would fail.
                let count: N = diesel::sql_query("SELECT count(*) AS n FROM document_embeddings")
                    .get_result(conn)
                    .await?;
                Ok((ingest_err, search_err, count.n))
            })
            .await
            .expect("transaction still healthy");
        assert!(
            matches!(ingest_err, Some(Error::InvalidInput(_))),
            "{what}: {ingest_err:?}"
        );
        assert!(
            matches!(search_err, Some(Error::InvalidInput(_))),
            "{what}: {search_err:?}"
        );
        assert_eq!(count, 3, "{what}: nothing written");
    }
    // The zero vector is a valid query under L2 (just not under cosine).
    pool.with_tenant(&t, async |conn| {
        search(
            conn,
            &vec![0.0f32; DIMENSIONS],
            K,
            &SearchOptions::default().metric(Metric::L2),
        )
        .await
    })
    .await
    .expect("zero vector under L2");

    // A batch the database refuses (a parent of no row) writes nothing either.
    let batch = vec![
        NewEmbedding::new(parent, 0, "good", "synthetic", good.clone()),
        NewEmbedding::new(Uuid::now_v7(), 0, "orphan", "synthetic", good.clone()),
    ];
    let err = pool
        .with_tenant(&t, async |conn| ingest(conn, Kind::Documents, &batch).await)
        .await
        .expect_err("orphan");
    assert!(matches!(err, Error::ForeignKeyViolation { .. }), "{err:?}");
    let counts = pool
        .with_tenant(&t, async |conn| embedding_counts(conn).await)
        .await
        .expect("counts");
    assert_eq!(counts.get(Kind::Documents).0, 3);

    // COPY FROM is refused under row-level security: multi-row INSERT is the way.
    let err = pool
        .with_tenant(&t, async |conn| {
            diesel::sql_query("COPY document_embeddings (chunk) FROM STDIN")
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
        .expect_err("COPY FROM under RLS");
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[derive(diesel::QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    t: String,
}

#[tokio::test]
async fn search_never_returns_another_tenants_row() {
    let db = TestDatabase::new().expect("db");
    // One connection: every transaction reuses the connection the other tenant used.
    let pool = db.app_pool(1).expect("pool");
    let m = mixture();
    let mut rng = SynthRng::new(5);
    let a = make_tenant(&pool, "tenant-a").await;
    let b = make_tenant(&pool, "tenant-b").await;
    let queries = m.vectors(&mut SynthRng::new(50), 5);
    let a_rows = load(&pool, &a, Kind::Documents, m.vectors(&mut rng, 300), None).await;
    let a_deals = load(&pool, &a, Kind::Deals, m.vectors(&mut rng, 20), None).await;
    // B holds an exact copy of every query and many near copies, in every table, with
    // the query words: every true nearest neighbour and every lexical match is B's.
    let mut b_vectors = Vec::new();
    for q in &queries {
        b_vectors.push(q.clone());
        for _ in 0..60 {
            let mut v = q.clone();
            v.iter_mut()
                .for_each(|x| *x += 0.002 * (rng.normal() as f32));
            b_vectors.push(v);
        }
    }
    let b_texts = vec!["secret zebra plans".to_owned(); b_vectors.len()];
    load(
        &pool,
        &b,
        Kind::Documents,
        b_vectors.clone(),
        Some(b_texts.clone()),
    )
    .await;
    load(
        &pool,
        &b,
        Kind::Meetings,
        b_vectors[..50].to_vec(),
        Some(b_texts[..50].to_vec()),
    )
    .await;
    let a_ids: HashSet<Uuid> = a_rows.iter().chain(&a_deals).map(|(id, _)| *id).collect();

    let mut checked = 0;
    for q in &queries {
        for kind in [Kind::Documents, Kind::Meetings, Kind::All] {
            for strategy in [Strategy::Auto, Strategy::Exact, Strategy::Hnsw] {
                for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
                    if strategy == Strategy::Hnsw && metric != Metric::Cosine {
                        continue;
                    }
                    let opts = SearchOptions::new(kind).strategy(strategy).metric(metric);
                    let hits = pool
                        .with_tenant(&a, async |conn| search(conn, q, K, &opts).await)
                        .await
                        .expect("search");
                    assert!(
                        hits.iter().all(|h| a_ids.contains(&h.id)),
                        "{kind:?}/{strategy:?}/{metric:?} returned another tenant's row"
                    );
                    if kind != Kind::Meetings {
                        assert_eq!(hits.len(), K, "{kind:?}/{strategy:?}/{metric:?}: exactly k");
                    }
                    if kind == Kind::Meetings {
                        assert!(hits.is_empty(), "A has no meetings");
                    }
                    checked += 1;
                }
            }
            for strategy in [Strategy::Auto, Strategy::Exact, Strategy::Hnsw] {
                let opts = HybridOptions {
                    search: SearchOptions::new(kind).strategy(strategy),
                    ..HybridOptions::default()
                };
                let hits = pool
                    .with_tenant(&a, async |conn| {
                        hybrid_search(conn, "secret zebra plans", q, K, &opts).await
                    })
                    .await
                    .expect("hybrid");
                assert!(
                    hits.iter().all(|h| h.text_rank.is_none()),
                    "A has no row with these words"
                );
                assert!(
                    hits.iter().all(|h| a_ids.contains(&h.id)),
                    "hybrid {kind:?}/{strategy:?} returned another tenant's row"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100);
    // And B, on the same connection, sees its own rows first.
    let hits = pool
        .with_tenant(&b, async |conn| {
            search(conn, &queries[0], K, &SearchOptions::default()).await
        })
        .await
        .expect("search as B");
    assert!(hits[0].distance < 1e-6);
    assert!(hits.iter().all(|h| !a_ids.contains(&h.id)));
    // The settings stay inside their transaction: the pooled connection is clean.
    let setting = pool
        .with_tenant(&a, async |conn| {
            let r: TextRow = diesel::sql_query(
                "SELECT current_setting('enable_seqscan') || '/' || current_setting('hnsw.iterative_scan', true) AS t",
            )
            .get_result(conn)
            .await?;
            Ok(r.t)
        })
        .await
        .expect("settings");
    assert!(setting.starts_with("on/"), "{setting}");
}
