//! The commands behind `rowguard`'s subcommands, and how their errors become exit codes.

use std::process::ExitCode;

use diesel::{Connection, PgConnection};
use rowguard::doctor::{diagnose, DoctorOptions};
use rowguard::Error;

/// Exit code for an error: 3 configuration or bad input, 4 database unreachable, 6 an
/// export file of another schema version, 7 a conflict with what exists (a tenant, a
/// slug, a host verified for another tenant, a duplicate), 8 an export file that is
/// damaged, edited or not an export, 9 a token that does not verify, 5 anything else.
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Config(_)
        | Error::InvalidInput(_)
        | Error::UnsafeLogin(_)
        | Error::UnknownTenant(_)
        | Error::NotFound => 3,
        Error::ConnectionLost(_) | Error::PoolTimeout(_) => 4,
        Error::SchemaMismatch { .. } => 6,
        Error::TenantExists(_) | Error::UniqueViolation { .. } => 7,
        Error::ExportFile(_) => 8,
        Error::InvalidToken => 9,
        _ => 5,
    }
}

/// The commands' async runtime: two worker threads, for the pools' connection tasks.
pub fn runtime() -> rowguard::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the async runtime: {e}")))
}

/// What a person can do about an error, where there is something to say.
pub fn hint(e: &Error) -> Option<&'static str> {
    match e {
        Error::Config(m) if m.contains("DATABASE_URL") => Some(
            "set DATABASE_URL, e.g. postgres://user@127.0.0.1:5432/app (`rowguard demo` needs none: it starts a private server)",
        ),
        Error::ConnectionLost(_) => Some("is the server running and DATABASE_URL right? `pg_isready -d \"$DATABASE_URL\"` tells"),
        Error::Config(m) if m.contains("ROWGUARD_ADMIN_URL is not set") => Some(
            "set ROWGUARD_ADMIN_URL to a login that is a member of rowguard_admin (and never the DATABASE_URL login)",
        ),
        Error::UnsafeLogin(_) => Some(
            "give DATABASE_URL a login that is a member of rowguard_app only (CREATE ROLE api LOGIN IN ROLE rowguard_app), and the admin login to ROWGUARD_ADMIN_URL",
        ),
        Error::Forbidden(m) if m.contains("set role") => Some(
            "the DATABASE_URL login must be a member of rowguard_app, and the ROWGUARD_ADMIN_URL login of rowguard_admin",
        ),
        Error::Migration(_) => Some("the migrating role must own the schema and be allowed to CREATE EXTENSION vector and CREATE ROLE"),
        Error::SchemaMismatch { .. } => Some(
            "restore into a database migrated to the file's schema version, or export again from one at this version",
        ),
        Error::TenantExists(_) => Some(
            "delete the tenant first (`rowguard tenant delete <slug> --yes`), or import a copy with --slug <new-slug>",
        ),
        _ => None,
    }
}

/// `ROWGUARD_ADMIN_URL`, the admin login's URL.
pub fn admin_url() -> rowguard::Result<String> {
    std::env::var("ROWGUARD_ADMIN_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| Error::Config("ROWGUARD_ADMIN_URL is not set".into()))
}

pub fn database_url() -> rowguard::Result<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| Error::Config("DATABASE_URL is not set".into()))
}

pub fn connect() -> rowguard::Result<PgConnection> {
    Ok(PgConnection::establish(&database_url()?)?)
}

pub fn migrate() -> rowguard::Result<ExitCode> {
    let mut conn = connect()?;
    let ran = rowguard::migrations::run_pending(&mut conn)?;
    if ran.is_empty() {
        println!("rowguard migrate: the schema is up to date");
    } else {
        for version in &ran {
            println!("applied {version}");
        }
        println!("rowguard migrate: applied {} migration(s)", ran.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn doctor(json: bool, app_roles: Vec<String>) -> rowguard::Result<ExitCode> {
    let mut conn = connect()?;
    let report = diagnose(
        &mut conn,
        &DoctorOptions {
            app_roles,
            ..DoctorOptions::default()
        },
    )?;
    if json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::InvalidInput(format!("cannot render the report: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", crate::report::render_doctor(&report));
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `rowguard search`: nearest embeddings for one tenant, acting as that tenant.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("query").required(true).args(["text", "vector_file"])))]
pub struct SearchArgs {
    /// The tenant to act as (its uuid).
    #[arg(long)]
    tenant: String,
    /// Which embeddings to search.
    #[arg(long, value_enum, default_value = "all")]
    kind: KindArg,
    /// How many hits.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Text to embed with all-MiniLM-L6-v2 (the local model the demo seed uses).
    #[arg(long)]
    text: Option<String>,
    /// A JSON file holding the query vector: an array of 1536 numbers.
    #[arg(long)]
    vector_file: Option<std::path::PathBuf>,
    /// Print the hits as a JSON array.
    #[arg(long)]
    json: bool,
    /// Exact scan, the shared HNSW index, the tenant's own HNSW index, or chosen from
    /// the tenant's row count and indexes.
    #[arg(long, value_enum, default_value = "auto")]
    strategy: StrategyArg,
    /// Fuse full-text and vector results (needs --text).
    #[arg(long, requires = "text")]
    hybrid: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum KindArg {
    Documents,
    Deals,
    Meetings,
    All,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum StrategyArg {
    Auto,
    Exact,
    Hnsw,
    TenantHnsw,
}

#[derive(serde::Serialize)]
struct JsonHit<'a> {
    kind: rowguard::search::Kind,
    id: uuid::Uuid,
    parent_id: uuid::Uuid,
    distance: f64,
    chunk: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
}

fn read_vector_file(path: &std::path::Path) -> rowguard::Result<Vec<f32>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::InvalidInput(format!("cannot read vector file {}: {e}", path.display()))
    })?;
    let values: Vec<f64> = serde_json::from_str(&text).map_err(|e| {
        Error::InvalidInput(format!(
            "vector file {} is not a JSON array of numbers: {e}",
            path.display()
        ))
    })?;
    Ok(values.into_iter().map(|x| x as f32).collect())
}

