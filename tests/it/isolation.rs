//! Tenant isolation, enforced by PostgreSQL, for every tenant table found in the catalog
//! (not a hand-kept list), acting as the application login role through rowguard's
//! own transaction wrapper on a pooled connection that another tenant used just before:
//!
//! - acting as tenant A, nothing of tenant B can be selected, inserted, updated,
//!   deleted or `COPY`ed out;
//! - with no tenant context (a fresh connection, and a pooled one between
//!   transactions) every table reads empty and every write fails;
//! - `tenant_id` cannot be changed by UPDATE, not even by the BYPASSRLS admin role;
//! - no row can reference another tenant's parent, whoever writes it;
//! - the application role cannot disable RLS, turn `row_security` off to read, `SET
//!   ROLE` to the owner, or create or drop a policy.
//!
//! Each check takes a [`Target`]: a migrated database seeded so that two tenants have
//! rows in every tenant table. The tests here run them on rowguard's own schema; an
//! application that adds tables runs them on its database too (`super::downstream`).

use diesel::sql_types::{Integer, Text, Uuid as SqlUuid};
use diesel::{Connection, PgConnection, QueryableByName};
use diesel_async::AsyncPgConnection;
use rowguard::catalog::quote_ident;
use rowguard::context::ContextKey;
use rowguard::pool::TenantPool;
use rowguard::{Error, TenantContext, TenantId};
use rowguard_testkit::fixtures::N;
use rowguard_testkit::server::TestDatabase;
use uuid::Uuid;

/// The blueprint's table set: the catalog must hold at least these (the checks below
/// run over whatever the catalog holds).
const BLUEPRINT_TABLES: [&str; 27] = [
    "tenants",
    "users",
    "sessions",
    "invites",
    "documents",
    "document_embeddings",
    "contacts",
    "companies",
    "deals",
    "deal_activities",
    "deal_activity_embeddings",
    "meetings",
    "meeting_participants",
    "transcripts",
    "meeting_summaries",
    "meeting_embeddings",
    "tasks",
    "automations",
    "automation_runs",
    "ai_employee_jobs",
    "ai_employee_outputs",
    "hub_links",
    "integrations",
    "events",
    "notifications",
    "files",
    "audit_log",
];

/// A migrated database the checks run on, and two of its tenants, `a` and `b`, that
/// both have at least one row in every tenant table.
pub(crate) struct Target {
    /// As the owner (superuser on a private cluster): for the truth, never for checks.
    pub(crate) owner_url: String,
    /// As the application login role.
    pub(crate) app_url: String,
    /// The database's context key.
    pub(crate) key: ContextKey,
    /// A tenant pool of one connection as the application login, signing with `key`.
    pub(crate) pool: TenantPool,
    /// The tenant the checks act as.
    pub(crate) a: TenantId,
    /// The other tenant, whose rows must stay out of reach.
    pub(crate) b: TenantId,
}

impl Target {
    fn owner_conn(&self) -> PgConnection {
        PgConnection::establish(&self.owner_url).expect("owner")
    }

