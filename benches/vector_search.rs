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
//! After the load, every tenant above the exact-scan limit gets its own HNSW index
//! (`tenant_index::sync`, as `rowguard indexes sync` does).
//!
//! `RG_BENCH_DATASET=text` measures real text instead: manual pages embedded by the
//! local all-MiniLM-L6-v2 (`common::text`), `RG_BENCH_ROWS` default 20,000, one manual
//! section per large tenant and 40 small tenants.
//!
//! `cargo bench --bench vector_search` (env: `RG_BENCH_ROWS`, `RG_BENCH_QUERIES`,
//! `RG_BENCH_TOPICAL`, `RG_BENCH_COUNTS` (`cached`, `fresh` or both: searches planning
//! from the pool's copy of the tenant's counts, or reading them every time),
//! `RG_BENCH_TARGET`, and `RG_BENCH_EF`: `ef_search` values for both HNSW strategies
//! (shared and the tenant's own) to measure side by side, each fixed for every tenant,
//! and `default` for the library's `HnswParams`, e.g. `default,100,200`; unset:
//! `default`).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use pgvector::Vector;
use rowguard::search::{search_with_report, HnswParams, Kind, SearchOptions, Strategy};
use rowguard_testkit::synth::{MixtureSpec, SynthRng};
use uuid::Uuid;

use common::text::{text_dataset, TextSpec};
use common::{ctx, dataset, sync_tenant_indexes, Dataset, DatasetSpec};

const K: usize = 10;

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Double)]
    distance: f64,
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

/// Recall@k as ann-benchmarks counts it: the share of the k true neighbours' places
/// filled by a returned row no farther than the k-th true neighbour (plus 1e-6 for
/// rounding). Rows at equal distance are equally right: real text holds identical
/// passages, whose order among themselves no search can be asked to reproduce.
fn recall(got: &[(Uuid, f64)], truth: &[(Uuid, f64)]) -> f64 {
    let Some(kth) = truth.last().map(|(_, d)| *d) else {
        return 1.0;
    };
    let ids: HashSet<&Uuid> = got.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), got.len(), "a row returned twice");
    got.iter()
        .filter(|(_, d)| *d <= kth + 1e-6)
        .count()
        .min(truth.len()) as f64
        / truth.len() as f64
}

/// Exact top-k as the admin role, for one tenant or (None) the whole table.
async fn ground_truth(ds: &Dataset, tenant: Option<Uuid>, q: &Vector) -> Vec<(Uuid, f64)> {
    ds.admin
        .as_admin("bench: ground truth", async |conn| {
            diesel::sql_query("SELECT set_config('jit', 'off', true)")
                .execute(conn)
                .await?;
            let rows: Vec<IdRow> = match tenant {
                Some(t) => {
                    diesel::sql_query(
                        "SELECT id, (embedding <=> $1) + 0 AS distance FROM document_embeddings \
                         WHERE tenant_id = $2 ORDER BY distance LIMIT $3",
                    )
                    .bind::<pgvector::sql_types::Vector, _>(q)
                    .bind::<diesel::sql_types::Uuid, _>(t)
                    .bind::<BigInt, _>(K as i64)
                    .load(conn)
                    .await?
                }
                None => diesel::sql_query(
                    "SELECT id, (embedding <=> $1) + 0 AS distance FROM document_embeddings ORDER BY distance LIMIT $2",
                )
                .bind::<pgvector::sql_types::Vector, _>(q)
                .bind::<BigInt, _>(K as i64)
                .load(conn)
                .await?,
            };
            Ok(rows.into_iter().map(|r| (r.id, r.distance)).collect())
        })
        .await
        .expect("ground truth")
}

