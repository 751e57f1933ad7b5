//! `rowguard search` as a person runs it, with `DATABASE_URL` the application login
//! (`db.url_app()`, acting as `rowguard_app` under RLS, as the CLI is deployed) on a
//! database holding the demo seed (acme, globex, initech):
//!
//! - `--text … --json` for acme prints a JSON array of exactly `k` hits, each with
//!   `id`, `parent_id`, `distance` and `chunk`, every one an acme row (checked as the
//!   owner against `document_embeddings`, with the right parent and chunk), none
//!   globex's; distances never decrease; quoting an acme chunk finds that chunk first.
//! - `--kind all` with a `k` above acme's row count returns every acme embedding of all
//!   three tables (so more than one table) and nothing else.
//! - `--vector-file` holding an acme row's stored embedding finds that row first, at
//!   distance ~0.
//! - Bad input exits 3 with a message naming the problem and nothing on stdout, and is
//!   caught before connecting (the same input against an unreachable server still
//!   exits 3, not 4): a malformed tenant uuid, a vector file of the wrong length, one
//!   whose value overflows `f32` to infinity (JSON cannot carry NaN or infinity, and
//!   `1e999` is refused by the JSON parser itself), a non-numeric entry, a missing
//!   file, `k` 0. Both `--text` and `--vector-file`, or neither, is a usage error (2).
//! - A well-formed tenant uuid that names no tenant sees no rows: `[]`, exit 0.
//!
//! The owner connection is used only to read ground truth.

use std::collections::HashMap;
use std::path::PathBuf;

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{assert_exit, stderr, stdout};
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel::{QueryableByName, RunQueryDsl};
use rowguard::TenantId;
use rowguard_testkit::server::TestDatabase;
use serde_json::Value;
use uuid::Uuid;

/// The three embedding tables, with the `kind` the CLI prints for each and the
/// column holding the parent id.
const TABLES: [(&str, &str, &str); 3] = [
    ("document_embeddings", "documents", "document_id"),
    ("deal_activity_embeddings", "deals", "deal_activity_id"),
    ("meeting_embeddings", "meetings", "meeting_id"),
];

/// An address where nothing listens: a search that got this far would exit 4.
const UNREACHABLE: &str = "postgres://rowguard@127.0.0.1:1/rowguard";

fn rowguard(database_url: &str, args: &[&str]) -> Output {
    // The admin login on the same database, where the command reads the context key.
    let admin_url = rowguard_testkit::fixtures::admin_url(database_url);
    Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("ROWGUARD_ADMIN_URL", admin_url)
        .env_remove("ROWGUARD_CONTEXT_KEY")
        .env_remove("ROWGUARD_APP_ROLE")
        .output()
        .expect("run rowguard")
}

/// The hits of a successful `--json` search.
#[track_caller]
fn hits(out: &Output) -> Vec<Value> {
    assert_exit(out, 0);
    match serde_json::from_str::<Value>(&stdout(out)) {
        Ok(Value::Array(hits)) => hits,
        other => panic!("--json did not print an array: {other:?}\n{}", stdout(out)),
    }
}

/// A fresh database with the demo seed, written as the application login; and acme's
/// and globex's ids.
fn seeded() -> (TestDatabase, TenantId, TenantId) {
    let db = TestDatabase::new().expect("test database");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime
        .block_on(async {
            let pool = db.app_pool(2)?;
            rowguard_testkit::seed::demo(&pool, &db.admin_pool(1)?).await
        })
        .expect("seed demo");
    let id = |slug: &str| {
        report
            .tenants
            .iter()
            .find(|t| t.slug == slug)
            .unwrap_or_else(|| panic!("the seed has no {slug}"))
            .id
    };
    let (acme, globex) = (id("acme"), id("globex"));
    (db, acme, globex)
}

/// One embedding row as the owner sees it.
#[derive(QueryableByName, Debug, Clone)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    parent_id: Uuid,
    #[diesel(sql_type = Text)]
    chunk: String,
}

/// Every row of every embedding table, by id, with the kind its table prints as.
fn ground_truth(db: &TestDatabase) -> HashMap<Uuid, (&'static str, Row)> {
    let mut owner = db.owner_conn().expect("owner");
    let mut all = HashMap::new();
    for (table, kind, parent) in TABLES {
        let rows: Vec<Row> = diesel::sql_query(format!(
            "SELECT id, tenant_id, {parent} AS parent_id, chunk FROM {table}"
        ))
        .load(&mut owner)
        .unwrap_or_else(|e| panic!("owner: {table}: {e}"));
        for row in rows {
            assert!(all.insert(row.id, (kind, row)).is_none(), "duplicate id");
        }
    }
    all
}

