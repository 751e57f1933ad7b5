//! Export and restore of one tenant (`rowguard::transfer`), on the demo seed, against
//! the real database, through the admin path (export and import) and the tenant pool
//! (what each tenant sees); the owner reads the truth only:
//! - export, `control::delete`, import: every tenant table's rows of the tenant are
//!   identical (as JSON in primary key order), `embedding_counts` included, and a vector
//!   search as the tenant returns the same hits;
//! - an import as a copy (`--slug`) next to the original: fresh ids, no original id
//!   left in any uuid or JSON column, sessions, pending invites and domains left out, the same
//!   row counts otherwise and the same search distances; acting as each tenant through
//!   the pool shows its own rows only;
//! - a restore over the existing tenant, or onto a taken slug, is refused
//!   (`Error::TenantExists`), as is a file from another schema version
//!   (`Error::SchemaMismatch`) and a file with an edited row (`Error::ExportFile`,
//!   checksum); none of them writes anything;
//! - a table larger than an export's page (1,000 rows) is read in pages by primary key
//!   and comes back whole;
//! - `AdminPool::snapshot` reads from one snapshot and refuses writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
use diesel::{PgConnection, QueryableByName};
use rowguard::catalog::{quote_ident, tenant_tables, TenantTable};
use rowguard::embed::HashingEmbedder;
use rowguard::pool::{AdminPool, TenantPool};
use rowguard::search::{Hit, Kind, SearchOptions, Strategy};
use rowguard::transfer::{export_tenant, import_tenant, ImportOptions};
use rowguard::{control, Error, TenantContext, TenantId};
use rowguard_testkit::fixtures::count;
use rowguard_testkit::server::TestDatabase;

/// A seeded database, its pools, and the demo's first tenant.
struct Seeded {
    db: TestDatabase,
    pool: TenantPool,
    admin: AdminPool,
    tenant: TenantId,
    dir: TempDir,
}

/// A directory of its own under the system's temporary one, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "rowguard-transfer-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn seeded() -> Seeded {
    let db = TestDatabase::new().expect("test database");
    let pool = db.app_pool(2).expect("pool");
    let admin = db.admin_pool(2).expect("admin pool");
    let report = rowguard_testkit::seed::demo(&pool, &admin)
        .await
        .expect("seed");
    let tenant = report.tenants[0].id;
    Seeded {
        db,
        pool,
        admin,
        tenant,
        dir: TempDir::new(),
    }
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    json: String,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

/// The primary key of `table`, as an ORDER BY list over alias `t`.
fn primary_key(owner: &mut PgConnection, table: &TenantTable) -> String {
    use diesel::RunQueryDsl;
    let row: Name = diesel::sql_query(
        "SELECT string_agg('t.' || quote_ident(a.attname), ', ' ORDER BY k.ord) AS name \
           FROM pg_index i \
           CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
          WHERE i.indrelid = $1::regclass AND i.indisprimary",
    )
    .bind::<Text, _>(&table.name)
    .get_result(owner)
    .expect("primary key");
    row.name
        .unwrap_or_else(|| panic!("{} has a primary key", table.name))
}

/// Every tenant table's rows of `tenant`, as one JSON array per table in primary key
/// order, read as the owner: the truth.
fn rows_of(db: &TestDatabase, tenant: TenantId) -> BTreeMap<String, serde_json::Value> {
    use diesel::RunQueryDsl;
    let mut owner = db.owner_conn().expect("owner");
    let tables = tenant_tables(&mut owner).expect("tables");
    tables
        .iter()
        .map(|t| {
            let sql = format!(
                "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY {}), '[]')::text AS json \
                 FROM {} t WHERE t.{} = $1",
                primary_key(&mut owner, t),
                t.name,
                quote_ident(&t.key_column)
            );
            let row: Json = diesel::sql_query(sql)
                .bind::<SqlUuid, _>(tenant.as_uuid())
                .get_result(&mut owner)
                .expect("rows");
            let json = serde_json::from_str(&row.json).expect("json");
            (t.table_name.clone(), json)
        })
        .collect()
}

