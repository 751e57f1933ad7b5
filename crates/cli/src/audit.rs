//! `rowguard audit`: a tenant's audit trail, newest first, read on the admin path
//! (`ROWGUARD_ADMIN_URL`, with a recorded reason), a page at a time.
//!
//! Exit codes a script can act on: 0 rows printed, 1 nothing matched, 3 bad input (a
//! slug that names no tenant, a bad time, id, limit or cursor), 4 unreachable, 5 other.

use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use rowguard::audit::{Actor, AuditLogEntry, AuditQuery, Cursor, MAX_LIMIT};
use rowguard::{Error, Result};
use serde_json::json;

use crate::keys::admin_pool;

/// `rowguard audit`'s arguments.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// The tenant's slug.
    #[arg(long)]
    tenant: String,
    /// Only rows about the row with this id.
    #[arg(long)]
    target: Option<String>,
    /// Only rows of this table.
    #[arg(long = "type")]
    target_type: Option<String>,
    /// Only rows by this actor: a user id (or `user:<id>`), or the actor text exactly
    /// (`service`, `admin:<reason>`, `db:<login>`).
    #[arg(long)]
    actor: Option<String>,
    /// Only rows written since: an RFC 3339 time, a date (`2026-12-01`, UTC), or an age
    /// (`90s`, `15m`, `2h`, `1d` ago).
    #[arg(long)]
    since: Option<String>,
    /// Only rows written before this time (same forms as --since).
    #[arg(long)]
    until: Option<String>,
    /// Rows per page (1 to 1000).
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// Continue after the cursor a previous page printed.
    #[arg(long)]
    after: Option<String>,
    /// Print JSON: `{"entries": [...], "next": cursor or null}`.
    #[arg(long)]
    json: bool,
}

/// Parses `--since` and `--until`: RFC 3339, a date (midnight UTC), or an age.
fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    let age = crate::keys::parse_duration(s).map_err(|_| {
        Error::InvalidInput(format!(
            "not a time: {s:?} (try 2026-12-01T09:00:00Z, 2026-12-01 or 2h)"
        ))
    })?;
    let age = chrono::Duration::from_std(age)
        .map_err(|_| Error::InvalidInput(format!("not a time: {s:?}")))?;
    Utc::now()
        .checked_sub_signed(age)
        .ok_or_else(|| Error::InvalidInput(format!("not a time: {s:?}")))
}

fn entry_json(e: &AuditLogEntry) -> serde_json::Value {
    json!({
        "id": e.id,
        "created_at": e.created_at,
        "actor": e.actor,
        "actor_user_id": e.actor_user_id,
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "changes": e.changes,
    })
}

/// The query the arguments ask for (checked before anything connects).
fn query(args: &AuditArgs) -> Result<AuditQuery> {
    if !(1..=MAX_LIMIT).contains(&args.limit) {
        return Err(Error::InvalidInput(format!(
            "--limit must be 1 to {MAX_LIMIT}, not {}",
            args.limit
        )));
    }
    let mut q = AuditQuery::new().limit(args.limit);
    if let Some(target) = &args.target {
        let id = uuid::Uuid::try_parse(target.trim())
            .map_err(|_| Error::InvalidInput(format!("--target is not a uuid: {target:?}")))?;
        q = q.target(id);
    }
    if let Some(table) = &args.target_type {
        q = q.target_type(table.clone());
    }
    if let Some(actor) = &args.actor {
        q = q.actor(actor.parse::<Actor>()?);
    }
    if let Some(t) = &args.since {
        q = q.since(parse_time(t)?);
    }
    if let Some(t) = &args.until {
        q = q.until(parse_time(t)?);
    }
    if let Some(c) = &args.after {
        q = q.after(c.parse::<Cursor>()?);
    }
    Ok(q)
}

/// Runs `rowguard audit`.
pub fn audit(args: AuditArgs) -> Result<ExitCode> {
    let q = query(&args)?;
    let rt = crate::cli::runtime()?;
    let page = rt.block_on(async {
        let admin = admin_pool()?;
        let tenant = crate::tenant::by_slug(&admin, &args.tenant).await?;
        let reason = format!("rowguard audit: read the audit trail of {}", tenant.slug);
        admin
            .as_admin(&reason, async |conn| q.run_admin(conn, tenant.id).await)
            .await
    })?;
    if args.json {
        let value = json!({
            "entries": page.entries.iter().map(entry_json).collect::<Vec<_>>(),
            "next": page.next.map(|c| c.to_string()),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
        );
    } else {
        for e in &page.entries {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                e.created_at.to_rfc3339(),
                e.actor,
                e.action,
                e.target_type,
                e.target_id.map(|id| id.to_string()).unwrap_or_default(),
                e.changes
            );
        }
        if let Some(next) = page.next {
            eprintln!("more: rowguard audit ... --after {next}");
        }
    }
    Ok(if page.entries.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
