//! Migrations and the generated schema stay honest: every migration goes up, down to
//! zero and up again leaving the same catalog; the policies migration is exactly the
//! files under `policies/`; and `src/schema` is what `diesel print-schema` makes of the
//! migrated database.

use std::path::Path;

use diesel::sql_types::Text;
use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use rowguard_testkit::server::TestDatabase;

#[derive(QueryableByName, Debug, PartialEq)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// A textual fingerprint of everything the migrations create: tables and columns,
/// constraints, indexes, policies, RLS flags, triggers, functions, types and grants.
pub(crate) fn catalog(conn: &mut PgConnection) -> Vec<String> {
    let sql = r#"
        SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
               || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS line
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname IN ('public', 'rowguard') AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT 'rls ' || c.relname || ' ' || c.relrowsecurity || ' ' || c.relforcerowsecurity || ' ' || coalesce(c.relacl::text, '')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        UNION ALL
        SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL
        SELECT 'policy ' || tablename || ' ' || policyname || ' ' || permissive || ' ' || cmd || ' '
               || coalesce(qual, '') || ' / ' || coalesce(with_check, '')
          FROM pg_policies WHERE schemaname = 'public'
        UNION ALL
        SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger
         WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
        UNION ALL
        SELECT 'function ' || p.oid::regprocedure || ' ' || p.prosecdef || ' ' || coalesce(p.proconfig::text, '')
               || ' ' || coalesce(p.proacl::text, '') || ' ' || pg_get_userbyid(p.proowner)
          FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('public', 'rowguard'))
        UNION ALL
        SELECT 'type ' || t.typname || ' ' || coalesce(string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder), '')
          FROM pg_type t LEFT JOIN pg_enum e ON e.enumtypid = t.oid
         WHERE t.typnamespace = 'public'::regnamespace AND t.typtype = 'e' GROUP BY t.typname
        UNION ALL
        SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
        ORDER BY 1
    "#;
    diesel::sql_query(sql)
        .load::<Line>(conn)
        .expect("catalog")
        .into_iter()
        .map(|l| l.line)
        // diesel's own bookkeeping table stays once created; it is not part of the schema.
        .filter(|l| !l.contains("__diesel_schema_migrations"))
        .collect()
}

#[test]
fn migrations_go_up_down_to_zero_and_up_again_leaving_the_same_catalog() {
    let db = TestDatabase::empty().expect("empty db");
    let mut conn = db.owner_conn().expect("owner");
    assert!(catalog(&mut conn).is_empty(), "a new database starts empty");

    let applied = rowguard::migrations::run_pending(&mut conn).expect("up");
    assert!(
        applied.len() >= 11,
        "expected every migration to run, got {applied:?}"
    );
    let first = catalog(&mut conn);
    assert!(first
        .iter()
        .any(|l| l.starts_with("policy tasks tenant_isolation")));

    let reverted = rowguard::migrations::revert_all(&mut conn).expect("down to zero");
    assert_eq!(reverted.len(), applied.len());
    let leftovers = catalog(&mut conn);
    assert!(
        leftovers.is_empty(),
        "down.sql left objects behind: {leftovers:#?}"
    );

    rowguard::migrations::run_pending(&mut conn).expect("up again");
    assert_eq!(
        catalog(&mut conn),
        first,
        "up, down, up must rebuild the same schema"
    );
}

#[test]
fn the_policies_migration_is_exactly_the_policies_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("policies"))
        .expect("policies/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut expected = String::from(
        "-- Generated from policies/ by scripts/sync-policies; do not edit: edit policies/*.sql and re-run the script.\n",
    );
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        expected.push_str(&format!("-- policies/{name}\n"));
        expected.push_str(&std::fs::read_to_string(f).expect("read policy"));
    }
    let migration = std::fs::read_dir(root.join("migrations"))
        .expect("migrations/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with("_policies"))
        .max()
        .expect("a policies migration");
    let actual = std::fs::read_to_string(migration.join("up.sql")).expect("up.sql");
    assert!(
        actual == expected,
        "{} is out of date with policies/: run scripts/sync-policies",
        migration.display()
    );
}

#[test]
fn src_schema_matches_print_schema_of_the_migrated_database() {
    let db = TestDatabase::new().expect("db");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let diesel = which_diesel().expect(
        "diesel_cli not found: scripts/setup.sh installs it (cargo install diesel_cli --no-default-features --features postgres)",
    );
    let out = std::process::Command::new(diesel)
        .args(["print-schema", "--database-url", &db.url_owner()])
        .current_dir(root)
        .output()
        .expect("run diesel print-schema");
    assert!(
        out.status.success(),
        "diesel print-schema failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).expect("utf-8");
    let committed =
        std::fs::read_to_string(root.join("src/schema/mod.rs")).expect("src/schema/mod.rs");
    assert!(
        generated == committed,
        "src/schema/mod.rs drifted from the migrations: run `diesel print-schema > src/schema/mod.rs` against a migrated database"
    );
}

pub(crate) fn which_diesel() -> Option<std::path::PathBuf> {
    let home_bin = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/diesel"));
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("diesel"))
            .find(|p| p.is_file())
    });
    from_path.or(home_bin.filter(|p| p.is_file()))
}

#[test]
fn migrations_go_down_to_zero_and_up_again_on_a_seeded_database() {
    let db = TestDatabase::new().expect("migrated db");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _inside = rt.enter();
    let pool = db.app_pool(2).expect("pool");
    let report = rt
        .block_on(rowguard_testkit::seed::demo(
            &pool,
            &rowguard_testkit::fixtures::admin_for(&pool),
        ))
        .expect("seed");
    assert!(report.rows_written > 0);
    drop(pool);

    let mut conn = db.owner_conn().expect("owner");
    let before = catalog(&mut conn);
    let reverted =
        rowguard::migrations::revert_all(&mut conn).expect("down to zero with data in every table");
    assert!(!reverted.is_empty());
    assert!(
        catalog(&mut conn).is_empty(),
        "down.sql left objects behind on a seeded database"
    );
    rowguard::migrations::run_pending(&mut conn).expect("up again");
    assert_eq!(catalog(&mut conn), before);
    // The keys went with the schema: the database gets its key back.
    db.restore_context_key().expect("key");

    // The rebuilt schema takes the demo data again.
    let pool = db.app_pool(2).expect("pool");
    rt.block_on(rowguard_testkit::seed::demo(
        &pool,
        &rowguard_testkit::fixtures::admin_for(&pool),
    ))
    .expect("seed after up again");
}

#[test]
fn ids_are_uuid_v7_by_default_and_there_are_no_sequences() {
    let db = TestDatabase::new().expect("db");
    let mut conn = db.owner_conn().expect("owner");
    let lines = catalog(&mut conn);
    let id_columns: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("column ") && l.contains(".id uuid"))
        .collect();
    assert!(
        id_columns.len() >= 27,
        "every table has a uuid id: {id_columns:#?}"
    );
    for line in &id_columns {
        assert!(
            line.ends_with("not null default rowguard.uuid_v7()"),
            "an id column without the v7 default: {line}"
        );
    }
    let sequences: Vec<Line> = diesel::sql_query(
        "SELECT c.relname::text AS line FROM pg_class c \
         WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace",
    )
    .load(&mut conn)
    .expect("sequences");
    assert!(
        sequences.is_empty(),
        "tenant tables must not use sequences: {sequences:?}"
    );
}