/// A vector search over every embedding table, as `tenant` through the pool, by exact
/// scan (so the hits depend on the rows alone, not on how the index was built).
async fn search_as(pool: &TenantPool, tenant: TenantId) -> Vec<Hit> {
    let vector = HashingEmbedder::default()
        .embed_vec("late shipment of the quarterly invoice")
        .expect("embed");
    let opts = SearchOptions::new(Kind::All).strategy(Strategy::Exact);
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        rowguard::search::search(conn, &vector, 10, &opts).await
    })
    .await
    .expect("search")
}

/// The number of rows of tenant `tenant` over every tenant table, as the owner.
fn total_rows(db: &TestDatabase, tenant: TenantId) -> usize {
    rows_of(db, tenant)
        .values()
        .map(|rows| rows.as_array().map_or(0, Vec::len))
        .sum()
}

fn is_send<T: Send>(_: &T) {}

#[tokio::test]
async fn export_delete_import_restores_every_row_and_the_same_search() {
    let s = seeded().await;
    let before = rows_of(&s.db, s.tenant);
    for (table, rows) in &before {
        assert!(
            rows.as_array().is_some_and(|r| !r.is_empty()),
            "the demo seed fills {table}"
        );
    }
    let hits_before = search_as(&s.pool, s.tenant).await;
    assert_eq!(hits_before.len(), 10, "{hits_before:?}");

    let path = s.dir.file("acme.sqlite");
    // Both futures are Send, so a server may run them on any worker thread.
    let export = export_tenant(&s.admin, s.tenant, &path);
    is_send(&export);
    is_send(&import_tenant(&s.admin, &path, &ImportOptions::default()));
    let exported = export.await.expect("export");
    assert!(path.exists());
    // The admin role may not read __diesel_schema_migrations; the version the file
    // records is still the database's, as the owner reads it.
    let applied: Name = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT max(version)::text AS name FROM __diesel_schema_migrations"),
        &mut s.db.owner_conn().expect("owner"),
    )
    .expect("version");
    assert_eq!(Some(&exported.schema_version), applied.name.as_ref());
    for (table, rows) in &before {
        assert_eq!(
            exported.rows.get(table).copied(),
            rows.as_array().map(|r| r.len() as i64),
            "{table}"
        );
    }
    let again = export_tenant(&s.admin, s.tenant, &path).await;
    assert!(
        matches!(again, Err(Error::ExportFile(ref m)) if m.contains("never overwrites")),
        "{again:?}"
    );

    let deleted = control::delete(&s.admin, s.tenant).await.expect("delete");
    assert_eq!(deleted.rows, exported.rows, "export and delete count alike");
    assert_eq!(total_rows(&s.db, s.tenant), 0);

    let restored = import_tenant(&s.admin, &path, &ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(restored.tenant, s.tenant);
    assert_eq!(restored.copy_of, None);
    assert!(restored.left_out.is_empty(), "{:?}", restored.left_out);
    assert_eq!(restored.rows, exported.rows);

    let after = rows_of(&s.db, s.tenant);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &before {
        assert_eq!(&after[table], rows, "{table} differs after the round trip");
    }
    assert_eq!(search_as(&s.pool, s.tenant).await, hits_before);
}

#[derive(QueryableByName)]
struct KeyAndId {
    #[diesel(sql_type = Text)]
    tenant: String,
    #[diesel(sql_type = Text)]
    id: String,
}

/// Every row `tenant` sees in each tenant table, acting as it through the pool: its
/// tenant key and id, by table.
async fn visible_to(
    pool: &TenantPool,
    tables: &[TenantTable],
    tenant: TenantId,
) -> BTreeMap<String, Vec<KeyAndId>> {
    let mut out = BTreeMap::new();
    for t in tables {
        let sql = format!(
            "SELECT t.{}::text AS tenant, t.id::text AS id FROM {} t",
            quote_ident(&t.key_column),
            t.name
        );
        let rows: Vec<KeyAndId> = pool
            .with_tenant(&TenantContext::new(tenant), async |conn| {
                Ok(diesel_async::RunQueryDsl::load(diesel::sql_query(&sql), conn).await?)
            })
            .await
            .expect("rows as the tenant");
        out.insert(t.table_name.clone(), rows);
    }
    out
}

