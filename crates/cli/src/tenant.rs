//! `rowguard tenant ...`: the tenant lifecycle on the admin path (`ROWGUARD_ADMIN_URL`),
//! export and restore included, every command with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;

use rowguard::control::{self, TenantSpec};
use rowguard::models::{Tenant, TenantPlan, TenantStatus};
use rowguard::pool::AdminPool;
use rowguard::transfer::{self, ImportOptions};
use rowguard::{Error, Result};
use serde_json::json;

use crate::keys::admin_pool;

/// `rowguard tenant`'s commands.
#[derive(clap::Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant with its owner (idempotent by slug): prints its id, and whether
    /// it was created.
    Create {
        /// The slug: lowercase letters, digits and dashes.
        #[arg(long)]
        slug: String,
        /// The name shown to users.
        #[arg(long)]
        name: String,
        /// free, starter, pro or enterprise.
        #[arg(long, default_value = "free", value_parser = parse_plan)]
        plan: TenantPlan,
        /// The owner's e-mail.
        #[arg(long)]
        owner_email: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every tenant, by slug.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One tenant, with its settings.
    Show {
        /// The tenant's slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refuse the tenant's transactions until `resume`; its data stays.
    Suspend {
        /// The tenant's slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Admit a suspended or closed tenant's transactions again.
    Resume {
        /// The tenant's slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Close the tenant: its transactions are refused, its data stays until `delete`.
    Close {
        /// The tenant's slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete the tenant and every row of it; prints the rows removed per table.
    Delete {
        /// The tenant's slug.
        slug: String,
        /// Confirms the deletion (nothing is deleted without it).
        #[arg(long)]
        yes: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write every row of the tenant, from every tenant table, into a new SQLite file,
    /// read from one snapshot; prints the rows written per table.
    Export {
        /// The tenant's slug.
        slug: String,
        /// The file to write (it must not exist).
        #[arg(long)]
        to: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a tenant from an export file, in one transaction: with its original ids
    /// (it must not exist), or with --slug as a new tenant next to the original.
    Import {
        /// The export file.
        file: PathBuf,
        /// Import a copy under this new slug: fresh ids, references rewritten, sessions
        /// and pending invites left out.
        #[arg(long)]
        slug: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_plan(s: &str) -> std::result::Result<TenantPlan, String> {
    TenantPlan::ALL
        .iter()
        .copied()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| {
            let labels: Vec<&str> = TenantPlan::ALL.iter().map(|p| p.as_str()).collect();
            format!("not a plan: {s:?} (one of {})", labels.join(", "))
        })
}

fn tenant_json(t: &Tenant) -> serde_json::Value {
    json!({
        "id": t.id,
        "slug": t.slug,
        "name": t.name,
        "status": t.status,
        "plan": t.plan,
        "settings": t.settings,
        "created_at": t.created_at,
    })
}

pub(crate) fn print(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
        );
    } else {
        println!("{}", text());
    }
}

/// Runs a `rowguard tenant` command.
pub fn tenant(command: TenantCommand) -> Result<ExitCode> {
    let rt = crate::cli::runtime()?;
    rt.block_on(async {
        let admin = admin_pool()?;
        run(&admin, command).await
    })
}

/// The tenant with `slug`; a slug that names none is bad input (exit 3).
pub async fn by_slug(admin: &AdminPool, slug: &str) -> Result<Tenant> {
    control::find_by_slug(admin, slug)
        .await
        .map_err(|e| match e {
            Error::NotFound => Error::InvalidInput(format!("no tenant has the slug {slug:?}")),
            e => e,
        })
}

/// Suspend, resume or close: the status change, then the tenant as it now is.
async fn set_status(admin: &AdminPool, slug: &str, status: TenantStatus, json: bool) -> Result<()> {
    let t = by_slug(admin, slug).await?;
    let t = control::set_status(admin, t.id, status).await?;
    print(json, tenant_json(&t), || {
        format!("{}\t{}", t.slug, t.status)
    });
    Ok(())
}

async fn run(admin: &AdminPool, command: TenantCommand) -> Result<ExitCode> {
    use TenantStatus::{Active, Closed, Suspended};
    match command {
        TenantCommand::Create {
            slug,
            name,
            plan,
            owner_email,
            json,
        } => {
            let spec = TenantSpec::builder()
                .slug(slug)
                .name(name)
                .plan(plan)
                .owner_email(owner_email)
                .build();
            let made = control::provision(admin, &spec).await?;
            print(
                json,
                json!({"tenant": tenant_json(&made.tenant), "created": made.created,
                       "owner_id": made.owner.as_ref().map(|u| u.id)}),
                || {
                    format!(
                        "{}\t{}",
                        made.tenant.id,
                        if made.created { "created" } else { "exists" }
                    )
                },
            );
        }
        TenantCommand::List { json } => {
            let all = control::list(admin).await?;
            print(
                json,
                serde_json::Value::Array(all.iter().map(tenant_json).collect()),
                || {
                    all.iter()
                        .map(|t| {
                            format!("{}\t{}\t{}\t{}\t{}", t.slug, t.id, t.status, t.plan, t.name)
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        TenantCommand::Show { slug, json } => {
            let t = by_slug(admin, &slug).await?;
            print(json, tenant_json(&t), || {
                format!(
                    "slug      {}\nid        {}\nname      {}\nstatus    {}\nplan      {}\nsettings  {}\ncreated   {}",
                    t.slug, t.id, t.name, t.status, t.plan, t.settings, t.created_at
                )
            });
        }
        TenantCommand::Suspend { slug, json } => set_status(admin, &slug, Suspended, json).await?,
        TenantCommand::Resume { slug, json } => set_status(admin, &slug, Active, json).await?,
        TenantCommand::Close { slug, json } => set_status(admin, &slug, Closed, json).await?,
        TenantCommand::Delete { slug, yes, json } => {
            if !yes {
                return Err(Error::InvalidInput(format!(
                    "deleting {slug:?} removes every row of it: pass --yes to confirm"
                )));
            }
            let t = by_slug(admin, &slug).await?;
            let deletion = control::delete(admin, t.id).await?;
            print(
                json,
                json!({"tenant": t.id, "slug": t.slug, "rows": deletion.rows, "total": deletion.total()}),
                || {
                    let mut lines: Vec<String> = deletion
                        .rows
                        .iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(table, n)| format!("{table}\t{n}"))
                        .collect();
                    lines.push(format!("total\t{}", deletion.total()));
                    lines.join("\n")
                },
            );
        }
        TenantCommand::Export { slug, to, json } => {
            let t = by_slug(admin, &slug).await?;
            let report = transfer::export_tenant(admin, t.id, &to).await?;
            print(
                json,
                json!({"tenant": report.tenant, "slug": report.slug,
                       "schema_version": report.schema_version, "path": report.path,
                       "rows": report.rows, "total": report.total()}),
                || {
                    let mut lines = row_lines(&report.rows);
                    lines.push(format!("total\t{}", report.total()));
                    lines.push(format!("wrote {}", report.path.display()));
                    lines.join("\n")
                },
            );
        }
        TenantCommand::Import { file, slug, json } => {
            let report = transfer::import_tenant(admin, &file, &ImportOptions { slug }).await?;
            print(
                json,
                json!({"tenant": report.tenant, "slug": report.slug,
                       "copy_of": report.copy_of, "schema_version": report.schema_version,
                       "rows": report.rows, "left_out": report.left_out,
                       "total": report.total()}),
                || {
                    let mut lines = row_lines(&report.rows);
                    lines.push(format!("total\t{}", report.total()));
                    for (table, n) in &report.left_out {
                        lines.push(format!("left out\t{table}\t{n}"));
                    }
                    lines.push(format!("{}\t{}", report.slug, report.tenant));
                    lines.join("\n")
                },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `table<TAB>rows` for each table with rows.
fn row_lines(rows: &std::collections::BTreeMap<String, i64>) -> Vec<String> {
    rows.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(table, n)| format!("{table}\t{n}"))
        .collect()
}