    fn app_conn(&self) -> PgConnection {
        PgConnection::establish(&self.app_url).expect("app login")
    }
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[derive(QueryableByName, Debug, Clone)]
struct TableInfo {
    #[diesel(sql_type = Text)]
    name: String,
    /// `tenant_id`, or `id` for `tenants` itself.
    #[diesel(sql_type = Text)]
    key: String,
    /// The columns that accept values (generated columns excluded), quoted.
    #[diesel(sql_type = Text)]
    insertable: String,
    /// The same list with `id` replaced by the bound parameter `$2`.
    #[diesel(sql_type = Text)]
    insert_select: String,
    /// Whether rowguard_app may UPDATE it at all (audit_log and embedding_counts: no).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    app_may_update: bool,
    /// Whether rowguard_admin may UPDATE it at all (audit_log: no).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    admin_may_update: bool,
}

#[derive(QueryableByName, Debug, Clone)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Text)]
    parent: String,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct RowJson {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    json: String,
}

pub(crate) fn tenant_table_names(owner: &mut PgConnection) -> Vec<String> {
    tenant_tables(owner).into_iter().map(|t| t.name).collect()
}

fn tenant_tables(owner: &mut PgConnection) -> Vec<TableInfo> {
    use diesel::RunQueryDsl;
    diesel::sql_query(
        format!(
            "WITH tt AS ({}) \
             SELECT tt.table_name AS name, tt.key_column AS key,
                (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                   FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                    AND a.attgenerated = '') AS insertable,
                (SELECT string_agg(CASE WHEN a.attname = 'id' THEN '$2::uuid' ELSE quote_ident(a.attname) END,
                                   ', ' ORDER BY a.attnum)
                   FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                    AND a.attgenerated = '') AS insert_select,
                has_table_privilege('rowguard_app', c.oid, 'UPDATE') AS app_may_update,
                has_table_privilege('rowguard_admin', c.oid, 'UPDATE') AS admin_may_update
           FROM tt JOIN pg_class c ON c.oid = tt.name::regclass
          ORDER BY 1",
            rowguard::catalog::TENANT_TABLES_SQL
        ),
    )
    .load(owner)
    .expect("tenant tables")
}

/// Single-column references between tenant tables, as the catalog declares them: the
/// referencing column other than tenant_id, and the parent table.
fn foreign_keys(owner: &mut PgConnection) -> Vec<ForeignKey> {
    use diesel::RunQueryDsl;
    diesel::sql_query(
        "SELECT con.conrelid::regclass::text AS child, a.attname::text AS column,
                con.confrelid::regclass::text AS parent, con.conname::text AS name
           FROM pg_constraint con
           JOIN LATERAL unnest(con.conkey) AS k(attnum) ON true
           JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
          WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace
            AND con.confrelid <> 'tenants'::regclass AND a.attname <> 'tenant_id'
          ORDER BY 1, 2",
    )
    .load(owner)
    .expect("foreign keys")
}

fn count_where(owner: &mut PgConnection, table: &TableInfo, tenant: TenantId) -> i64 {
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM {} WHERE {} = $1",
        quote_ident(&table.name),
        quote_ident(&table.key)
    ))
    .bind::<SqlUuid, _>(tenant.as_uuid())
    .get_result::<N>(owner)
    .expect("count")
    .n
}

/// One row of `tenant` in `table`, as JSON, read as the owner.
fn some_row(owner: &mut PgConnection, table: &TableInfo, tenant: TenantId) -> RowJson {
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "SELECT t.id, row_to_json(t)::text AS json FROM {} t WHERE {} = $1 ORDER BY t.id LIMIT 1",
        quote_ident(&table.name),
        quote_ident(&table.key)
    ))
    .bind::<SqlUuid, _>(tenant.as_uuid())
    .get_result(owner)
    .unwrap_or_else(|e| {
        panic!(
            "the seed must give tenant {tenant} a row in {}: {e}",
            table.name
        )
    })
}

/// An INSERT of a copy of the JSON row `$1` under the new id `$2`.
fn insert_copy_sql(table: &TableInfo) -> String {
    let t = quote_ident(&table.name);
    format!(
        "INSERT INTO {t} ({}) SELECT {} FROM json_populate_record(NULL::{t}, $1::json)",
        table.insertable, table.insert_select
    )
}

/// `pool` (one connection, on the database of `owner_url`) after the demo seed, as a
/// target with the seed's first two tenants. Tables the demo seed does not know must be
/// filled by the caller.
pub(crate) async fn seed_target(
    owner_url: String,
    app_url: String,
    key: ContextKey,
    pool: TenantPool,
) -> Target {
    let report = rowguard_testkit::seed::demo(&pool, &rowguard_testkit::fixtures::admin_for(&pool))
        .await
        .expect("seed");
    assert!(
        report.tenants.len() >= 2,
        "the demo seed has several tenants"
    );
    let (a, b) = (report.tenants[0].id, report.tenants[1].id);
    Target {
        owner_url,
        app_url,
        key,
        pool,
        a,
        b,
    }
}