/// Every string in `value`, recursively.
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The values of every uuid and jsonb column of every row of `tenant`, as strings
/// (JSON: every string inside), read as the owner.
fn uuid_and_json_strings(db: &TestDatabase, tenant: TenantId) -> Vec<String> {
    use diesel::RunQueryDsl;
    let mut owner = db.owner_conn().expect("owner");
    let typed: Vec<(String, String)> = {
        #[derive(QueryableByName)]
        struct Col {
            #[diesel(sql_type = Text)]
            table_name: String,
            #[diesel(sql_type = Text)]
            column_name: String,
        }
        let cols: Vec<Col> = diesel::sql_query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
              WHERE table_schema = 'public' AND data_type IN ('uuid', 'jsonb')",
        )
        .load(&mut owner)
        .expect("columns");
        cols.into_iter()
            .map(|c| (c.table_name, c.column_name))
            .collect()
    };
    let rows = rows_of(db, tenant);
    let mut out = Vec::new();
    for (table, rows) in rows {
        for row in rows.as_array().into_iter().flatten() {
            for (t, c) in &typed {
                if *t == table {
                    strings(&row[c.as_str()], &mut out);
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn a_copy_next_to_the_original_is_complete_and_isolated() {
    let s = seeded().await;
    let path = s.dir.file("acme.sqlite");
    export_tenant(&s.admin, s.tenant, &path)
        .await
        .expect("export");
    let truth = rows_of(&s.db, s.tenant);

    let copy = import_tenant(
        &s.admin,
        &path,
        &ImportOptions {
            slug: Some("acme-copy".into()),
        },
    )
    .await
    .expect("import a copy");
    assert_ne!(copy.tenant, s.tenant);
    assert_eq!(copy.copy_of, Some(s.tenant));
    assert_eq!(copy.slug, "acme-copy");
    let sessions = truth["sessions"].as_array().map_or(0, Vec::len) as i64;
    let pending = truth["invites"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["accepted_at"].is_null())
        .count() as i64;
    let domains = truth["domains"].as_array().map_or(0, Vec::len) as i64;
    assert!(
        sessions > 0 && pending > 0 && domains > 0,
        "the seed has all three"
    );
    assert_eq!(copy.left_out.get("sessions"), Some(&sessions));
    assert_eq!(copy.left_out.get("domains"), Some(&domains));
    assert_eq!(copy.left_out.get("invites"), Some(&pending));

    // The copy's tenant row: the new slug, the name marked; no domain of its own.
    let copied = rows_of(&s.db, copy.tenant);
    let row = &copied["tenants"][0];
    assert_eq!(row["slug"], "acme-copy");
    assert_eq!(
        row["name"].as_str().map(|n| n.ends_with(" (copy)")),
        Some(true),
        "{row}"
    );
    assert_eq!(
        copied["domains"].as_array().map_or(0, Vec::len),
        0,
        "{}",
        copied["domains"]
    );
    assert_eq!(row["plan"], truth["tenants"][0]["plan"]);

    // Each tenant, through the pool, sees its own rows only; the ids are all new; the
    // counts match but for what a copy leaves out.
    let tables = tenant_tables(&mut s.db.owner_conn().expect("owner")).expect("tables");
    let original = visible_to(&s.pool, &tables, s.tenant).await;
    let copied_rows = visible_to(&s.pool, &tables, copy.tenant).await;
    for t in &tables {
        let (a, b) = (&original[&t.table_name], &copied_rows[&t.table_name]);
        assert!(
            a.iter().all(|r| r.tenant == s.tenant.to_string()),
            "{}",
            t.name
        );
        assert!(
            b.iter().all(|r| r.tenant == copy.tenant.to_string()),
            "{}",
            t.name
        );
        let a_ids: BTreeSet<&str> = a.iter().map(|r| r.id.as_str()).collect();
        let b_ids: BTreeSet<&str> = b.iter().map(|r| r.id.as_str()).collect();
        assert!(a_ids.is_disjoint(&b_ids), "{}: ids shared", t.name);
        let left_out = copy.left_out.get(&t.table_name).copied().unwrap_or(0);
        assert_eq!(
            b.len() as i64,
            a.len() as i64 - left_out,
            "{}: row counts",
            t.name
        );
        assert_eq!(
            copy.rows.get(&t.table_name).copied(),
            Some(b.len() as i64),
            "{}",
            t.name
        );
    }

    // Every reference was rewritten: no uuid or JSON value of the copy names a row of
    // the original.
    let original_ids: BTreeSet<String> =
        original.values().flatten().map(|r| r.id.clone()).collect();
    let leftovers: Vec<String> = uuid_and_json_strings(&s.db, copy.tenant)
        .into_iter()
        .filter(|v| original_ids.contains(v))
        .collect();
    assert!(
        leftovers.is_empty(),
        "original ids in the copy: {leftovers:?}"
    );

    // The same search finds the same chunks at the same distances, under new ids.
    let a = search_as(&s.pool, s.tenant).await;
    let b = search_as(&s.pool, copy.tenant).await;
    let key = |h: &Hit| (h.kind, h.chunk.clone(), h.distance.to_bits());
    assert_eq!(
        a.iter().map(key).collect::<Vec<_>>(),
        b.iter().map(key).collect::<Vec<_>>()
    );
    assert!(a.iter().all(|h| b.iter().all(|g| g.id != h.id)));

    // Restoring over the original, or copying onto a taken slug, is refused.
    let before = total_rows(&s.db, s.tenant);
    for slug in [None, Some("acme-copy"), Some("globex")] {
        let outcome = import_tenant(
            &s.admin,
            &path,
            &ImportOptions {
                slug: slug.map(str::to_owned),
            },
        )
        .await;
        assert!(
            matches!(outcome, Err(Error::TenantExists(_))),
            "{slug:?}: {outcome:?}"
        );
    }
    assert_eq!(total_rows(&s.db, s.tenant), before);
    let tenants = s
        .admin
        .as_admin("test: count tenants", async |conn| {
            count(conn, "tenants").await
        })
        .await
        .expect("count");
    assert_eq!(tenants, 4, "three demo tenants and one copy");
}

/// A copy of `path` at `to`, changed by `sql` run on it with SQLite.
fn tampered(path: &Path, to: &Path, sql: &str) {
    std::fs::copy(path, to).expect("copy the file");
    let conn = rusqlite::Connection::open(to).expect("open the copy");
    let changed = conn.execute(sql, []).expect("tamper");
    assert_eq!(changed, 1, "{sql}");
}

#[tokio::test]
async fn another_schema_version_or_an_edited_row_is_refused_and_writes_nothing() {
    let s = seeded().await;
    let path = s.dir.file("acme.sqlite");
    export_tenant(&s.admin, s.tenant, &path)
        .await
        .expect("export");
    control::delete(&s.admin, s.tenant).await.expect("delete");

    let newer = s.dir.file("newer.sqlite");
    tampered(
        &path,
        &newer,
        "UPDATE rowguard_manifest SET value = '99991231000000' WHERE key = 'schema_version'",
    );
    let outcome = import_tenant(&s.admin, &newer, &ImportOptions::default()).await;
    match outcome {
        Err(Error::SchemaMismatch { file, database }) => {
            assert_eq!(file, "99991231000000");
            assert_ne!(database, file);
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }

    let edited = s.dir.file("edited.sqlite");
    tampered(
        &path,
        &edited,
        "UPDATE tasks SET title = title || ' (edited)' WHERE rowid = 1",
    );
    let outcome = import_tenant(&s.admin, &edited, &ImportOptions::default()).await;
    assert!(
        matches!(outcome, Err(Error::ExportFile(ref m)) if m.contains("tasks") && m.contains("checksum")),
        "{outcome:?}"
    );

    let dropped = s.dir.file("dropped.sqlite");
    tampered(&path, &dropped, "DELETE FROM deals WHERE rowid = 1");
    let outcome = import_tenant(&s.admin, &dropped, &ImportOptions::default()).await;
    assert!(
        matches!(outcome, Err(Error::ExportFile(ref m)) if m.contains("deals")),
        "{outcome:?}"
    );

    let not_an_export = s.dir.file("garbage.sqlite");
    std::fs::write(&not_an_export, b"not a database").expect("write");
    let outcome = import_tenant(&s.admin, &not_an_export, &ImportOptions::default()).await;
    assert!(matches!(outcome, Err(Error::ExportFile(_))), "{outcome:?}");

    assert_eq!(total_rows(&s.db, s.tenant), 0, "nothing was written");
    // The untouched file still restores.
    import_tenant(&s.admin, &path, &ImportOptions::default())
        .await
        .expect("the original file imports");
    assert!(total_rows(&s.db, s.tenant) > 0);
}

#[tokio::test]
async fn a_snapshot_reads_one_snapshot_and_writes_nothing() {
    let db = TestDatabase::new().expect("test database");
    let pool = db.app_pool(1).expect("pool");
    let admin = db.admin_pool(2).expect("admin pool");
    let tenant = rowguard_testkit::fixtures::make_tenant(&pool, "snap-co").await;
    let insert = async |conn: &mut rowguard::pool::AdminConn| -> rowguard::Result<usize> {
        let insert =
            diesel::sql_query("INSERT INTO tasks (tenant_id, title) VALUES ($1, 'written')")
                .bind::<SqlUuid, _>(tenant.as_uuid());
        Ok(diesel_async::RunQueryDsl::execute(insert, conn).await?)
    };
    let (first, second) = admin
        .snapshot("test: read twice", async |conn| {
            let first = count(conn, "tasks").await?;
            // Another admin transaction commits a row between the two reads.
            admin
                .as_admin("test: write meanwhile", async |other| insert(other).await)
                .await?;
            let second = count(conn, "tasks").await?;
            Ok((first, second))
        })
        .await
        .expect("snapshot");
    assert_eq!((first, second), (0, 0), "both reads see the snapshot");
    let now = admin
        .as_admin("test: count", async |conn| count(conn, "tasks").await)
        .await
        .expect("count");
    assert_eq!(now, 1, "the other transaction committed");

    let write = admin
        .snapshot("test: write in a snapshot", async |conn| insert(conn).await)
        .await;
    assert!(write.is_err(), "a snapshot is read-only: {write:?}");
    let now = admin
        .as_admin("test: count", async |conn| count(conn, "tasks").await)
        .await
        .expect("count");
    assert_eq!(now, 1);
}

#[tokio::test]
async fn a_table_larger_than_a_page_comes_back_whole() {
    let db = TestDatabase::new().expect("test database");
    let pool = db.app_pool(1).expect("pool");
    let admin = db.admin_pool(1).expect("admin pool");
    let tenant = rowguard_testkit::fixtures::make_tenant(&pool, "many-co").await;
    // 2,500 tasks: two full pages and a part, with ids from the column default.
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        rowguard_testkit::fixtures::exec(
            conn,
            "INSERT INTO tasks (tenant_id, title) \
             SELECT (SELECT rowguard.current_tenant_id()), 'task ' || g \
               FROM generate_series(1, 2500) g",
        )
        .await
    })
    .await
    .expect("tasks");
    let before = rows_of(&db, tenant);
    let dir = TempDir::new();
    let path = dir.file("many.sqlite");
    let exported = export_tenant(&admin, tenant, &path).await.expect("export");
    assert_eq!(exported.rows.get("tasks"), Some(&2500));
    control::delete(&admin, tenant).await.expect("delete");
    import_tenant(&admin, &path, &ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(rows_of(&db, tenant), before);
}
