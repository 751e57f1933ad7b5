//! The demo seed (`rowguard_testkit::seed::demo`), run as the application login through a
//! `TenantPool` (never as owner): seeding twice leaves exactly the same rows (same
//! per-table counts, same row contents, nothing written the second time); every table
//! the catalog lists with a `tenant_id` column has rows for every seeded tenant; every
//! row the seed reports belongs to the tenant it was written for, and that tenant sees
//! exactly those rows; the published demo tokens resolve to their tenants.
//! The owner connection is used only to count ground truth.

use std::collections::BTreeMap;

use diesel::pg::PgConnection;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel::{QueryableByName, RunQueryDsl};
use rowguard::catalog::quote_ident;
use rowguard_testkit::fixtures::N;
use rowguard_testkit::seed::{SeedReport, DEMO_INVITE_TOKENS, DEMO_SESSION_TOKENS};
use rowguard_testkit::server::TestDatabase;
use uuid::Uuid;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Fingerprint {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Text)]
    digest: String,
}

#[derive(QueryableByName)]
struct MaybeId {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    id: Option<Uuid>,
}

/// Every table with a `tenant_id` column (the tenant tables but `tenants`).
fn tenant_tables(owner: &mut PgConnection) -> Vec<String> {
    rowguard::catalog::tenant_tables(owner)
        .expect("catalog: tenant tables")
        .into_iter()
        .filter(|t| t.key_column == "tenant_id")
        .map(|t| t.table_name)
        .collect()
}

/// Whether rowguard_app may INSERT into `table`, as the catalog says.
fn app_may_insert(owner: &mut PgConnection, table: &str) -> bool {
    #[derive(QueryableByName)]
    struct May {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        may: bool,
    }
    diesel::sql_query("SELECT has_table_privilege('rowguard_app', $1::regclass, 'INSERT') AS may")
        .bind::<diesel::sql_types::Text, _>(table)
        .get_result::<May>(owner)
        .expect("privilege")
        .may
}

/// Every base table of `public` but diesel's migration bookkeeping.
fn all_tables(owner: &mut PgConnection) -> Vec<String> {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
           AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load(owner)
    .expect("catalog: tables");
    names.into_iter().map(|n| n.name).collect()
}

/// (row count, md5 of every row's full text in a fixed order) for each table, as owner.
fn snapshot(owner: &mut PgConnection) -> BTreeMap<String, (i64, String)> {
    all_tables(owner)
        .into_iter()
        .map(|t| {
            let f: Fingerprint = diesel::sql_query(format!(
                "SELECT count(*) AS n, \
                 coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') AS digest \
                 FROM public.{} r",
                quote_ident(&t)
            ))
            .get_result(owner)
            .expect("fingerprint");
            (t, (f.n, f.digest))
        })
        .collect()
}

async fn seed(db: &TestDatabase) -> SeedReport {
    let pool = db.app_pool(2).expect("app pool");
    rowguard_testkit::seed::demo(&pool, &rowguard_testkit::fixtures::admin_for(&pool))
        .await
        .expect("seed demo")
}

