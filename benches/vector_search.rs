//! Vector search under RLS, end to end: prints a markdown table.
//!
//! Synthetic clustered 1536-d unit vectors (Gaussian mixture, `synth`) in the real
//! `document_embeddings` table: `RG_BENCH_ROWS` rows (default 100,000) shared by
//! tenants holding 50 %, 10 %, 1 % and 0.1 % plus 200 small tenants. Tenants are
//! topical (each draws from clusters of its own, `DatasetSpec::topics`), and each is
//! measured with two kinds of queries: near its own topics, and from other tenants'
//! topics; `RG_BENCH_TOPICAL=0` draws every tenant and query from the whole mixture. Loaded as the
//! admin role through `ingest_as_admin` (multi-row `unnest` INSERTs), HNSW built after
//! the load; a database already loaded with the same parameters is reused (set
//! `DATABASE_URL` to a persistent server for that; without it a private throwaway
//! cluster is used). Ground truth: exact scans (`ORDER BY (embedding <=> q) + 0`) as
//! the admin role. For every share, pgvector's defaults (RLS only, `ORDER BY embedding
//! <=> q LIMIT 10`) and rowguard's `search` (automatic strategy), both through
//! `TenantPool::with_tenant`, latency measured around the whole transaction; and the
//! unfiltered HNSW baseline (admin, whole table) at the cheapest `ef_search` reaching
//! recall `RG_BENCH_TARGET` (default 0.98).
//!
//! `cargo bench --bench vector_search` (env: `RG_BENCH_ROWS`, `RG_BENCH_QUERIES`,
//! `RG_BENCH_TOPICAL`,
//! `RG_BENCH_TARGET`, and `RG_BENCH_EF`: the HNSW strategy's `ef_search` values to
//! measure side by side, e.g. `100,200,400`; default the library's).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use pgvector::Vector;
use rowguard::search::{search_with_report, HnswParams, Kind, SearchOptions};
use rowguard_testkit::synth::{MixtureSpec, SynthRng};
use uuid::Uuid;

use common::{ctx, dataset, Dataset, DatasetSpec};

const K: usize = 10;

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

struct Cell {
    recall: f64,
    p50: f64,
    p95: f64,
    rows_mean: f64,
    rows_min: usize,
}

fn summarize(lat: &mut [Duration], recalls: &[f64], rows: &[usize]) -> Cell {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| ms(lat[((lat.len() as f64 - 1.0) * p).round() as usize]);
    Cell {
        recall: recalls.iter().sum::<f64>() / recalls.len() as f64,
        p50: pct(0.5),
        p95: pct(0.95),
        rows_mean: rows.iter().sum::<usize>() as f64 / rows.len() as f64,
        rows_min: rows.iter().copied().min().unwrap_or(0),
    }
}

fn recall(got: &[Uuid], truth: &[Uuid]) -> f64 {
    let t: HashSet<&Uuid> = truth.iter().collect();
    got.iter().filter(|id| t.contains(id)).count() as f64 / truth.len().max(1) as f64
}

/// Exact top-k as the admin role, for one tenant or (None) the whole table.
async fn ground_truth(ds: &Dataset, tenant: Option<Uuid>, q: &Vector) -> Vec<Uuid> {
    ds.admin
        .as_admin("bench: ground truth", async |conn| {
            diesel::sql_query("SELECT set_config('jit', 'off', true)")
                .execute(conn)
                .await?;
            let rows: Vec<IdRow> = match tenant {
                Some(t) => {
                    diesel::sql_query(
                        "SELECT id FROM document_embeddings WHERE tenant_id = $2 \
                         ORDER BY (embedding <=> $1) + 0 LIMIT $3",
                    )
                    .bind::<pgvector::sql_types::Vector, _>(q)
                    .bind::<diesel::sql_types::Uuid, _>(t)
                    .bind::<BigInt, _>(K as i64)
                    .load(conn)
                    .await?
                }
                None => diesel::sql_query(
                    "SELECT id FROM document_embeddings ORDER BY (embedding <=> $1) + 0 LIMIT $2",
                )
                .bind::<pgvector::sql_types::Vector, _>(q)
                .bind::<BigInt, _>(K as i64)
                .load(conn)
                .await?,
            };
            Ok(rows.into_iter().map(|r| r.id).collect())
        })
        .await
        .expect("ground truth")
}

/// pgvector's defaults: the plain query, RLS only, no settings.
async fn defaults_query(ds: &Dataset, i: usize, q: &Vector) -> Vec<Uuid> {
    ds.app
        .with_tenant(&ctx(ds, i), async |conn| {
            let rows: Vec<IdRow> = diesel::sql_query(
                "SELECT id FROM document_embeddings ORDER BY embedding <=> $1 LIMIT $2",
            )
            .bind::<pgvector::sql_types::Vector, _>(q)
            .bind::<BigInt, _>(K as i64)
            .load(conn)
            .await?;
            Ok(rows.into_iter().map(|r| r.id).collect())
        })
        .await
        .expect("defaults query")
}