fn uuid_field(hit: &Value, field: &str) -> Uuid {
    hit[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("hit has no uuid {field:?}: {hit}"))
}

fn distance(hit: &Value) -> f64 {
    hit["distance"]
        .as_f64()
        .unwrap_or_else(|| panic!("hit has no numeric distance: {hit}"))
}

/// Checks every hit against the owner's rows: the printed fields are the row's, the
/// row is `tenant`'s and in `kinds`; distances never decrease. Returns the kinds seen.
#[track_caller]
fn check_hits(
    hits: &[Value],
    truth: &HashMap<Uuid, (&'static str, Row)>,
    tenant: TenantId,
    kinds: &[&str],
) -> Vec<&'static str> {
    let tenant = Uuid::from(tenant);
    let mut seen = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for hit in hits {
        let id = uuid_field(hit, "id");
        let (kind, row) = truth
            .get(&id)
            .unwrap_or_else(|| panic!("hit {id} is in no embedding table"));
        assert_eq!(row.tenant_id, tenant, "hit {id} belongs to another tenant");
        assert!(kinds.contains(kind), "hit {id} is a {kind} row: {hit}");
        assert_eq!(hit["kind"].as_str(), Some(*kind), "{hit}");
        assert_eq!(uuid_field(hit, "parent_id"), row.parent_id, "{hit}");
        assert_eq!(hit["chunk"].as_str(), Some(row.chunk.as_str()), "{hit}");
        let d = distance(hit);
        assert!(d.is_finite() && d >= last, "distance {d} after {last}");
        last = d;
        if !seen.contains(kind) {
            seen.push(*kind);
        }
    }
    seen
}

/// How many rows of `tenant` the owner sees in the tables printed as `kinds`.
fn rows_of(truth: &HashMap<Uuid, (&'static str, Row)>, tenant: TenantId, kinds: &[&str]) -> usize {
    let tenant = Uuid::from(tenant);
    truth
        .values()
        .filter(|(kind, row)| row.tenant_id == tenant && kinds.contains(kind))
        .count()
}

/// A file in the test target's scratch directory, unique to this process and call.
fn scratch_file(contents: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli_search_{}_{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, contents).expect("write vector file");
    path
}

#[test]
fn text_search_as_the_app_login_returns_k_of_the_tenants_own_rows_nearest_first() {
    let (db, acme, globex) = seeded();
    let truth = ground_truth(&db);
    let acme_docs = rows_of(&truth, acme, &["documents"]);
    assert!(acme_docs > 10, "acme has only {acme_docs} document chunks");
    let (quoted_id, quoted) = truth
        .values()
        .find(|(kind, r)| {
            *kind == "documents"
                && r.tenant_id == Uuid::from(acme)
                && r.chunk.starts_with("LTL pricing.")
        })
        .map(|(_, r)| (r.id, r.chunk.clone()))
        .expect("acme's LTL pricing chunk");

    let acme_s = acme.to_string();
    let out = rowguard(
        &db.url_app(),
        &[
            "search",
            "--tenant",
            &acme_s,
            "--kind",
            "documents",
            "--k",
            "10",
            "--text",
            &quoted,
            "--json",
        ],
    );
    let found = hits(&out);
    assert_eq!(found.len(), 10, "{}", stdout(&out));
    for hit in &found {
        for field in ["id", "parent_id", "distance", "chunk"] {
            assert!(hit.get(field).is_some(), "hit lacks {field:?}: {hit}");
        }
    }
    check_hits(&found, &truth, acme, &["documents"]);
    assert_eq!(
        uuid_field(&found[0], "id"),
        quoted_id,
        "top hit: {}",
        found[0]
    );
    assert!(distance(&found[0]) < 1e-5, "top hit: {}", found[0]);

    // globex: its own rows only, and never the acme chunk quoted.
    let globex_s = globex.to_string();
    let out = rowguard(
        &db.url_app(),
        &[
            "search",
            "--tenant",
            &globex_s,
            "--kind",
            "documents",
            "--k",
            "10",
            "--text",
            &quoted,
            "--json",
        ],
    );
    let found = hits(&out);
    let expected = rows_of(&truth, globex, &["documents"]).min(10);
    assert!(expected > 0, "globex has no document chunks");
    assert_eq!(found.len(), expected, "{}", stdout(&out));
    check_hits(&found, &truth, globex, &["documents"]);

    // The human form: ranked lines, the quoted chunk first.
    let out = rowguard(
        &db.url_app(),
        &["search", "--tenant", &acme_s, "--k", "3", "--text", &quoted],
    );
    assert_exit(&out, 0);
    let text = stdout(&out);
    let first = text
        .lines()
        .find(|l| l.starts_with("  1. "))
        .unwrap_or_else(|| panic!("no ranked lines:\n{text}"));
    assert!(first.contains(&quoted_id.to_string()), "{text}");
}

#[test]
fn kind_all_returns_every_table_of_the_tenant_and_only_its_rows() {
    let (db, acme, _) = seeded();
    let truth = ground_truth(&db);
    let all = ["documents", "deals", "meetings"];
    let total = rows_of(&truth, acme, &all);
    assert!(total < 1000, "acme has {total} rows, above the largest k");
    let acme_s = acme.to_string();
    let out = rowguard(
        &db.url_app(),
        &[
            "search",
            "--tenant",
            &acme_s,
            "--kind",
            "all",
            "--k",
            "1000",
            "--text",
            "cold chain pharmaceutical freight renewal",
            "--json",
        ],
    );
    let found = hits(&out);
    // Fewer than k: acme has fewer rows, and every one of them comes back once.
    assert_eq!(found.len(), total, "acme has {total} embedding rows");
    let mut seen = check_hits(&found, &truth, acme, &all);
    seen.sort_unstable();
    for (_, kind, _) in TABLES {
        if rows_of(&truth, acme, &[kind]) > 0 {
            assert!(seen.contains(&kind), "no {kind} hit: saw {seen:?}");
        }
    }
    assert!(seen.len() > 1, "hits from one table only: {seen:?}");
}

#[test]
fn vector_file_with_a_stored_embedding_finds_that_row_at_distance_zero() {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Text)]
        embedding: String,
    }
    let (db, acme, _) = seeded();
    let mut owner = db.owner_conn().expect("owner");
    let stored: Stored = diesel::sql_query(
        "SELECT id, embedding::text AS embedding FROM document_embeddings \
         WHERE tenant_id = $1 ORDER BY id OFFSET 3 LIMIT 1",
    )
    .bind::<SqlUuid, _>(Uuid::from(acme))
    .get_result(&mut owner)
    .expect("an acme embedding");
    // pgvector's text form, `[x,y,…]`, is a JSON array of numbers.
    let values: Vec<f64> = serde_json::from_str(&stored.embedding).expect("vector text");
    assert_eq!(values.len(), rowguard::search::DIMENSIONS);
    let file = scratch_file(&serde_json::to_string(&values).expect("json"));

    let acme_s = acme.to_string();
    let out = rowguard(
        &db.url_app(),
        &[
            "search",
            "--tenant",
            &acme_s,
            "--kind",
            "documents",
            "--k",
            "5",
            "--vector-file",
            file.to_str().expect("utf-8 path"),
            "--json",
        ],
    );
    let _ = std::fs::remove_file(&file);
    let found = hits(&out);
    assert_eq!(found.len(), 5, "{}", stdout(&out));
    check_hits(&found, &ground_truth(&db), acme, &["documents"]);
    assert_eq!(
        uuid_field(&found[0], "id"),
        stored.id,
        "top hit: {}",
        found[0]
    );
    assert!(distance(&found[0]).abs() < 1e-5, "top hit: {}", found[0]);
}

