//! The `rowguard` command line: migrate, seed, check and demonstrate a database.
//!
//! Commands read `DATABASE_URL` (the tenant pool's login, or the owner for
//! `migrate` and `doctor`), `ROWGUARD_ADMIN_URL` (the admin login) and
//! `ROWGUARD_CONTEXT_KEY` where they need them. Exit codes: 0 success, 1 `doctor` found
//! breaches or `audit` found no rows, 2 usage error, 3 configuration error or bad input (`DATABASE_URL` unset, a
//! tenant that does not exist, a slug that names none),
//! 4 database unreachable, 5 any other failure, 6 `tenant import` of a file from another
//! schema version, 7 a conflict with what exists (`tenant import` over a tenant that
//! exists or onto a taken slug, a host verified for another tenant, a duplicate),
//! 8 `tenant export`/`import` with a file that cannot be written or read, is not an
//! export, or fails its checksums, 9 a token that does not verify. `demo` exits 1 if a
//! tenant could see the other's rows; `domain resolve` exits 1 when the host is for no
//! tenant.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod cli;
mod demo;
mod domain;
mod indexes;
mod jobs;
mod keys;
mod report;
mod tenant;

#[derive(Parser)]
#[command(
    name = "rowguard",
    version,
    about = "Multi-tenant PostgreSQL data layer: migrations, RLS checks, demo data and search"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply every pending migration (the same files `diesel migration run` applies).
    Migrate,
    /// Check a live database for every breach of rowguard's isolation rules.
    Doctor {
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
        /// The application role to check (and its login members); repeatable.
        #[arg(long = "app-role", default_value = "rowguard_app")]
        app_roles: Vec<String>,
    },
    /// Nearest embeddings for one tenant, acting as it (exact, HNSW or hybrid).
    Search(cli::SearchArgs),
    /// List and build the HNSW indexes of large tenants' own rows, which their
    /// searches use (needs DATABASE_URL as the table owner).
    Indexes {
        #[command(subcommand)]
        command: indexes::IndexesCommand,
    },
    /// Write demo data.
    Seed {
        #[command(subcommand)]
        what: Seed,
    },
    /// The quickstart: migrate, seed the demo tenants, then show two of them side by
    /// side and prove that neither sees the other's rows. With DATABASE_URL unset it
    /// runs on a private, throwaway PostgreSQL removed when it exits.
    Demo,
    /// Print a signed tenant context for another client (psql, a worker in another
    /// language). Reads ROWGUARD_CONTEXT_KEY, or the key through ROWGUARD_ADMIN_URL.
    Context(keys::ContextArgs),
    /// Manage the keys that sign tenant contexts (needs ROWGUARD_ADMIN_URL).
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Create, list, show, suspend, resume, close, delete, export and import tenants
    /// (needs ROWGUARD_ADMIN_URL).
    Tenant {
        #[command(subcommand)]
        command: tenant::TenantCommand,
    },
    /// Add, verify, promote, remove, list and resolve tenants' host names (needs
    /// ROWGUARD_ADMIN_URL; `resolve` needs DATABASE_URL).
    Domain {
        #[command(subcommand)]
        command: domain::DomainCommand,
    },
    /// A tenant's audit trail, newest first, by target, actor and time (needs
    /// ROWGUARD_ADMIN_URL). Exits 1 when nothing matched.
    Audit(audit::AuditArgs),
    /// The job queue: counts, dead letters, requeueing, enqueueing, and a worker for the
    /// demo's job kinds (needs ROWGUARD_ADMIN_URL; `enqueue` and `work` DATABASE_URL too).
    Jobs {
        #[command(subcommand)]
        command: jobs::JobsCommand,
    },
}

#[derive(Subcommand)]
enum Seed {
    /// Create (or complete) the demo tenants acme, globex and initech, with rows in every
    /// table. Idempotent. Creates the tenants through ROWGUARD_ADMIN_URL and writes their
    /// rows through DATABASE_URL (a member of rowguard_app).
    Demo,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROWGUARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let outcome = match cli.command {
        Command::Migrate => cli::migrate(),
        Command::Doctor { json, app_roles } => cli::doctor(json, app_roles),
        Command::Seed { what: Seed::Demo } => demo::seed_demo(),
        Command::Demo => demo::demo(),
        Command::Search(args) => cli::search(args),
        Command::Indexes { command } => indexes::indexes(command),
        Command::Context(args) => keys::context(args),
        Command::Keys { command } => keys::keys(command),
        Command::Tenant { command } => tenant::tenant(command),
        Command::Domain { command } => domain::domain(command),
        Command::Audit(args) => audit::audit(args),
        Command::Jobs { command } => jobs::jobs(command),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rowguard: {e}");
            if let Some(hint) = cli::hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