/// Unfiltered HNSW as the admin role, whole table, index forced, at `ef`.
async fn unfiltered_query(ds: &Dataset, ef: u32, q: &Vector) -> Vec<Uuid> {
    ds.admin
        .as_admin("bench: unfiltered baseline", async |conn| {
            // An AdminConn runs one statement at a time (no pipelining through it).
            diesel::sql_query(
                    "SELECT set_config('hnsw.ef_search', $1, true), set_config('enable_seqscan', 'off', true), \
                            set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true), \
                            set_config('jit', 'off', true)",
                )
                .bind::<Text, _>(ef.to_string())
                .execute(conn)
                .await?;
            let rows = diesel::sql_query(
                "SELECT id FROM document_embeddings ORDER BY embedding <=> $1 LIMIT $2",
            )
            .bind::<pgvector::sql_types::Vector, _>(q)
            .bind::<BigInt, _>(K as i64)
            .load::<IdRow>(conn)
            .await?;
            Ok(rows.into_iter().map(|r| r.id).collect())
        })
        .await
        .expect("unfiltered query")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let wall = Instant::now();
    let rows: usize = std::env::var("RG_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let nq: usize = std::env::var("RG_BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let spec = DatasetSpec {
        rows,
        shares: vec![0.5, 0.1, 0.01, 0.001],
        small_tenants: 200,
        mixture: MixtureSpec::default(),
        seed: 42,
        batch: 1_000,
        topical: std::env::var("RG_BENCH_TOPICAL").map_or(true, |v| v != "0"),
    };
    let ds = dataset(&spec, "rg_bench_vs", true).await;
    let queries: Vec<Vector> = ds
        .mixture
        .vectors(&mut SynthRng::new(4242), nq)
        .into_iter()
        .map(Vector::from)
        .collect();

    // The median small tenant.
    let mut small: Vec<(usize, usize)> = ds.tenants[4..]
        .iter()
        .enumerate()
        .map(|(i, (_, n))| (i + 4, *n))
        .collect();
    small.sort_by_key(|(_, n)| *n);
    let median_small = small[small.len() / 2].0;
    let cells: Vec<(String, usize)> = vec![
        ("50 %".into(), 0),
        ("10 %".into(), 1),
        ("1 %".into(), 2),
        ("0.1 %".into(), 3),
        ("small (median)".into(), median_small),
    ];

    // Warm the caches: one pass of exact scans over the whole table.
    eprintln!("warming up and computing ground truth ...");
    let mut truth_all = Vec::new();
    for q in &queries {
        truth_all.push(ground_truth(&ds, None, q).await);
    }

    // Unfiltered baseline: cheapest ef_search with recall >= RG_BENCH_TARGET (0.98).
    let target: f64 = std::env::var("RG_BENCH_TARGET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.98);
    // The HNSW strategy's ef_search values to measure, side by side (RG_BENCH_EF, a
    // comma-separated list; default: the library's default only).
    let efs: Vec<u32> = std::env::var("RG_BENCH_EF")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<u32>| !v.is_empty())
        .unwrap_or_else(|| vec![HnswParams::default().ef_search]);
    let mut baseline = None;
    let mut baseline_rows = Vec::new();
    for ef in [40u32, 64, 100, 160, 200, 300, 400, 600] {
        let (mut lat, mut rec, mut n) = (Vec::new(), Vec::new(), Vec::new());
        for (q, t) in queries.iter().zip(&truth_all) {
            let start = Instant::now();
            let got = unfiltered_query(&ds, ef, q).await;
            lat.push(start.elapsed());
            rec.push(recall(&got, t));
            n.push(got.len());
        }
        let c = summarize(&mut lat, &rec, &n);
        baseline_rows.push(format!(
            "| unfiltered HNSW, ef_search {ef} | {:.3} | {:.2} | {:.2} |",
            c.recall, c.p50, c.p95
        ));
        if c.recall >= target {
            baseline = Some((ef, c));
            break;
        }
    }

    let mut table = Vec::new();
    for (label, i) in &cells {
        let (tenant, n_rows) = ds.tenants[*i];
        // The query kinds: with topical tenants, queries near the tenant's own data
        // and queries from other tenants' topics; otherwise the whole mixture's.
        let kinds: Vec<(&str, Vec<Vector>)> = if spec.topical {
            let own = spec.topics(*i);
            let others: Vec<usize> = (0..spec.mixture.clusters)
                .filter(|c| !own.contains(c))
                .collect();
            let draw = |clusters: &[usize], seed: u64| -> Vec<Vector> {
                let mut rng = SynthRng::new(seed);
                (0..nq)
                    .map(|_| {
                        let c = clusters[rng.below(clusters.len())];
                        Vector::from(ds.mixture.sample_cluster(&mut rng, c))
                    })
                    .collect()
            };
            vec![
                ("own topics", draw(&own, 7000 + *i as u64)),
                ("other topics", draw(&others, 9000 + *i as u64)),
            ]
        } else {
            vec![("mixture", queries.clone())]
        };
        for (qkind, queries) in &kinds {
            let mut truths = Vec::new();
            for q in queries {
                truths.push(ground_truth(&ds, Some(tenant.as_uuid()), q).await);
            }
            // pgvector defaults.
            let (mut lat, mut rec, mut n) = (Vec::new(), Vec::new(), Vec::new());
            for (q, t) in queries.iter().zip(&truths) {
                let start = Instant::now();
                let got = defaults_query(&ds, *i, q).await;
                lat.push(start.elapsed());
                rec.push(recall(&got, t));
                n.push(got.len());
            }
            let d = summarize(&mut lat, &rec, &n);
            // rowguard, automatic strategy, at each ef_search measured.
            for ef in &efs {
                let opts = SearchOptions::new(Kind::Documents).hnsw(HnswParams {
                    ef_search: *ef,
                    ..HnswParams::default()
                });
                let (mut lat, mut rec, mut n) = (Vec::new(), Vec::new(), Vec::new());
                let mut strategy = String::new();
                for (q, t) in queries.iter().zip(&truths) {
                    let start = Instant::now();
                    let report = ds
                        .app
                        .with_tenant(&ctx(&ds, *i), async |conn| {
                            search_with_report(conn, q, K, &opts).await
                        })
                        .await
                        .expect("rowguard search");
                    lat.push(start.elapsed());
                    let got: Vec<Uuid> = report.hits.iter().map(|h| h.id).collect();
                    rec.push(recall(&got, t));
                    n.push(got.len());
                    let p = &report.plans[0];
                    strategy = match p.ef_search {
                        Some(ef) => format!("{} (ef_search {ef})", p.strategy),
                        None => p.strategy.to_string(),
                    };
                }
                let r = summarize(&mut lat, &rec, &n);
                let ratio = baseline
                    .as_ref()
                    .map_or(String::from("-"), |(_, b)| format!("{:.2}×", r.p50 / b.p50));
                table.push(format!(
                "| {label} | {n_rows} | {qkind} | {:.3} | {:.2} | {:.2} | {:.1} ({}) | {strategy} | {:.3} | {:.2} | {:.2} | {:.1} ({}) | {ratio} |",
                d.recall, d.p50, d.p95, d.rows_mean, d.rows_min, r.recall, r.p50, r.p95, r.rows_mean, r.rows_min
            ));
                eprintln!("{}", table.last().map(String::as_str).unwrap_or(""));
            }
        }
    }

    println!(
        "## Vector search under RLS: {rows} rows x 1536-d, k = {K}, {nq} queries per tenant and kind, {} tenants\n",
        if spec.topical { "topical" } else { "mixture-wide" }
    );
    if let Some(l) = &ds.load {
        println!("| load step | result |\n|---|---|");
        println!(
            "| ingest through `ingest_as_admin` (unnest INSERT, batches of {}, HNSW dropped) | {} rows in {:.1} s: **{:.0} rows/s** |",
            spec.batch,
            l.rows,
            l.ingest.as_secs_f64(),
            l.rows as f64 / l.ingest.as_secs_f64()
        );
        println!(
            "| HNSW build after load (m 16, ef_construction 64, serial, maintenance_work_mem 2GB) | **{:.1} s**, index {:.0} MB (table with TOAST and other indexes {:.0} MB) |\n",
            l.hnsw_build.as_secs_f64(),
            l.hnsw_bytes as f64 / 1e6,
            l.table_bytes as f64 / 1e6
        );
    } else {
        println!("(dataset reused from an earlier run: ingest and HNSW build not re-measured)\n");
    }
    println!("Unfiltered HNSW baseline (admin role, whole table, index forced):\n");
    println!("| query | recall@10 | p50 ms | p95 ms |\n|---|---|---|---|");
    for r in &baseline_rows {
        println!("{r}");
    }
    println!();
    println!(
        "| tenant share | tenant rows | queries | defaults: recall@10 | p50 ms | p95 ms | rows mean (min) | rowguard strategy | recall@10 | p50 ms | p95 ms | rows mean (min) | p50 vs unfiltered |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &table {
        println!("{row}");
    }
    println!(
        "\nLatency is client-side around the whole tenant transaction (BEGIN + context, counts, settings, query, COMMIT). Wall time of this run: {:.0} s.",
        wall.elapsed().as_secs_f64()
    );
}
