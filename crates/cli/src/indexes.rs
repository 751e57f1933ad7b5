//! `rowguard indexes`: the per-tenant HNSW indexes (`rowguard::search::tenant_index`).
//! Runs as the table owner (`DATABASE_URL`, like `migrate`).

use std::process::ExitCode;

use clap::Subcommand;
use rowguard::search::tenant_index::{self, Change, SyncOptions};
use rowguard::Error;

#[derive(Subcommand)]
pub enum IndexesCommand {
    /// The per-tenant indexes, whether the search uses each, and their tenants' rows.
    List {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Build the index of every tenant above --min-rows in a table (CREATE INDEX
    /// CONCURRENTLY: writes go on), rebuild unusable ones, drop those of tenants that
    /// fell to half of it. Run it after bulk loads and on a schedule.
    Sync {
        /// Tenants with more rows than this get an index of their own (default: the
        /// search's exact-scan limit, 1500).
        #[arg(long)]
        min_rows: Option<u64>,
        /// maintenance_work_mem for the builds, e.g. 1GB.
        #[arg(long)]
        maintenance_work_mem: Option<String>,
        /// Print the changes without making them.
        #[arg(long)]
        dry_run: bool,
    },
}

fn describe(change: &Change) -> String {
    match change {
        Change::Create { tenant_rows, .. } => {
            format!("create {} ({tenant_rows} rows)", change.index_name())
        }
        Change::Rebuild { tenant_rows, .. } => format!(
            "rebuild {} (unusable; {tenant_rows} rows)",
            change.index_name()
        ),
        Change::Drop { tenant_rows, .. } => {
            format!("drop {} ({tenant_rows} rows left)", change.index_name())
        }
    }
}

pub fn indexes(command: IndexesCommand) -> rowguard::Result<ExitCode> {
    let mut conn = crate::cli::connect()?;
    match command {
        IndexesCommand::List { json } => {
            let all = tenant_index::list(&mut conn)?;
            if json {
                let text = serde_json::to_string_pretty(&all)
                    .map_err(|e| Error::InvalidInput(format!("cannot render the list: {e}")))?;
                println!("{text}");
            } else if all.is_empty() {
                println!("no per-tenant indexes");
            } else {
                for i in &all {
                    println!(
                        "{:<9} {}  {} rows  {:.1} MB  {}",
                        i.kind.as_str(),
                        i.tenant_id,
                        i.tenant_rows,
                        i.bytes as f64 / 1e6,
                        if i.usable {
                            "in use"
                        } else {
                            "UNUSABLE (sync rebuilds it)"
                        }
                    );
                }
            }
        }
        IndexesCommand::Sync {
            min_rows,
            maintenance_work_mem,
            dry_run,
        } => {
            let opts = SyncOptions {
                min_rows: min_rows.unwrap_or(SyncOptions::default().min_rows),
                maintenance_work_mem,
                dry_run,
            };
            let changes = tenant_index::sync(&mut conn, &opts, |change, took| {
                println!("{} in {:.1} s", describe(change), took.as_secs_f64());
            })?;
            if changes.is_empty() {
                println!(
                    "rowguard indexes sync: every tenant above {} rows has its index",
                    opts.min_rows
                );
            } else if dry_run {
                for c in &changes {
                    println!("would {}", describe(c));
                }
            } else {
                println!("rowguard indexes sync: {} change(s)", changes.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