#[test]
fn bad_input_exits_3_naming_the_problem_before_connecting() {
    let db = TestDatabase::new().expect("test database");
    let tenant = Uuid::new_v4().to_string();
    let mut short = vec![0.5_f64; rowguard::search::DIMENSIONS - 1];
    let wrong_length = scratch_file(&serde_json::to_string(&short).expect("json"));
    short.push(1e300); // finite in JSON and f64, infinite as the f32 the CLI keeps
    let overflow = scratch_file(&serde_json::to_string(&short).expect("json"));
    let mut text =
        serde_json::to_string(&vec![0.5_f64; rowguard::search::DIMENSIONS]).expect("json");
    text.replace_range(1..4, "\"x\"");
    let non_numeric = scratch_file(&text);
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_search_no_such.json");
    let path = |p: &PathBuf| p.to_str().expect("utf-8 path").to_owned();

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--tenant".into(),
                "acme".into(),
                "--text".into(),
                "x".into(),
            ],
            "malformed tenant id",
        ),
        (
            vec![
                "--tenant".into(),
                tenant.clone(),
                "--vector-file".into(),
                path(&wrong_length),
            ],
            "1535 dimensions, expected 1536",
        ),
        (
            vec![
                "--tenant".into(),
                tenant.clone(),
                "--vector-file".into(),
                path(&overflow),
            ],
            "element 1535 is +infinity",
        ),
        (
            vec![
                "--tenant".into(),
                tenant.clone(),
                "--vector-file".into(),
                path(&non_numeric),
            ],
            "not a JSON array of numbers",
        ),
        (
            vec![
                "--tenant".into(),
                tenant.clone(),
                "--vector-file".into(),
                path(&missing),
            ],
            "cannot read vector file",
        ),
        (
            vec![
                "--tenant".into(),
                tenant.clone(),
                "--k".into(),
                "0".into(),
                "--text".into(),
                "x".into(),
            ],
            "--k must be between 1 and 1000",
        ),
    ];
    for url in [db.url_app().as_str(), UNREACHABLE] {
        for (args, needle) in &cases {
            let mut argv = vec!["search"];
            argv.extend(args.iter().map(String::as_str));
            argv.push("--json");
            let out = rowguard(url, &argv);
            assert_eq!(out.status.code(), Some(3), "{argv:?}: {}", stderr(&out));
            assert!(stderr(&out).contains(needle), "{argv:?}: {}", stderr(&out));
            assert_eq!(stdout(&out), "", "{argv:?} printed to stdout");
        }
    }
    for file in [&wrong_length, &overflow, &non_numeric] {
        let _ = std::fs::remove_file(file);
    }

    // clap: --text and --vector-file conflict; one of them is required.
    let both = rowguard(
        UNREACHABLE,
        &[
            "search",
            "--tenant",
            &tenant,
            "--text",
            "x",
            "--vector-file",
            "f.json",
        ],
    );
    assert_exit(&both, 2);
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        stderr(&both)
    );
    assert_eq!(stdout(&both), "");
    let neither = rowguard(UNREACHABLE, &["search", "--tenant", &tenant]);
    assert_exit(&neither, 2);
    assert_eq!(stdout(&neither), "");
}

