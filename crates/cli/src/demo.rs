//! `rowguard seed demo` and `rowguard demo`: seed the demo tenants, and show two of
//! them side by side with the proof that neither sees the other's rows.

use std::fmt::Write as _;
use std::process::ExitCode;

use diesel::sql_types::{Array, Nullable, Text, Uuid as SqlUuid};
use diesel::{
    BoolExpressionMethods, Connection, ExpressionMethods, JoinOnDsl, OptionalExtension,
    PgConnection, QueryDsl, QueryableByName, SelectableHelper,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pgvector::VectorExpressionMethods;
use rowguard::catalog::{count_rows_sql, TableRows, TenantTable};
use rowguard::embed::Embedder;
use rowguard::models::{Deal, NewTask};
use rowguard::pool::{PoolConfig, TenantPool};
use rowguard::schema::{deals, document_embeddings, documents, tasks};
use rowguard::tenant::TenantConn;
use rowguard::{Error, Result};
use rowguard_testkit::fixtures::N;
use rowguard_testkit::seed::{SeedReport, SeededTenant, DEMO_SESSION_TOKENS};
use uuid::Uuid;

use crate::cli::database_url;

use crate::cli::runtime;

/// `rowguard seed demo`: creates the tenants through `ROWGUARD_ADMIN_URL`, writes
/// their rows through `DATABASE_URL` (a member of `rowguard_app`), and prints what it
/// did.
pub fn seed_demo() -> Result<ExitCode> {
    let url = database_url()?;
    // A plain connection first: an unreachable server or a bad password is reported as
    // such (exit 4), not as a pool timeout.
    drop(PgConnection::establish(&url)?);
    let report = runtime()?.block_on(async {
        let admin = crate::keys::admin_pool()?;
        let pool = crate::keys::tenant_pool(2, Some(&admin)).await?;
        rowguard_testkit::seed::demo(&pool, &admin).await
    })?;
    print!("{}", render_seed_report(&report));
    println!();
    println!(
        "Demo session tokens (rowguard.resolve_session(token) maps each to its tenant and user):"
    );
    let rows = DEMO_SESSION_TOKENS
        .iter()
        .map(|t| {
            vec![
                t.tenant_slug.to_owned(),
                t.email.to_owned(),
                t.role.to_string(),
                t.token.to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        indent(&table(&["tenant", "user", "role", "token"], rows, &[]))
    );
    Ok(ExitCode::SUCCESS)
}

fn render_seed_report(report: &SeedReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "rowguard seed demo: {} demo tenants, {} rows written{}",
        report.tenants.len(),
        report.rows_written,
        if report.rows_written == 0 {
            " (everything was already there)"
        } else {
            ""
        }
    );
    let rows = report
        .tenants
        .iter()
        .map(|t| {
            vec![
                t.slug.clone(),
                t.name.clone(),
                t.plan.to_string(),
                t.id.to_string(),
                t.row_ids.values().map(Vec::len).sum::<usize>().to_string(),
                t.rows_written.to_string(),
            ]
        })
        .collect();
    out.push_str(&indent(&table(
        &["slug", "name", "plan", "tenant id", "rows", "written now"],
        rows,
        &[4, 5],
    )));
    out.push_str(
        "Idempotent: every row has a fixed id and is inserted with ON CONFLICT DO NOTHING, \
         so running it again writes 0 rows.\n",
    );
    out
}

/// `rowguard demo`: migrate, seed, and show two tenants side by side.
pub fn demo() -> Result<ExitCode> {
    let (urls, place, owner_url) = match database_url() {
        Ok(url) => {
            let mut conn = PgConnection::establish(&url)?;
            let ran = rowguard::migrations::run_pending(&mut conn)?;
            let urls = rowguard_testkit::server::prepare_database(&url)?;
            let place = format!(
                "{} ({}; tenants as {}, admin as {})",
                redact(&url),
                if ran.is_empty() {
                    "schema up to date".to_owned()
                } else {
                    format!("applied {} migration(s)", ran.len())
                },
                rowguard_testkit::server::APP_LOGIN_ROLE,
                rowguard_testkit::server::ADMIN_LOGIN_ROLE,
            );
            (urls, place, url)
        }
        Err(_) => {
            println!("DATABASE_URL is unset: starting a private, throwaway PostgreSQL ...");
            let owner = rowguard_testkit::server::migrated_database("rowguard_demo")?;
            (
                rowguard_testkit::server::prepare_database(&owner)?,
                format!(
                    "private PostgreSQL, database rowguard_demo; tenants as {}, admin as {} (removed when this command exits)",
                    rowguard_testkit::server::APP_LOGIN_ROLE,
                    rowguard_testkit::server::ADMIN_LOGIN_ROLE,
                ),
                owner,
            )
        }
    };
    println!("Database: {place}");
    println!("Server: {}", server_versions(&urls.admin_url)?);
    // The doctor on the demo's own database: the schema, the roles and pgvector.
    let doctor = rowguard::doctor::diagnose(
        &mut PgConnection::establish(&owner_url)?,
        &rowguard::doctor::DoctorOptions::default(),
    )?;
    print!("{}", crate::report::render_doctor(&doctor));
    let shown = runtime()?.block_on(show(urls))?;
    if doctor.is_clean() {
        Ok(shown)
    } else {
        println!("The doctor found errors in the demo's database (above).");
        Ok(ExitCode::from(1))
    }
}

/// "PostgreSQL 18.6, pgvector 0.8.6": what the demo runs on.
fn server_versions(url: &str) -> Result<String> {
    #[derive(diesel::QueryableByName)]
    struct Versions {
        #[diesel(sql_type = Text)]
        server: String,
        #[diesel(sql_type = Text)]
        vector: String,
    }
    let mut conn = PgConnection::establish(url)?;
    let v: Versions = diesel::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT current_setting('server_version') AS server, \
                    coalesce((SELECT extversion FROM pg_extension WHERE extname = 'vector'), 'none') AS vector",
        ),
        &mut conn,
    )?;
    Ok(format!("PostgreSQL {}, pgvector {}", v.server, v.vector))
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "DATABASE_URL".to_owned(),
    }
}

