//! An application's own table, added the way docs/adding-a-table.md says, is as safe as
//! rowguard's: the example crate `rowguard-example-downstream` (examples/downstream)
//! adds `notes` in migrations of its own, dated after rowguard's. On a fresh database
//! migrated by its `run_migrations` (rowguard's migrations, then the crate's):
//!
//! - `rowguard::doctor::diagnose` reports no error, and does see `notes`;
//! - the isolation suite (`super::isolation`), which walks every tenant table in the
//!   catalog, passes with `notes` among the tables;
//! - `NewNote::insert` lands in the connection's tenant without being told it, and
//!   the crate's queries see that tenant's notes only;
//! - diesel_cli, given rowguard's migrations directory and then the crate's, applies
//!   the same versions and builds the same schema as `run_migrations`, and the crate's
//!   `src/schema.rs` is what `diesel print-schema` prints for it;
//! - `revert_all` goes down to an empty schema, and `run_migrations` rebuilds it.

use std::path::{Path, PathBuf};

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel::{Connection, PgConnection, QueryDsl, QueryableByName};
use diesel_async::RunQueryDsl;
use rowguard::doctor::{diagnose, DoctorOptions, Rule};
use rowguard::pool::{PoolConfig, TenantPool};
use rowguard::{Error, MemberRole, TenantContext, TenantId, UserId};
use rowguard_example_downstream::{NewNote, Note};
use rowguard_testkit::server::TestDatabase;
use uuid::Uuid;

use super::isolation::{self, Target};

/// A fresh database migrated by the example crate's `run_migrations`, readied as the
/// tests' databases are (the two logins, a context key, no temporary tables for
/// PUBLIC), with a tenant pool of one connection.
struct Downstream {
    db: TestDatabase,
    key: rowguard::context::ContextKey,
}

impl Downstream {
    fn new() -> Downstream {
        let db = TestDatabase::empty().expect("empty database");
        let mut owner = db.owner_conn().expect("owner");
        let ran = rowguard_example_downstream::run_migrations(&mut owner).expect("migrations");
        assert_eq!(
            ran.last().map(String::as_str),
            Some("20261202000002"),
            "the example's migrations run last: {ran:?}"
        );
        rowguard_testkit::server::prepare_database(&db.url_owner()).expect("logins and key");
        let key = rowguard_testkit::server::context_key(&mut owner).expect("context key");
        Downstream { db, key }
    }

    fn owner(&self) -> PgConnection {
        self.db.owner_conn().expect("owner")
    }

    fn pool(&self) -> TenantPool {
        PoolConfig::new(self.db.url_app())
            .context_key(self.key.clone())
            .max_size(1)
            .build()
            .expect("tenant pool")
    }

    /// The demo seed, plus two notes for each of the two tenants the checks use (one
    /// about a deal of its own, one about none), written through the crate's model:
    /// an isolation target.
    async fn seeded(&self) -> Target {
        let target = isolation::seed_target(
            self.db.url_owner(),
            self.db.url_app(),
            self.key.clone(),
            self.pool(),
        )
        .await;
        for tenant in [target.a, target.b] {
            let deal = some_deal(&target.pool, tenant).await;
            target
                .pool
                .with_tenant(&TenantContext::new(tenant), async |conn| {
                    let mut about_deal = NewNote::new("Follow up");
                    about_deal.deal_id = Some(deal);
                    about_deal.insert(conn).await?;
                    NewNote::new("Ideas").insert(conn).await?;
                    Ok(())
                })
                .await
                .expect("notes");
        }
        target
    }
}

/// A deal of `tenant`, read acting as that tenant.
async fn some_deal(pool: &TenantPool, tenant: TenantId) -> Uuid {
    use rowguard::schema::deals;
    pool.with_tenant(&TenantContext::new(tenant), async |conn| {
        Ok(deals::table
            .select(deals::id)
            .order(deals::id)
            .first::<Uuid>(conn)
            .await?)
    })
    .await
    .expect("the demo seed gives every tenant deals")
}

fn assert_covers_notes(target: &Target) {
    let mut owner = PgConnection::establish(&target.owner_url).expect("owner");
    let tables = isolation::tenant_table_names(&mut owner);
    assert!(
        tables.iter().any(|t| t == "notes"),
        "the isolation suite walks {tables:?}, without notes"
    );
}