/// The test database `db` (rowguard's schema), seeded.
async fn make_seed(db: &TestDatabase) -> Target {
    let pool = db.app_pool(1).expect("pool");
    seed_target(db.url_owner(), db.url_app(), db.context_key(), pool).await
}

/// Runs a B transaction so that the next use of the single pooled connection is a
/// reuse after another tenant, and returns the connection's backend pid.
async fn touch_as(pool: &TenantPool, tenant: TenantId) -> i32 {
    use diesel_async::RunQueryDsl;
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result::<Pid>(conn)
            .await?
            .pid)
    })
    .await
    .expect("touch")
}

/// Runs `sql` with two bound uuids, once acting as `tenant` (after another tenant used
/// the pooled connection) and once as the BYPASSRLS admin role.
async fn update_as_tenant_and_admin(
    pool: &TenantPool,
    tenant: TenantId,
    sql: &str,
    first: Uuid,
    second: Uuid,
) -> [(&'static str, Result<(), Error>); 2] {
    use diesel_async::RunQueryDsl;
    let as_tenant = pool
        .with_tenant(&TenantContext::new(tenant), async |conn| {
            diesel::sql_query(sql)
                .bind::<SqlUuid, _>(first)
                .bind::<SqlUuid, _>(second)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await;
    let as_admin = rowguard_testkit::fixtures::admin_for(pool)
        .as_admin(
            "isolation test: a write the schema must refuse",
            async |conn| {
                diesel::sql_query(sql)
                    .bind::<SqlUuid, _>(first)
                    .bind::<SqlUuid, _>(second)
                    .execute(conn)
                    .await?;
                Ok(())
            },
        )
        .await;
    [("tenant", as_tenant), ("admin", as_admin)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_a_cannot_read_write_or_copy_tenant_b_rows_in_any_table() {
    let db = TestDatabase::new().expect("db");
    a_cannot_read_or_write_b(&make_seed(&db).await).await;
}

/// Acting as A, nothing of B can be selected, updated, deleted or inserted, in any
/// tenant table.
pub(crate) async fn a_cannot_read_or_write_b(target: &Target) {
    use diesel_async::RunQueryDsl;
    let (pool, a, b) = (&target.pool, target.a, target.b);
    let mut owner = target.owner_conn();
    let tables = tenant_tables(&mut owner);
    for name in BLUEPRINT_TABLES {
        assert!(
            tables.iter().any(|t| t.name == name),
            "the catalog lacks {name}"
        );
    }
    let pid = touch_as(pool, b).await;

    for table in &tables {
        let t = quote_ident(&table.name);
        let key = quote_ident(&table.key);
        let a_truth = count_where(&mut owner, table, a);
        let b_truth = count_where(&mut owner, table, b);
        assert!(
            a_truth > 0 && b_truth > 0,
            "{}: the seed must fill it for both tenants",
            table.name
        );
        let b_row = some_row(&mut owner, table, b);

        // Reuse after B, then act as A.
        assert_eq!(
            touch_as(pool, b).await,
            pid,
            "one pooled connection serves every check"
        );
        let ctx = TenantContext::new(a);
        let (visible, visible_b, by_id) = pool
            .with_tenant(&ctx, async |conn| {
                let all = diesel::sql_query(format!("SELECT count(*) AS n FROM {t}"))
                    .get_result::<N>(conn)
                    .await?
                    .n;
                let of_b =
                    diesel::sql_query(format!("SELECT count(*) AS n FROM {t} WHERE {key} = $1"))
                        .bind::<SqlUuid, _>(b.as_uuid())
                        .get_result::<N>(conn)
                        .await?
                        .n;
                let by_id =
                    diesel::sql_query(format!("SELECT count(*) AS n FROM {t} WHERE id = $1"))
                        .bind::<SqlUuid, _>(b_row.id)
                        .get_result::<N>(conn)
                        .await?
                        .n;
                Ok((all, of_b, by_id))
            })
            .await
            .expect("select");
        assert_eq!(
            visible, a_truth,
            "{}: A sees exactly its own rows",
            table.name
        );
        assert_eq!(
            (visible_b, by_id),
            (0, 0),
            "{}: A must not see B's rows",
            table.name
        );

        // UPDATE and DELETE aimed at B's row touch nothing (or are refused outright
        // where the role has no such grant, as on the append-only audit_log).
        let set = if table.key == "id" {
            "name = name"
        } else {
            "tenant_id = tenant_id"
        };
        for sql in [
            format!("UPDATE {t} SET {set} WHERE id = $1"),
            format!("DELETE FROM {t} WHERE id = $1"),
        ] {
            let outcome = pool
                .with_tenant(&ctx, async |conn| {
                    Ok(diesel::sql_query(&sql)
                        .bind::<SqlUuid, _>(b_row.id)
                        .execute(conn)
                        .await?)
                })
                .await;
            match outcome {
                Ok(n) => assert_eq!(n, 0, "{}: A changed B's row with {sql}", table.name),
                Err(Error::Forbidden(_)) => {}
                Err(e) => panic!("{}: unexpected error from {sql}: {e:?}", table.name),
            }
        }

        // INSERT of a copy of B's row (a fresh id) is refused by WITH CHECK.
        let inserted = pool
            .with_tenant(&ctx, async |conn| {
                diesel::sql_query(insert_copy_sql(table))
                    .bind::<Text, _>(&b_row.json)
                    .bind::<SqlUuid, _>(Uuid::now_v7())
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await;
        assert!(
            matches!(inserted, Err(Error::Forbidden(_))),
            "{}: inserting a row for B as A must be forbidden, got {inserted:?}",
            table.name
        );

        assert_eq!(
            count_where(&mut owner, table, b),
            b_truth,
            "{}: B's rows are intact",
            table.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_as_tenant_a_exports_only_a_rows() {
    let db = TestDatabase::new().expect("db");
    copy_to_exports_only_a(&make_seed(&db).await).await;
}

/// `COPY ... TO STDOUT` acting as A exports exactly A's rows, in every tenant table.
pub(crate) async fn copy_to_exports_only_a(target: &Target) {
    let (a, b) = (target.a, target.b);
    let mut owner = target.owner_conn();
    let tables = tenant_tables(&mut owner);

    let (mut client, connection) = tokio_postgres::connect(&target.app_url, tokio_postgres::NoTls)
        .await
        .expect("app login over tokio-postgres");
    tokio::spawn(connection);
    for table in &tables {
        let a_truth = count_where(&mut owner, table, a);
        let b_row = some_row(&mut owner, table, b);
        // The same transaction shape rowguard opens: BEGIN, then the context, bound.
        let tx = client.transaction().await.expect("begin");
        let signed = target.key.sign(
            &TenantContext::new(a),
            std::time::SystemTime::now() + std::time::Duration::from_secs(60),
        );
        tx.execute(
            "SELECT set_config('role', 'rowguard_app', true), set_config('app.context', $1, true)",
            &[&signed],
        )
        .await
        .expect("context");
        let sql = format!("COPY {} TO STDOUT", quote_ident(&table.name));
        let stream = tx
            .copy_out(sql.as_str())
            .await
            .expect("copy out is allowed");
        use futures_util::TryStreamExt;
        let chunks: Vec<bytes::Bytes> = stream.try_collect().await.expect("copy data");
        let text: String = chunks.iter().map(|c| String::from_utf8_lossy(c)).collect();
        tx.rollback().await.expect("end");
        assert_eq!(
            text.lines().count() as i64,
            a_truth,
            "{}: COPY exports exactly A's rows",
            table.name
        );
        assert!(
            !text.contains(&b.to_string()),
            "{}: COPY leaked tenant B's id",
            table.name
        );
        assert!(
            !text.contains(&b_row.id.to_string()),
            "{}: COPY leaked a row of B",
            table.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_context_every_read_and_write_is_refused() {
    let db = TestDatabase::new().expect("db");
    without_a_context_everything_is_refused(&make_seed(&db).await).await;
}

/// With no tenant context (a fresh connection, and a pooled one between transactions)
/// every tenant table reads as an error and every write fails.
pub(crate) async fn without_a_context_everything_is_refused(target: &Target) {
    use diesel_async::RunQueryDsl;
    let (pool, a, b) = (&target.pool, target.a, target.b);
    let mut owner = target.owner_conn();
    let tables = tenant_tables(&mut owner);
    let mut fresh = target.app_conn();

    for table in &tables {
        let t = quote_ident(&table.name);
        let a_row = some_row(&mut owner, table, a);
        let insert = insert_copy_sql(table);

        // A fresh connection that never had a context: an error, never an empty result.
        let read = diesel::RunQueryDsl::get_result::<N>(
            diesel::sql_query(format!("SELECT count(*) AS n FROM {t}")),
            &mut fresh,
        );
        assert!(
            matches!(&read, Err(e) if e.to_string().contains("no tenant context")),
            "{}: read without a tenant gave {:?}",
            table.name,
            read.map(|c| c.n)
        );
        let written = diesel::RunQueryDsl::execute(
            diesel::sql_query(&insert)
                .bind::<Text, _>(&a_row.json)
                .bind::<SqlUuid, _>(Uuid::now_v7()),
            &mut fresh,
        );
        assert!(
            written.is_err(),
            "{}: insert without a tenant succeeded",
            table.name
        );
        let changed = diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("DELETE FROM {t} WHERE id = $1"))
                .bind::<SqlUuid, _>(a_row.id),
            &mut fresh,
        );
        assert!(
            changed.is_err() || changed == Ok(0),
            "{}: delete without a tenant",
            table.name
        );

        // The pooled connection between transactions, right after tenant B used it.
        touch_as(pool, b).await;
        let (n, written) = pool
            .unscoped_for_tests(async |conn: &mut AsyncPgConnection| {
                let n = diesel::sql_query(format!("SELECT count(*) AS n FROM {t}"))
                    .get_result::<N>(conn)
                    .await
                    .map(|c| c.n)
                    .map_err(|e| e.to_string());
                let written = diesel::sql_query(&insert)
                    .bind::<Text, _>(&a_row.json)
                    .bind::<SqlUuid, _>(Uuid::now_v7())
                    .execute(conn)
                    .await;
                Ok((n, written.is_err()))
            })
            .await
            .expect("unscoped");
        assert!(
            matches!(&n, Err(e) if e.contains("no tenant context")),
            "{}: a pooled connection between transactions read {n:?}",
            table.name
        );
        assert!(
            written,
            "{}: a pooled connection could insert without a context",
            table.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_id_cannot_be_changed_by_update_even_by_the_admin_role() {
    let db = TestDatabase::new().expect("db");
    tenant_id_cannot_be_changed(&make_seed(&db).await).await;
}

/// No UPDATE moves a row to another tenant, acting as A or as the BYPASSRLS admin role.
pub(crate) async fn tenant_id_cannot_be_changed(target: &Target) {
    let (pool, a, b) = (&target.pool, target.a, target.b);
    let mut owner = target.owner_conn();
    let tables: Vec<_> = tenant_tables(&mut owner)
        .into_iter()
        .filter(|t| t.key == "tenant_id")
        .collect();

    for table in &tables {
        let t = quote_ident(&table.name);
        let a_row = some_row(&mut owner, table, a);
        touch_as(pool, b).await;
        let sql = format!("UPDATE {t} SET tenant_id = $1 WHERE id = $2");
        let outcomes = update_as_tenant_and_admin(pool, a, &sql, b.as_uuid(), a_row.id).await;
        for (who, outcome) in outcomes {
            match outcome {
                Err(Error::CheckViolation { constraint }) => {
                    assert_eq!(constraint, "tenant_id_immutable")
                }
                // Tables the role may not UPDATE at all (the append-only audit_log, the
                // trigger-kept embedding_counts) refuse outright.
                Err(Error::Forbidden(_))
                    if (who == "tenant" && !table.app_may_update)
                        || (who == "admin" && !table.admin_may_update) => {}
                other => panic!(
                    "{}: {who} moved a row to another tenant: {other:?}",
                    table.name
                ),
            }
        }
        assert_eq!(
            some_row(&mut owner, table, a).id,
            a_row.id,
            "{}: the row still belongs to A",
            table.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_row_can_reference_another_tenants_parent_whoever_writes_it() {
    let db = TestDatabase::new().expect("db");
    no_row_references_another_tenants_parent(&make_seed(&db).await).await;
}

/// For every reference between tenant tables, pointing a row of A at a parent of B
/// fails its foreign key, acting as A or as the admin role. Returns the references
/// checked, as `child.column -> parent`.
pub(crate) async fn no_row_references_another_tenants_parent(target: &Target) -> Vec<String> {
    let (pool, a, b) = (&target.pool, target.a, target.b);
    let mut owner = target.owner_conn();
    let tables = tenant_tables(&mut owner);
    let fks = foreign_keys(&mut owner);
    assert!(
        fks.len() >= 20,
        "expected the schema's tenant foreign keys, found {fks:?}"
    );

    for fk in &fks {
        let child = tables
            .iter()
            .find(|t| t.name == fk.child)
            .expect("child is a tenant table");
        let parent = tables
            .iter()
            .find(|t| t.name == fk.parent)
            .expect("parent is a tenant table");
        let a_row = some_row(&mut owner, child, a);
        let b_parent = some_row(&mut owner, parent, b);
        let sql = format!(
            "UPDATE {} SET {} = $1 WHERE id = $2",
            quote_ident(&fk.child),
            quote_ident(&fk.column)
        );
        touch_as(pool, b).await;
        let outcomes = update_as_tenant_and_admin(pool, a, &sql, b_parent.id, a_row.id).await;
        for (who, outcome) in outcomes {
            match outcome {
                Err(Error::ForeignKeyViolation { constraint }) => assert_eq!(constraint, fk.name),
                Err(Error::Forbidden(_))
                    if (who == "tenant" && !child.app_may_update)
                        || (who == "admin" && !child.admin_may_update) => {}
                other => panic!(
                    "{}.{} -> {}: {who} pointed A's row at B's parent: {other:?}",
                    fk.child, fk.column, fk.parent
                ),
            }
        }
    }
    fks.iter()
        .map(|fk| format!("{}.{} -> {}", fk.child, fk.column, fk.parent))
        .collect()
}

#[test]
fn the_application_role_cannot_switch_isolation_off() {
    let db = TestDatabase::new().expect("db");
    app_role_cannot_switch_isolation_off(&db.url_owner(), &db.url_app());
}

/// The application login cannot disable or unforce RLS, drop, create or alter a
/// policy, read with `row_security = off`, or become the owner or a superuser, on any
/// tenant table of the database (which needs no rows).
pub(crate) fn app_role_cannot_switch_isolation_off(owner_url: &str, app_url: &str) {
    use diesel::RunQueryDsl;
    let mut owner = PgConnection::establish(owner_url).expect("owner");
    let tables = tenant_tables(&mut owner);
    let owner_role: String = diesel::sql_query(
        "SELECT pg_get_userbyid(relowner)::text AS name FROM pg_class WHERE oid = 'tasks'::regclass",
    )
    .get_result::<OwnerName>(&mut owner)
    .expect("owner")
    .name;
    let mut app = PgConnection::establish(app_url).expect("app");

    for table in &tables {
        let t = quote_ident(&table.name);
        let attempts = [
            format!("ALTER TABLE {t} DISABLE ROW LEVEL SECURITY"),
            format!("ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY"),
            format!("DROP POLICY tenant_isolation ON {t}"),
            format!("CREATE POLICY open_door ON {t} USING (true)"),
            format!("ALTER POLICY tenant_isolation ON {t} USING (true)"),
        ];
        for sql in &attempts {
            let outcome = app.transaction(|c| diesel::sql_query(sql).execute(c));
            assert!(outcome.is_err(), "the app role could run: {sql}");
        }
        // row_security = off makes a query that RLS would filter fail, not read all.
        let off = app.transaction(|c| {
            diesel::sql_query("SET LOCAL row_security = off").execute(c)?;
            diesel::sql_query(format!("SELECT count(*) AS n FROM {t}")).get_result::<N>(c)
        });
        assert!(
            off.is_err(),
            "{}: row_security = off read the table",
            table.name
        );
    }
    let set_role = app.transaction(|c| {
        diesel::sql_query(format!("SET LOCAL ROLE {}", quote_ident(&owner_role))).execute(c)
    });
    assert!(
        set_role.is_err(),
        "the app role could become the owner {owner_role}"
    );
    let become_superuser =
        app.transaction(|c| diesel::sql_query("SET LOCAL ROLE postgres").execute(c));
    assert!(
        become_superuser.is_err(),
        "the app role could become postgres"
    );

    // Nothing changed: every table still has RLS enabled, forced, and its policy.
    let intact: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_class c
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
            AND c.relrowsecurity AND c.relforcerowsecurity
            AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')
            AND NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'open_door')",
    )
    .get_result::<N>(&mut owner)
    .expect("intact")
    .n;
    assert_eq!(intact as usize, tables.len());
}

#[derive(QueryableByName)]
struct OwnerName {
    #[diesel(sql_type = Text)]
    name: String,
}

#[test]
fn the_sync_twin_confines_reads_to_the_tenant_too() {
    let db = TestDatabase::new().expect("db");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let target = rt.block_on(make_seed(&db));
    sync_twin_confines_reads(&target);
}

/// `with_tenant_sync` confines reads to its tenant, A and B in turn, in every tenant
/// table.
pub(crate) fn sync_twin_confines_reads(target: &Target) {
    use diesel::RunQueryDsl;
    let (a, b) = (target.a, target.b);
    let mut owner = target.owner_conn();
    let tables = tenant_tables(&mut owner);
    let mut app = rowguard::tenant::SyncConnection::establish(&target.app_url).expect("app");
    for table in &tables {
        for (me, other) in [(a, b), (b, a)] {
            let truth = count_where(&mut owner, table, me);
            let (all, of_other) = rowguard::tenant::with_tenant_sync(
                &mut app,
                &target.key,
                Some("rowguard_app"),
                &TenantContext::new(me),
                |conn| {
                    let all = diesel::sql_query(format!(
                        "SELECT count(*) AS n FROM {}",
                        quote_ident(&table.name)
                    ))
                    .get_result::<N>(&mut **conn)?
                    .n;
                    let of_other = diesel::sql_query(format!(
                        "SELECT count(*) AS n FROM {} WHERE {} = $1",
                        quote_ident(&table.name),
                        quote_ident(&table.key)
                    ))
                    .bind::<SqlUuid, _>(other.as_uuid())
                    .get_result::<N>(&mut **conn)?
                    .n;
                    Ok((all, of_other))
                },
            )
            .expect("sync tenant transaction");
            assert_eq!((all, of_other), (truth, 0), "{} as {me}", table.name);
        }
    }
}
