//! Criterion benches of the similarity queries on a smaller dataset (5,000 1536-d rows
//! in `document_embeddings`: one tenant with 80 %, one with 4 %, 50 small tenants),
//! each through `TenantPool::with_tenant` as the application role, for the 80 % tenant:
//! - `exact`: rowguard's exact scan;
//! - `hnsw_plain`: the HNSW index without iterative scan (pgvector's defaults, index forced);
//! - `hnsw_iterative`: rowguard's HNSW strategy (iterative scan, relaxed order);
//! - `auto`: rowguard's automatic choice;
//! - `hybrid`: full text + vectors fused by RRF.
//!
//! `cargo bench --bench search_criterion`

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use pgvector::Vector;
use rowguard::search::{hybrid_search, search, HybridOptions, Kind, SearchOptions, Strategy};
use rowguard_testkit::synth::{MixtureSpec, SynthRng};

use common::{chunk_text, ctx, dataset, DatasetSpec};

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    #[allow(dead_code)]
    id: uuid::Uuid,
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let spec = DatasetSpec {
        topical: false,
        rows: 5_000,
        shares: vec![0.8, 0.04],
        small_tenants: 50,
        mixture: MixtureSpec::default(),
        seed: 7,
        batch: 500,
    };
    let ds = rt.block_on(dataset(&spec, "rg_bench_crit", true));
    let (qc, qv) = ds
        .mixture
        .as_ref()
        .expect("synthetic")
        .sample(&mut SynthRng::new(77));
    let q = Vector::from(qv);
    let text = chunk_text(qc, 0);
    let tenant = ctx(&ds, 0);
    let k = 10;

    let mut g = c.benchmark_group("vector_search_80pct_of_5000");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    for (name, strategy) in [
        ("exact", Strategy::Exact),
        ("hnsw_iterative", Strategy::Hnsw),
        ("auto", Strategy::Auto),
    ] {
        let opts = SearchOptions::new(Kind::Documents).strategy(strategy);
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                ds.app
                    .with_tenant(&tenant, async |conn| search(conn, &q, k, &opts).await)
                    .await
                    .expect("search")
            })
        });
    }
    g.bench_function("hnsw_plain", |b| {
        b.to_async(&rt).iter(|| async {
            ds.app
                .with_tenant(&tenant, async |conn| {
                    diesel::sql_query(
                        "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), \
                                set_config('enable_sort', 'off', true), set_config('jit', 'off', true)",
                    )
                    .execute(conn)
                    .await?;
                    let rows: Vec<IdRow> = diesel::sql_query(
                        "SELECT id FROM document_embeddings ORDER BY embedding <=> $1 LIMIT $2",
                    )
                    .bind::<pgvector::sql_types::Vector, _>(&q)
                    .bind::<BigInt, _>(k as i64)
                    .load(conn)
                    .await?;
                    Ok(rows)
                })
                .await
                .expect("plain hnsw")
        })
    });
    let hopts = HybridOptions::new(Kind::Documents);
    g.bench_function("hybrid", |b| {
        b.to_async(&rt).iter(|| async {
            ds.app
                .with_tenant(&tenant, async |conn| {
                    hybrid_search(conn, &text, &q, k, &hopts).await
                })
                .await
                .expect("hybrid")
        })
    });
    g.finish();
}

criterion_group!(search_benches, benches);
criterion_main!(search_benches);