#[tokio::test]
async fn seeding_twice_leaves_exactly_the_same_rows() {
    let db = TestDatabase::new().expect("test database");
    let first = seed(&db).await;
    assert!(first.rows_written > 0, "the first run writes rows");
    let mut owner = db.owner_conn().expect("owner");
    let before = snapshot(&mut owner);
    assert!(
        before.values().all(|(n, _)| *n > 0),
        "empty tables after seeding: {before:?}"
    );

    let second = seed(&db).await;
    assert_eq!(second.rows_written, 0, "the second run writes nothing");
    assert_eq!(
        first
            .tenants
            .iter()
            .map(|t| (t.id, &t.row_ids))
            .collect::<Vec<_>>(),
        second
            .tenants
            .iter()
            .map(|t| (t.id, &t.row_ids))
            .collect::<Vec<_>>(),
        "both runs report the same tenants and rows"
    );
    let after = snapshot(&mut owner);
    let counts = |s: &BTreeMap<String, (i64, String)>| {
        s.iter()
            .map(|(t, (n, _))| (t.clone(), *n))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(counts(&before), counts(&after), "per-table counts");
    assert_eq!(before, after, "row contents, timestamps included");
}

#[tokio::test]
async fn every_tenant_table_has_rows_for_every_seeded_tenant() {
    let db = TestDatabase::new().expect("test database");
    let report = seed(&db).await;
    assert!(report.tenants.len() >= 3, "at least three tenants");
    let plans: std::collections::HashSet<_> = report.tenants.iter().map(|t| t.plan).collect();
    assert_eq!(
        plans.len(),
        report.tenants.len(),
        "each tenant has its own plan"
    );

    let mut owner = db.owner_conn().expect("owner");
    let tables = tenant_tables(&mut owner);
    assert!(
        tables.len() >= 26,
        "every table of the blueprint but tenants has tenant_id: {tables:?}"
    );
    let mut missing = Vec::new();
    for table in &tables {
        for t in &report.tenants {
            let n: N = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM public.{} WHERE tenant_id = $1",
                quote_ident(table)
            ))
            .bind::<SqlUuid, _>(t.id.as_uuid())
            .get_result(&mut owner)
            .expect("count");
            if n.n == 0 {
                missing.push(format!("{table} has no rows for {}", t.slug));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");

    // Users with all four roles in every tenant.
    for t in &report.tenants {
        let n: N =
            diesel::sql_query("SELECT count(DISTINCT role) AS n FROM users WHERE tenant_id = $1")
                .bind::<SqlUuid, _>(t.id.as_uuid())
                .get_result(&mut owner)
                .expect("roles");
        assert_eq!(n.n, 4, "{} has users with all four roles", t.slug);
    }
}

#[tokio::test]
async fn every_seeded_row_belongs_to_the_tenant_it_was_written_for() {
    let db = TestDatabase::new().expect("test database");
    let report = seed(&db).await;
    let mut owner = db.owner_conn().expect("owner");
    // The tables the application writes; embedding_counts is kept by triggers.
    let mut tables: Vec<String> = tenant_tables(&mut owner)
        .into_iter()
        .filter(|t| app_may_insert(&mut owner, t))
        .collect();
    tables.push("tenants".to_owned());
    let pool = db.app_pool(2).expect("app pool");

    let mut reported: BTreeMap<String, usize> = BTreeMap::new();
    for t in &report.tenants {
        for table in &tables {
            let ids = t.ids(table);
            assert!(!ids.is_empty(), "{} reports no {table} rows", t.slug);
            *reported.entry(table.clone()).or_default() += ids.len();
            let tenant_col = if table == "tenants" {
                "id"
            } else {
                "tenant_id"
            };
            // Ground truth: each reported row exists with this tenant's id.
            let own: N = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM public.{} WHERE id = ANY($1) AND {tenant_col} = $2",
                quote_ident(table)
            ))
            .bind::<Array<SqlUuid>, _>(ids)
            .bind::<SqlUuid, _>(t.id.as_uuid())
            .get_result(&mut owner)
            .expect("ground truth");
            assert_eq!(own.n as usize, ids.len(), "{table} rows of {}", t.slug);
            // Acting as the tenant, it sees exactly those rows (in audit_log, besides
            // the rows the audit trigger wrote for the seed's writes).
            let sql = format!(
                "SELECT count(*) AS n FROM public.{}{}",
                quote_ident(table),
                seeded_only(table)
            );
            let seen: N = pool
                .with_tenant(&t.context(), async |conn| {
                    Ok(diesel_async::RunQueryDsl::get_result(diesel::sql_query(sql), conn).await?)
                })
                .await
                .expect("count as tenant");
            assert_eq!(
                seen.n as usize,
                ids.len(),
                "{} sees its {table} rows, no more",
                t.slug
            );
        }
    }
    // Nothing else was written: the reported rows are every row of every table.
    for (table, n) in reported {
        let total: N = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM public.{}{}",
            quote_ident(&table),
            seeded_only(&table)
        ))
        .get_result(&mut owner)
        .expect("total");
        assert_eq!(total.n as usize, n, "{table}: rows the seed did not report");
    }
}

#[tokio::test]
async fn demo_tokens_resolve_to_their_tenants() {
    let db = TestDatabase::new().expect("test database");
    let report = seed(&db).await;
    let mut app = db.app_conn().expect("app login");
    diesel::sql_query("SET ROLE rowguard_app")
        .execute(&mut app)
        .expect("act as rowguard_app");
    let tenant = |slug: &str| {
        report
            .tenants
            .iter()
            .find(|t| t.slug == slug)
            .map(|t| t.id.as_uuid())
    };
    for (function, tokens) in [
        ("resolve_session", DEMO_SESSION_TOKENS),
        ("resolve_invite", DEMO_INVITE_TOKENS),
    ] {
        for token in tokens {
            let found: MaybeId = diesel::sql_query(format!(
                "SELECT tenant_id AS id FROM rowguard.{function}($1)"
            ))
            .bind::<diesel::sql_types::Bytea, _>(rowguard::token::hash(token.token).to_vec())
            .get_result(&mut app)
            .expect("token resolves");
            assert_eq!(
                found.id,
                tenant(token.tenant_slug),
                "{function}({})",
                token.token
            );
        }
    }
}

/// A WHERE clause that leaves out the rows the audit trigger wrote (actions `insert`,
/// `update`, `delete`), for `audit_log`; empty for every other table.
fn seeded_only(table: &str) -> &'static str {
    if table == "audit_log" {
        " WHERE action NOT IN ('insert', 'update', 'delete')"
    } else {
        ""
    }
}
