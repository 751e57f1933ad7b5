//! The `rowguard` command line: migrate, seed, check and demonstrate a database.
//!
//! Every command reads `DATABASE_URL`. Exit codes: 0 success, 1 `doctor` found
//! breaches, 2 usage error, 3 configuration error (e.g. `DATABASE_URL` unset),
//! 4 database unreachable, 5 any other failure.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

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
        Command::Search(args) => cli::search(args),
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