#[derive(QueryableByName)]
struct MaybeId {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    id: Option<Uuid>,
}

/// The tenant tables, from the catalog (the list the doctor checks).
async fn tenant_tables(conn: &mut TenantConn) -> Result<Vec<TenantTable>> {
    Ok(diesel::sql_query(rowguard::catalog::TENANT_TABLES_SQL)
        .load(conn)
        .await?)
}

/// One statement counting the rows of every table this tenant can see; with `only` set,
/// only rows whose tenant is `only` (`id` for `tenants`).
async fn count_tables(
    conn: &mut TenantConn,
    tables: &[TenantTable],
    only: Option<Uuid>,
) -> Result<Vec<(String, i64)>> {
    let sql = count_rows_sql(tables, only.is_some());
    let rows: Vec<TableRows> = match only {
        Some(id) => {
            diesel::sql_query(sql)
                .bind::<SqlUuid, _>(id)
                .load(conn)
                .await?
        }
        None => diesel::sql_query(sql).load(conn).await?,
    };
    Ok(rows.into_iter().map(|r| (r.table_name, r.n)).collect())
}

/// What one tenant sees, gathered in one tenant transaction.
struct View {
    counts: Vec<(String, i64)>,
    deals: Vec<Deal>,
    documents: Vec<(String, String)>,
    search: Vec<(String, String, f64)>,
}

const SEARCH_QUERY: &str = "pricing, discounts and contract terms";