/// pgvector's defaults: the plain query, RLS only, no settings.
async fn defaults_query(ds: &Dataset, i: usize, q: &Vector) -> Vec<(Uuid, f64)> {
    ds.app
        .with_tenant(&ctx(ds, i), async |conn| {
            let rows: Vec<IdRow> = diesel::sql_query(
                "SELECT id, embedding <=> $1 AS distance FROM document_embeddings ORDER BY embedding <=> $1 LIMIT $2",
            )
            .bind::<pgvector::sql_types::Vector, _>(q)
            .bind::<BigInt, _>(K as i64)
            .load(conn)
            .await?;
            Ok(rows.into_iter().map(|r| (r.id, r.distance)).collect())
        })
        .await
        .expect("defaults query")
}

/// Unfiltered HNSW as the admin role, whole table, index forced, at `ef`.
async fn unfiltered_query(ds: &Dataset, ef: u32, q: &Vector) -> Vec<(Uuid, f64)> {
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
                "SELECT id, embedding <=> $1 AS distance FROM document_embeddings ORDER BY embedding <=> $1 LIMIT $2",
            )
            .bind::<pgvector::sql_types::Vector, _>(q)
            .bind::<BigInt, _>(K as i64)
            .load::<IdRow>(conn)
            .await?;
            Ok(rows.into_iter().map(|r| (r.id, r.distance)).collect())
        })
        .await
        .expect("unfiltered query")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let wall = Instant::now();
    let text = std::env::var("RG_BENCH_DATASET").is_ok_and(|v| v == "text");
    let rows: usize = std::env::var("RG_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if text { 20_000 } else { 100_000 });
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
    // The dataset, the unfiltered baseline's queries, and per tenant the query kinds.
    let (ds, queries, text_queries, title) = if text {
        let tspec = TextSpec {
            rows,
            shares: [0.5, 0.1, 0.01, 0.001],
            small_tenants: 40,
            queries: nq,
            words: 24,
            seed: 42,
        };
        let td = text_dataset(&tspec, "rg_bench_text", true).await;
        let v = |q: &Vec<f32>| Vector::from(q.clone());
        // Baseline: half of the 50 % tenant's own queries, half from the other sections.
        let (own0, other0) = &td.queries[0];
        let queries: Vec<Vector> = own0
            .iter()
            .take(nq / 2)
            .chain(other0.iter().take(nq - nq / 2))
            .map(v)
            .collect();
        let per_tenant: Vec<Vec<(&str, Vec<Vector>)>> = td
            .queries
            .iter()
            .map(|(own, other)| {
                vec![
                    ("own topics", own.iter().map(v).collect()),
                    ("other topics", other.iter().map(v).collect()),
                ]
            })
            .collect();
        let title = format!(
            "real text (manual pages: man{}, man{}, man{}, man{} and man{} for the small tenants, all-MiniLM-L6-v2, 384-d zero-padded to 1536)",
            td.sections[0], td.sections[1], td.sections[2], td.sections[3], td.sections[4]
        );
        (td.ds, queries, Some(per_tenant), title)
    } else {
        let ds = dataset(&spec, "rg_bench_vs", true).await;
        let queries: Vec<Vector> = ds
            .mixture
            .as_ref()
            .expect("synthetic")
            .vectors(&mut SynthRng::new(4242), nq)
            .into_iter()
            .map(Vector::from)
            .collect();
        let title = if spec.topical {
            "synthetic, topical tenants".to_owned()
        } else {
            "synthetic, mixture-wide tenants".to_owned()
        };
        (ds, queries, None, title)
    };
    eprintln!("per-tenant indexes ...");
    let own = sync_tenant_indexes(&ds.owner_url);

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
    // comma-separated list of numbers, each used as it is for every tenant, and
    // `default`, the library's defaults, which scale a tenant's ef_search with its rows;
    // unset: `default` only).
    let efs: Vec<Option<u32>> = std::env::var("RG_BENCH_EF")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|x| match x.trim() {
                    "default" => Some(None),
                    n => n.parse().ok().map(Some),
                })
                .collect()
        })
        .filter(|v: &Vec<Option<u32>>| !v.is_empty())
        .unwrap_or_else(|| vec![None]);
    // Whether searches plan from the pool's copy of the tenant's counts (`cached`, the
    // default) or read them every time (`fresh`): RG_BENCH_COUNTS, comma-separated.
    let counts_modes: Vec<bool> = std::env::var("RG_BENCH_COUNTS")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|x| match x.trim() {
                    "cached" => Some(false),
                    "fresh" => Some(true),
                    _ => None,
                })
                .collect()
        })
        .filter(|v: &Vec<bool>| !v.is_empty())
        .unwrap_or_else(|| vec![false]);
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
        let kinds: Vec<(&str, Vec<Vector>)> = if let Some(tq) = &text_queries {
            tq[*i].clone()
        } else if spec.topical {
            let own = spec.topics(*i);
            let others: Vec<usize> = (0..spec.mixture.clusters)
                .filter(|c| !own.contains(c))
                .collect();
            let draw = |clusters: &[usize], seed: u64| -> Vec<Vector> {
                let mut rng = SynthRng::new(seed);
                (0..nq)
                    .map(|_| {
                        let c = clusters[rng.below(clusters.len())];
                        Vector::from(
                            ds.mixture
                                .as_ref()
                                .expect("synthetic")
                                .sample_cluster(&mut rng, c),
                        )
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
            let params: Vec<(HnswParams, bool)> = efs
                .iter()
                .map(|ef| match ef {
                    None => HnswParams::default(),
                    Some(ef) => HnswParams {
                        ef_search: *ef,
                        tenant_ef_search: *ef,
                        tenant_rows_per_ef: None,
                        ..HnswParams::default()
                    },
                })
                .flat_map(|h| counts_modes.iter().map(move |fresh| (h, *fresh)))
                .collect();
            for (hnsw, fresh) in params {
                let mut opts = SearchOptions::new(Kind::Documents).hnsw(hnsw);
                if fresh {
                    opts.rules.counts_max_age = Duration::ZERO;
                }
                let (mut lat, mut rec, mut n) = (Vec::new(), Vec::new(), Vec::new());
                let mut strategies: std::collections::BTreeMap<String, usize> =
                    std::collections::BTreeMap::new();
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
                    let got: Vec<(Uuid, f64)> =
                        report.hits.iter().map(|h| (h.id, h.distance)).collect();
                    rec.push(recall(&got, t));
                    n.push(got.len());
                    let p = &report.plans[0];
                    let label = match (p.rechecked_from, p.ef_search) {
                        (Some(from), _) => {
                            let ef = if from == Strategy::TenantHnsw {
                                hnsw.tenant_ef_search_for(K, p.tenant_rows)
                            } else {
                                hnsw.ef_search
                            };
                            format!("{from} (ef_search {ef}), rescanned exact")
                        }
                        (None, Some(ef)) => format!("{} (ef_search {ef})", p.strategy),
                        (None, None) => p.strategy.to_string(),
                    };
                    *strategies.entry(label).or_default() += 1;
                }
                // The strategy of every query, with how many took it when they differ.
                let mut strategy = if strategies.len() == 1 {
                    strategies.keys().next().cloned().unwrap_or_default()
                } else {
                    strategies
                        .iter()
                        .map(|(l, n)| format!("{l}: {n}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                if fresh {
                    strategy.push_str(", counts read every search");
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
        "## Vector search under RLS: {rows} rows x 1536-d, k = {K}, {nq} queries per tenant and kind, {title}\n"
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
    if !own.built.is_empty() {
        println!("| per-tenant index (`rowguard indexes sync`: CREATE INDEX CONCURRENTLY, serial) | build | size |\n|---|---|---|");
        for (rows, took, bytes) in &own.built {
            println!(
                "| tenant of {rows} rows | {:.1} s | {:.0} MB |",
                took.as_secs_f64(),
                *bytes as f64 / 1e6
            );
        }
        println!();
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
        "\nLatency is client-side around the whole tenant transaction (BEGIN + context, the counts unless the pool holds a fresh copy, settings, query, COMMIT). Wall time of this run: {:.0} s.",
        wall.elapsed().as_secs_f64()
    );
}