#[test]
fn a_tenant_that_does_not_exist_is_an_error_not_an_empty_result() {
    let (db, _, _) = seeded();
    let nobody = Uuid::new_v4().to_string();
    for args in [
        &[
            "search", "--tenant", &nobody, "--kind", "all", "--text", "freight", "--json",
        ][..],
        &["search", "--tenant", &nobody, "--text", "freight"][..],
    ] {
        let out = rowguard(&db.url_app(), args);
        assert_exit(&out, 3);
        assert_eq!(stdout(&out), "");
        assert!(stderr(&out).contains("unknown tenant"), "{}", stderr(&out));
    }
}

/// `rowguard indexes sync` (as the owner) builds each large tenant's own HNSW index,
/// `indexes list` shows it in use, and a search forced onto it (as the application
/// login) answers from it with the tenant's rows only; a second sync has nothing to do.
#[test]
fn indexes_sync_builds_each_large_tenants_index_and_search_walks_it() {
    let (db, acme, _) = seeded();
    let truth = ground_truth(&db);
    let owner = db.url_owner();
    let acme_docs = rows_of(&truth, acme, &["documents"]);
    assert!(
        acme_docs > 2,
        "the seed gives acme {acme_docs} document rows"
    );
    let acme_index = format!("document_embeddings_hnsw_{}", Uuid::from(acme).simple());

    let sync = |extra: &[&str]| {
        let mut args = vec!["indexes", "sync", "--min-rows", "2"];
        args.extend_from_slice(extra);
        let out = rowguard(&owner, &args);
        assert_exit(&out, 0);
        stdout(&out)
    };
    let dry = sync(&["--dry-run"]);
    assert!(dry.contains(&format!("would create {acme_index}")), "{dry}");
    let none = rowguard(&owner, &["indexes", "list", "--json"]);
    assert_exit(&none, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&none)).ok(),
        Some(Value::Array(vec![]))
    );

    let built = sync(&[]);
    assert!(built.contains(&format!("create {acme_index}")), "{built}");
    let listed = rowguard(&owner, &["indexes", "list", "--json"]);
    assert_exit(&listed, 0);
    let listed: Value = serde_json::from_str(&stdout(&listed)).expect("json");
    let entry = listed
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == acme_index.as_str()))
        .unwrap_or_else(|| panic!("{acme_index} not listed: {listed}"));
    assert_eq!(entry["usable"], Value::Bool(true), "{entry}");
    assert_eq!(
        entry["tenant_rows"].as_u64(),
        Some(acme_docs as u64),
        "{entry}"
    );

    let app = db.url_app();
    let acme_s = acme.to_string();
    let args = [
        "search",
        "--tenant",
        &acme_s,
        "--kind",
        "documents",
        "--k",
        "5",
        "--text",
        "pricing and contract terms",
        "--strategy",
        "tenant-hnsw",
    ];
    let out = rowguard(&app, &args);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("documents: tenant_hnsw"),
        "{}",
        stderr(&out)
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let found = hits(&rowguard(&app, &json_args));
    assert_eq!(found.len(), acme_docs.min(5));
    check_hits(&found, &truth, acme, &["documents"]);

    let again = sync(&[]);
    assert!(
        again.contains("has its index"),
        "first:\n{built}\nagain:\n{again}"
    );
}