pub fn search(args: SearchArgs) -> rowguard::Result<ExitCode> {
    use rowguard::embed::Embedder;
    use rowguard::search::{HybridOptions, Kind, SearchOptions, Strategy};

    let tenant: rowguard::TenantId = args.tenant.parse()?;
    if args.hybrid && args.text.is_none() {
        return Err(Error::InvalidInput(
            "--hybrid needs --text (the words to match; the vector is embedded from them)".into(),
        ));
    }
    let kind = match args.kind {
        KindArg::Documents => Kind::Documents,
        KindArg::Deals => Kind::Deals,
        KindArg::Meetings => Kind::Meetings,
        KindArg::All => Kind::All,
    };
    let strategy = match args.strategy {
        StrategyArg::Auto => Strategy::Auto,
        StrategyArg::Exact => Strategy::Exact,
        StrategyArg::Hnsw => Strategy::Hnsw,
        StrategyArg::TenantHnsw => Strategy::TenantHnsw,
    };
    let vector = match (&args.text, &args.vector_file) {
        (_, Some(path)) => read_vector_file(path)?,
        (Some(text), None) => rowguard_testkit::embedder()?.embed_stored(text)?.to_vec(),
        (None, None) => return Err(Error::InvalidInput("give --text or --vector-file".into())),
    };
    // Checked before connecting: a bad vector file or k is the caller's to fix.
    rowguard::search::validate_embedding(
        &vector,
        rowguard::search::DIMENSIONS,
        rowguard::search::Metric::Cosine,
    )?;
    if args.k == 0 || args.k > rowguard::search::MAX_K {
        return Err(Error::InvalidInput(format!(
            "--k must be between 1 and {}, got {}",
            rowguard::search::MAX_K,
            args.k
        )));
    }
    let opts = SearchOptions::new(kind).strategy(strategy);
    let ctx = rowguard::TenantContext::new(tenant);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the async runtime: {e}")))?;
    let (hits, plans): (Vec<(rowguard::search::Hit, Option<f64>)>, _) =
        runtime.block_on(async {
            // bb8 needs the runtime to build the pool.
            let pool = crate::keys::tenant_pool(4, None).await?;
            if args.hybrid {
                let text = args.text.clone().unwrap_or_default();
                let hopts = HybridOptions {
                    search: opts.clone(),
                    ..HybridOptions::default()
                };
                let report = pool
                    .with_tenant(&ctx, async |conn| {
                        rowguard::search::hybrid_search_with_report(
                            conn, &text, &vector, args.k, &hopts,
                        )
                        .await
                    })
                    .await?;
                let hits = report
                    .hits
                    .into_iter()
                    .map(|h| {
                        let score = Some(h.score);
                        (
                            rowguard::search::Hit {
                                kind: h.kind,
                                id: h.id,
                                parent_id: h.parent_id,
                                chunk: h.chunk,
                                distance: h.distance,
                            },
                            score,
                        )
                    })
                    .collect();
                Ok::<_, Error>((hits, report.plans))
            } else {
                let report = pool
                    .with_tenant(&ctx, async |conn| {
                        rowguard::search::search_with_report(conn, &vector, args.k, &opts).await
                    })
                    .await?;
                Ok((
                    report.hits.into_iter().map(|h| (h, None)).collect(),
                    report.plans,
                ))
            }
        })?;
    if args.json {
        let out: Vec<JsonHit<'_>> = hits
            .iter()
            .map(|(h, score)| JsonHit {
                kind: h.kind,
                id: h.id,
                parent_id: h.parent_id,
                distance: h.distance,
                chunk: &h.chunk,
                score: *score,
            })
            .collect();
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| Error::InvalidInput(format!("cannot render the hits: {e}")))?;
        println!("{text}");
    } else {
        for p in &plans {
            eprintln!(
                "{}: {} ({} of ~{} rows: {})",
                p.kind, p.strategy, p.tenant_rows, p.table_rows, p.reason
            );
        }
        if hits.is_empty() {
            println!("no hits");
        }
        for (i, (h, score)) in hits.iter().enumerate() {
            let chunk: String = h.chunk.chars().take(80).collect();
            let score = score.map(|s| format!("  score {s:.4}")).unwrap_or_default();
            println!(
                "{:>3}. {:.4}{score}  {:<9} {}  (parent {})\n     {}",
                i + 1,
                h.distance,
                h.kind.as_str(),
                h.id,
                h.parent_id,
                chunk
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