async fn view(pool: &TenantPool, tenant: &SeededTenant, tables: &[TenantTable]) -> Result<View> {
    let query = rowguard_testkit::embedder()?.embed_stored(SEARCH_QUERY)?;
    pool.with_tenant(&tenant.context(), async |conn| {
        let counts = count_tables(conn, tables, None).await?;
        let deals = deals::table
            .order((deals::value_minor.desc(), deals::id))
            .limit(5)
            .select(Deal::as_select())
            .load(conn)
            .await?;
        let docs: Vec<(String, rowguard::models::DocumentStatus)> = documents::table
            .order(documents::title)
            .select((documents::title, documents::status))
            .load(conn)
            .await?;
        let distance = document_embeddings::embedding.cosine_distance(query.clone());
        let hits: Vec<(String, String, f64)> = document_embeddings::table
            .inner_join(
                documents::table.on(documents::tenant_id
                    .eq(document_embeddings::tenant_id)
                    .and(documents::id.eq(document_embeddings::document_id))),
            )
            .order(document_embeddings::embedding.cosine_distance(query))
            .limit(2)
            .select((documents::title, document_embeddings::chunk, distance))
            .load(conn)
            .await?;
        Ok(View {
            counts,
            deals,
            documents: docs.into_iter().map(|(t, s)| (t, s.to_string())).collect(),
            search: hits,
        })
    })
    .await
}