#[test]
fn downstream_doctor_reports_no_error_with_notes() {
    let d = Downstream::new();
    let mut owner = d.owner();
    let opts = DoctorOptions::default();
    let report = diagnose(&mut owner, &opts).expect("diagnose");
    assert!(
        report.is_clean(),
        "the database with notes breaks a rule:\n{report:#?}"
    );
    assert!(
        !report.findings.iter().any(|f| f.object.contains("notes")),
        "{report:#?}"
    );

    // The doctor reads notes like any tenant table: breaking it is reported on it.
    diesel::RunQueryDsl::execute(
        diesel::sql_query("ALTER TABLE notes NO FORCE ROW LEVEL SECURITY"),
        &mut owner,
    )
    .expect("break notes");
    let broken = diagnose(&mut owner, &opts).expect("diagnose");
    let errors: Vec<_> = broken
        .errors()
        .map(|f| (f.rule, f.object.as_str()))
        .collect();
    assert_eq!(errors, [(Rule::RlsNotForced, "public.notes")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_isolation_a_cannot_read_or_write_b_notes() {
    let d = Downstream::new();
    let target = d.seeded().await;
    assert_covers_notes(&target);
    isolation::a_cannot_read_or_write_b(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_isolation_copy_to_exports_only_a_notes() {
    let d = Downstream::new();
    let target = d.seeded().await;
    assert_covers_notes(&target);
    isolation::copy_to_exports_only_a(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_isolation_without_a_context_notes_are_refused() {
    let d = Downstream::new();
    let target = d.seeded().await;
    assert_covers_notes(&target);
    isolation::without_a_context_everything_is_refused(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_isolation_tenant_id_of_notes_cannot_be_changed() {
    let d = Downstream::new();
    let target = d.seeded().await;
    assert_covers_notes(&target);
    isolation::tenant_id_cannot_be_changed(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_isolation_notes_cannot_reference_another_tenants_deal() {
    let d = Downstream::new();
    let target = d.seeded().await;
    let checked = isolation::no_row_references_another_tenants_parent(&target).await;
    assert!(
        checked.iter().any(|fk| fk == "notes.deal_id -> deals"),
        "the reference of notes to deals was not checked: {checked:?}"
    );
}

#[test]
fn downstream_isolation_sync_twin_and_app_role_on_notes() {
    let d = Downstream::new();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let target = rt.block_on(d.seeded());
    assert_covers_notes(&target);
    isolation::sync_twin_confines_reads(&target);
    isolation::app_role_cannot_switch_isolation_off(&target.owner_url, &target.app_url);
}

#[derive(QueryableByName)]
struct Owned {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_new_note_insert_lands_in_the_connections_tenant() {
    let d = Downstream::new();
    let pool = d.pool();
    let a = rowguard_testkit::fixtures::make_tenant(&pool, "downstream-a").await;
    let b = rowguard_testkit::fixtures::make_tenant(&pool, "downstream-b").await;
    let deal_of = async |tenant: TenantId| {
        pool.with_tenant(&TenantContext::new(tenant), async |conn| {
            let deal = rowguard::models::NewDeal::builder()
                .title("Fleet renewal")
                .value_minor(120_000)
                .build();
            Ok(deal.insert(conn).await?.id)
        })
        .await
        .expect("deal")
    };
    let (deal_a, deal_b) = (deal_of(a).await, deal_of(b).await);

    // The caller names no tenant: the note takes the connection's.
    let ctx_a = TenantContext::new(a).with_user(UserId::new_v7(), MemberRole::Member);
    let note = pool
        .with_tenant(&ctx_a, async |conn| {
            let mut new = NewNote::new("Call back on Friday");
            new.deal_id = Some(deal_a);
            new.body = Some("They want a quote for 40 trucks.".into());
            new.insert(conn).await
        })
        .await
        .expect("insert");
    assert_eq!(note.tenant_id, a);
    assert_eq!(note.deal_id, Some(deal_a));
    assert!(!note.pinned, "pinned defaults to false");
    let stored: Owned = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT tenant_id FROM notes WHERE id = $1").bind::<SqlUuid, _>(note.id),
        &mut d.owner(),
    )
    .expect("stored row");
    assert_eq!(
        stored.tenant_id,
        a.as_uuid(),
        "stored in A, as the owner reads it"
    );

    // A reads it back through each query; B sees none of it.
    let (listed, for_deal) = pool
        .with_tenant(&TenantContext::new(a), async |conn| {
            Ok((Note::list(conn).await?, Note::for_deal(conn, deal_a).await?))
        })
        .await
        .expect("read as A");
    assert_eq!(listed, std::slice::from_ref(&note));
    assert_eq!(for_deal, std::slice::from_ref(&note));
    let (of_b, about_deal_a) = pool
        .with_tenant(&TenantContext::new(b), async |conn| {
            Ok((Note::list(conn).await?, Note::for_deal(conn, deal_a).await?))
        })
        .await
        .expect("read as B");
    assert!(of_b.is_empty() && about_deal_a.is_empty());

    // A note of A about B's deal fails the composite foreign key.
    let cross = pool
        .with_tenant(&ctx_a, async |conn| {
            let mut new = NewNote::new("Steal their deal");
            new.deal_id = Some(deal_b);
            new.insert(conn).await
        })
        .await;
    assert!(
        matches!(&cross, Err(Error::ForeignKeyViolation { constraint }) if constraint == "notes_tenant_id_deal_id_fkey"),
        "{cross:?}"
    );

    // The migration's role tiers: a viewer reads notes but writes none.
    let viewer = TenantContext::new(a).with_user(UserId::new_v7(), MemberRole::Viewer);
    let seen = pool
        .with_tenant(&viewer, async |conn| Note::list(conn).await)
        .await
        .expect("a viewer reads");
    assert_eq!(seen, [note]);
    let written = pool
        .with_tenant(&viewer, async |conn| {
            NewNote::new("A viewer's note").insert(conn).await
        })
        .await;
    assert!(matches!(written, Err(Error::Forbidden(_))), "{written:?}");
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

fn applied_versions(conn: &mut PgConnection) -> Vec<String> {
    diesel::RunQueryDsl::load::<Version>(
        diesel::sql_query(
            "SELECT version::text AS version FROM __diesel_schema_migrations ORDER BY version",
        ),
        conn,
    )
    .expect("applied versions")
    .into_iter()
    .map(|v| v.version)
    .collect()
}

/// Runs diesel_cli with `args` in an empty directory of its own, so that no
/// `diesel.toml` applies (`migration run` would rewrite a schema file).
fn diesel_cli(args: &[&str]) -> std::process::Output {
    let diesel = super::migrations::which_diesel().expect(
        "diesel_cli not found: scripts/setup.sh installs it (cargo install diesel_cli --no-default-features --features postgres)",
    );
    let dir = std::env::temp_dir().join(format!(
        "rowguard-downstream-{}-{}",
        std::process::id(),
        Uuid::now_v7()
    ));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let out = std::process::Command::new(diesel)
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("run diesel");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn downstream_diesel_cli_applies_both_directories_as_run_migrations_does() {
    let embedded = TestDatabase::empty().expect("empty database");
    let mut embedded_conn = embedded.owner_conn().expect("owner");
    rowguard_example_downstream::run_migrations(&mut embedded_conn).expect("run_migrations");

    let cli = TestDatabase::empty().expect("empty database");
    let url = cli.url_owner();
    let rowguard_dir = root().join("migrations");
    let example_dir = root().join("examples/downstream/migrations");
    for dir in [&rowguard_dir, &example_dir] {
        let dir = dir.to_str().expect("utf-8 path");
        let out = diesel_cli(&[
            "migration",
            "run",
            "--database-url",
            &url,
            "--migration-dir",
            dir,
        ]);
        assert!(
            out.status.success(),
            "diesel migration run --migration-dir {dir} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut cli_conn = cli.owner_conn().expect("owner");

    let versions = applied_versions(&mut cli_conn);
    assert_eq!(versions, applied_versions(&mut embedded_conn));
    for ours in ["20261202000001", "20261202000002"] {
        assert!(
            versions.iter().any(|v| v == ours),
            "{ours} applied: {versions:?}"
        );
    }
    assert_eq!(
        super::migrations::catalog(&mut cli_conn),
        super::migrations::catalog(&mut embedded_conn),
        "the two paths build the same schema"
    );

    // The crate's src/schema.rs is what print-schema makes of notes (its diesel.toml
    // keeps only notes).
    let out = std::process::Command::new(super::migrations::which_diesel().expect("diesel"))
        .args(["print-schema", "--database-url", &url])
        .current_dir(root().join("examples/downstream"))
        .output()
        .expect("run diesel print-schema");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read_to_string(root().join("examples/downstream/src/schema.rs"))
        .expect("schema.rs");
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "examples/downstream/src/schema.rs drifted from its migrations: run `diesel print-schema` in examples/downstream"
    );

    // Reverting goes by version, newest first, whichever directory holds it (a rowguard
    // upgrade's migrations can be newer than the crate's): each `diesel migration
    // revert` must name the directory of the newest applied version, and the other
    // directory refuses, reverting nothing.
    let rowguard_dir = rowguard_dir.to_str().expect("utf-8 path");
    let example_dir = example_dir.to_str().expect("utf-8 path");
    let ours = ["20261202000001", "20261202000002"];
    let mut refused_once = false;
    while let Some(newest) = applied_versions(&mut cli_conn).last().cloned() {
        let (right, wrong) = if ours.contains(&newest.as_str()) {
            (example_dir, rowguard_dir)
        } else {
            (rowguard_dir, example_dir)
        };
        let revert = |dir: &str| {
            diesel_cli(&[
                "migration",
                "revert",
                "--database-url",
                &url,
                "--migration-dir",
                dir,
            ])
        };
        if !refused_once {
            let before = applied_versions(&mut cli_conn);
            assert!(!revert(wrong).status.success(), "{wrong} lacks {newest}");
            assert_eq!(applied_versions(&mut cli_conn), before, "nothing reverted");
            refused_once = true;
        }
        let out = revert(right);
        assert!(
            out.status.success(),
            "diesel migration revert --migration-dir {right}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(refused_once);
    assert!(applied_versions(&mut cli_conn).is_empty());
    assert!(super::migrations::catalog(&mut cli_conn).is_empty());
}

#[test]
fn downstream_revert_all_goes_down_to_zero_and_run_migrations_rebuilds() {
    let db = TestDatabase::empty().expect("empty database");
    let mut conn = db.owner_conn().expect("owner");
    let applied = rowguard_example_downstream::run_migrations(&mut conn).expect("up");
    let first = super::migrations::catalog(&mut conn);
    assert!(first
        .iter()
        .any(|l| l.starts_with("policy notes tenant_isolation")));
    assert!(
        rowguard_example_downstream::run_migrations(&mut conn)
            .expect("again")
            .is_empty(),
        "nothing is pending after a run"
    );

    let reverted = rowguard_example_downstream::revert_all(&mut conn).expect("down to zero");
    // diesel reverts by version, newest first, whichever set a version is from (a
    // rowguard upgrade's migrations can be newer than an application's).
    let mut newest_first = applied.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(reverted, newest_first);
    let leftovers = super::migrations::catalog(&mut conn);
    assert!(leftovers.is_empty(), "left behind: {leftovers:#?}");

    rowguard_example_downstream::run_migrations(&mut conn).expect("up again");
    assert_eq!(super::migrations::catalog(&mut conn), first);
}

/// The fenced blocks of `markdown` whose info string is `lang`.
fn fenced_blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == format!("```{lang}") => current = Some(String::new()),
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn downstream_docs_show_the_example_crates_own_code() {
    let example = root().join("examples/downstream");
    let read = |path: &str| std::fs::read_to_string(example.join(path)).expect(path);
    let lib = read("src/lib.rs");
    // The crate's doc example as rustdoc renders it: without `//! ` and hidden lines.
    let rendered: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//! ").or(l.strip_prefix("//!")))
        .filter(|l| *l != "#" && !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    let sources = [lib.clone(), read("src/schema.rs"), rendered];
    let doc = std::fs::read_to_string(root().join("docs/adding-a-table.md")).expect("doc");

    let rust = fenced_blocks(&doc, "rust");
    assert!(rust.len() >= 5, "{rust:#?}");
    for block in &rust {
        assert!(
            sources.iter().any(|s| s.contains(block.as_str())),
            "docs/adding-a-table.md shows Rust that is not the example crate's:\n{block}"
        );
    }
    let shown: Vec<String> = ["sql", "toml"]
        .iter()
        .flat_map(|lang| fenced_blocks(&doc, lang))
        .collect();
    for file in [
        "diesel.toml",
        "migrations/2026-12-02-000001_notes/up.sql",
        "migrations/2026-12-02-000001_notes/down.sql",
        "migrations/2026-12-02-000002_notes_pinned/up.sql",
        "migrations/2026-12-02-000002_notes_pinned/down.sql",
    ] {
        assert!(
            shown.contains(&read(file)),
            "docs/adding-a-table.md does not show examples/downstream/{file} as it is"
        );
    }
}