/// The isolation checks `me` runs against `other`'s known rows; each is (what, passed).
async fn prove(
    pool: &TenantPool,
    me: &SeededTenant,
    other: &SeededTenant,
    tables: &[TenantTable],
) -> Result<Vec<(String, bool)>> {
    let other_deals = other.ids("deals").to_vec();
    let first = other_deals
        .as_slice()
        .first()
        .copied()
        .unwrap_or_else(Uuid::nil);
    let mut checks = pool
        .with_tenant(&me.context(), async |conn| {
            let mut checks = Vec::new();
            let found = Deal::find(conn, first).await;
            checks.push((
                format!("Deal::find({first}) of {}", other.slug),
                matches!(found, Err(Error::NotFound)),
                match found {
                    Ok(_) => "FOUND".to_owned(),
                    Err(Error::NotFound) => "not found".to_owned(),
                    Err(e) => e.to_string(),
                },
            ));
            let n: N = diesel::sql_query("SELECT count(*) AS n FROM deals WHERE id = ANY($1)")
                .bind::<Array<SqlUuid>, _>(&other_deals)
                .get_result(conn)
                .await?;
            checks.push((
                format!(
                    "SELECT count(*) FROM deals WHERE id = ANY({} ids of {})",
                    other_deals.len(),
                    other.slug
                ),
                n.n == 0,
                n.n.to_string(),
            ));
            let updated = diesel::update(deals::table.filter(deals::id.eq_any(&other_deals)))
                .set(deals::title.eq("renamed by another tenant"))
                .execute(conn)
                .await?;
            checks.push((
                format!(
                    "UPDATE deals ... WHERE id = ANY({} ids of {})",
                    other_deals.len(),
                    other.slug
                ),
                updated == 0,
                format!("{updated} rows"),
            ));
            Ok(checks)
        })
        .await?;
    // SQL inside the transaction names the other tenant itself: unsigned, the context
    // is refused, and the transaction fails.
    let forged = pool
        .with_tenant(&me.context(), async |conn| {
            let forged = format!("v1.1.{}...9999999999.{}", other.id, "0".repeat(64));
            diesel::sql_query("SELECT set_config('app.context', $1, true)")
                .bind::<diesel::sql_types::Text, _>(&forged)
                .execute(conn)
                .await?;
            let n: N = diesel::sql_query("SELECT count(*) AS n FROM deals")
                .get_result(conn)
                .await?;
            Ok(n.n)
        })
        .await;
    checks.push((
        format!(
            "set_config('app.context', <{} with a made-up signature>)",
            other.slug
        ),
        matches!(forged, Err(Error::Forbidden(_))),
        match forged {
            Ok(n) => format!("{n} deals READ"),
            Err(Error::Forbidden(_)) => "refused: bad signature".to_owned(),
            Err(e) => e.to_string(),
        },
    ));
    let more = pool
        .with_tenant(&me.context(), async |conn| {
            let mut checks = Vec::new();
            let all = count_tables(conn, tables, Some(other.id.as_uuid())).await?;
            let total: i64 = all.iter().map(|(_, n)| n).sum();
            checks.push((
                format!("rows of {} in all {} tables", other.slug, all.len()),
                total == 0,
                total.to_string(),
            ));
            Ok(checks)
        })
        .await?;
    checks.extend(more);
    // A write into the other tenant: RLS WITH CHECK must refuse it (and the failed
    // transaction rolls back).
    // The model inserts for the connection's own tenant; the attack names the other
    // tenant explicitly.
    let task = NewTask::builder()
        .title("Planted by another tenant")
        .build();
    let planted = pool
        .with_tenant(&me.context(), async |conn| {
            Ok(diesel::insert_into(tasks::table)
                .values((tasks::tenant_id.eq(other.id), task))
                .execute(conn)
                .await?)
        })
        .await;
    checks.push((
        format!("INSERT INTO tasks (tenant_id = {}, ...)", other.slug),
        matches!(planted, Err(Error::Forbidden(_))),
        match planted {
            Ok(_) => "INSERTED".to_owned(),
            Err(Error::Forbidden(_)) => "refused by RLS".to_owned(),
            Err(e) => e.to_string(),
        },
    ));
    let mut out = Vec::new();
    println!("As {}:", me.slug);
    let rows = checks
        .iter()
        .map(|(what, ok, got)| {
            vec![
                what.clone(),
                got.clone(),
                if *ok { "ok" } else { "BREACH" }.to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        indent(&table(&["attempt", "result", "verdict"], rows, &[]))
    );
    for (what, ok, _) in checks {
        out.push((what, ok));
    }
    Ok(out)
}

/// Pre-tenant look-ups, acting as `rowguard_app` with no tenant context at all.
async fn lookups(url: &str, report: &SeedReport) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    diesel::sql_query("SET ROLE rowguard_app")
        .execute(&mut conn)
        .await?;
    println!("Before a tenant is known (as rowguard_app, no tenant context):");
    let mut rows = Vec::new();
    let mut slugs: Vec<&str> = report.tenants.iter().map(|t| t.slug.as_str()).collect();
    slugs.push("no-such-tenant");
    for slug in slugs {
        let id: MaybeId = diesel::sql_query("SELECT rowguard.resolve_tenant_slug($1) AS id")
            .bind::<Text, _>(slug)
            .get_result(&mut conn)
            .await?;
        rows.push(vec![
            format!("rowguard.resolve_tenant_slug('{slug}')"),
            id.id.map_or("NULL (unknown)".to_owned(), |i| i.to_string()),
        ]);
    }
    if let Some(token) = DEMO_SESSION_TOKENS.first() {
        let id: Option<MaybeId> =
            diesel::sql_query("SELECT tenant_id AS id FROM rowguard.resolve_session($1)")
                .bind::<diesel::sql_types::Bytea, _>(rowguard::token::hash(token.token).to_vec())
                .get_result(&mut conn)
                .await
                .optional()?;
        rows.push(vec![
            format!("rowguard.resolve_session(<{}'s demo token>)", token.email),
            id.and_then(|i| i.id).map_or("no session".to_owned(), |i| {
                format!("tenant {i} (+ user id)")
            }),
        ]);
    }
    let n = diesel::sql_query("SELECT count(*) AS n FROM deals")
        .get_result::<N>(&mut conn)
        .await;
    rows.push(vec![
        "SELECT count(*) FROM deals".to_owned(),
        match n {
            Ok(n) => format!("{} rows (RLS did not refuse: BREACH)", n.n),
            Err(e) => format!("refused: {} (no tenant context)", rowguard::Error::from(e)),
        },
    ]);
    print!("{}", indent(&table(&["call", "returns"], rows, &[])));
    Ok(())
}

async fn show(urls: rowguard_testkit::server::DatabaseLogins) -> Result<ExitCode> {
    let admin = PoolConfig::new(urls.admin_url.clone())
        .max_size(2)
        .build_admin()?;
    let key = admin.context_key().await?;
    let pool = PoolConfig::new(urls.app_url.clone())
        .context_key(key)
        .max_size(4)
        .build()?;
    let url = urls.app_url;
    let report = rowguard_testkit::seed::demo(&pool, &admin).await?;
    print!("{}", render_seed_report(&report));
    let (Some(a), Some(b)) = (report.tenants.as_slice().first(), report.tenants.get(1)) else {
        return Err(Error::InvalidInput(
            "the demo seed made fewer than two tenants".into(),
        ));
    };
    println!();
    lookups(&url, &report).await?;

    let tables = pool
        .with_tenant(&a.context(), async |conn| tenant_tables(conn).await)
        .await?;
    let va = view(&pool, a, &tables).await?;
    let vb = view(&pool, b, &tables).await?;

    println!();
    println!(
        "What each tenant sees: the same queries, run as {} and as {}; RLS decides.",
        a.slug, b.slug
    );
    let rows = va
        .counts
        .iter()
        .map(|(t, n)| {
            let m = vb
                .counts
                .iter()
                .find(|(u, _)| u == t)
                .map_or(0, |(_, m)| *m);
            vec![t.clone(), n.to_string(), m.to_string()]
        })
        .collect();
    print!(
        "{}",
        indent(&table(&["table", &a.slug, &b.slug], rows, &[1, 2]))
    );

    for (t, v) in [(a, &va), (b, &vb)] {
        println!();
        println!("{} ({}): top deals", t.name, t.slug);
        let rows = v
            .deals
            .iter()
            .map(|d| {
                vec![
                    d.stage.to_string(),
                    money(d.value_minor, &d.currency),
                    format!("{}%", d.probability),
                    d.title.clone(),
                ]
            })
            .collect();
        print!(
            "{}",
            indent(&table(&["stage", "value", "prob.", "title"], rows, &[1, 2]))
        );
        println!("{} ({}): documents", t.name, t.slug);
        let rows = v
            .documents
            .iter()
            .map(|(title, status)| vec![status.clone(), title.clone()])
            .collect();
        print!("{}", indent(&table(&["status", "title"], rows, &[])));
        println!(
            "{} ({}): search {SEARCH_QUERY:?} (document embeddings, cosine)",
            t.name, t.slug
        );
        let rows = v
            .search
            .iter()
            .map(|(title, chunk, d)| vec![format!("{d:.3}"), title.clone(), truncate(chunk, 60)])
            .collect();
        print!(
            "{}",
            indent(&table(&["distance", "document", "chunk"], rows, &[0]))
        );
    }

    println!();
    println!("Proof of isolation: each tenant goes after the other's known rows.");
    let mut results = prove(&pool, a, b, &tables).await?;
    results.extend(prove(&pool, b, a, &tables).await?);
    let failed: Vec<&String> = results
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(w, _)| w)
        .collect();
    println!();
    if failed.is_empty() {
        println!(
            "All {} checks passed: {} and {} each see only their own rows.",
            results.len(),
            a.slug,
            b.slug
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("ISOLATION BREACH: {} check(s) failed:", failed.len());
        for f in failed {
            println!("  {f}");
        }
        println!("Run `rowguard doctor` on this database.");
        Ok(ExitCode::from(1))
    }
}

fn money(minor: i64, currency: &str) -> String {
    let major = minor / 100;
    let digits = major.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped} {currency}")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

/// An aligned text table: a header, a rule, then the rows; the columns listed in
/// `right` are right-aligned (numbers).
pub fn table(headers: &[&str], rows: Vec<Vec<String>>, right: &[usize]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let pad = w.saturating_sub(cell.chars().count());
            if right.contains(&i) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i != last {
                    out.push_str(&" ".repeat(pad));
                }
            }
            if i != last {
                out.push_str("  ");
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.to_vec());
    out.push_str(&line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    ));
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
