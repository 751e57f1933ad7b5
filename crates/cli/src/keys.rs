//! The pools the commands use, and the commands about signed contexts: `rowguard
//! context` (a context for psql or another language) and `rowguard keys rotate`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use diesel::sql_types::{Binary, Integer, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use rowguard::context::ContextKey;
use rowguard::pool::{AdminPool, PoolConfig, TenantPool};
use rowguard::{Error, MemberRole, Result, TenantContext, TenantId, UserId};

use crate::cli::runtime;

/// The admin pool, on `ROWGUARD_ADMIN_URL`.
pub fn admin_pool() -> Result<AdminPool> {
    PoolConfig::admin_from_env()?.max_size(2).build_admin()
}

/// The context key: `ROWGUARD_CONTEXT_KEY`, else the newest one in the database, read
/// through `admin` or, when `ROWGUARD_ADMIN_URL` is set, an admin pool of its own.
pub async fn context_key(admin: Option<&AdminPool>) -> Result<ContextKey> {
    if let Some(key) = ContextKey::from_env()? {
        return Ok(key);
    }
    if let Some(admin) = admin {
        return admin.context_key().await;
    }
    if std::env::var("ROWGUARD_ADMIN_URL").is_ok_and(|u| !u.trim().is_empty()) {
        return admin_pool()?.context_key().await;
    }
    Err(Error::Config(
        "no context key: set ROWGUARD_CONTEXT_KEY (printed by `rowguard keys rotate`), or \
         ROWGUARD_ADMIN_URL to read it from the database"
            .into(),
    ))
}

/// The tenant pool, on `DATABASE_URL`, signing with [`context_key`] (read through
/// `admin` when the environment has no key).
pub async fn tenant_pool(max_size: u32, admin: Option<&AdminPool>) -> Result<TenantPool> {
    let config = PoolConfig::from_env()?.max_size(max_size);
    let key = match &config.context_key {
        Some(key) => key.clone(),
        None => context_key(admin).await?,
    };
    config.context_key(key).build()
}

/// `rowguard context`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ContextArgs {
    /// The tenant to act for.
    #[arg(long)]
    tenant: String,
    /// The acting user (with --role); omit both for the tenant's service context.
    #[arg(long, requires = "role")]
    user: Option<String>,
    /// The user's role: owner, admin, member or viewer.
    #[arg(long, requires = "user")]
    role: Option<String>,
    /// How long the context may open transactions: 90s, 15m, 2h (default 5m).
    #[arg(long, default_value = "5m")]
    ttl: String,
    /// Print one SQL statement that sets the context (run it inside a transaction, as
    /// the application role).
    #[arg(long, conflicts_with = "json")]
    sql: bool,
    /// Print the settings and their values as JSON.
    #[arg(long)]
    json: bool,
}

/// Parses `90s`, `15m`, `2h` or `1d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| Error::InvalidInput(format!("not a duration: {s:?} (try 90s, 15m, 2h)")))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => {
            return Err(Error::InvalidInput(format!(
                "not a duration: {s:?} (try 90s, 15m, 2h)"
            )))
        }
    };
    if secs == 0 {
        return Err(Error::InvalidInput("a duration must be positive".into()));
    }
    Ok(Duration::from_secs(secs))
}

/// `rowguard context`: a signed context for another client.
pub fn context(args: ContextArgs) -> Result<ExitCode> {
    let tenant: TenantId = args.tenant.parse()?;
    let mut ctx = TenantContext::new(tenant);
    if let (Some(user), Some(role)) = (&args.user, &args.role) {
        ctx = ctx.with_user(user.parse::<UserId>()?, role.parse::<MemberRole>()?);
    }
    let ttl = parse_duration(&args.ttl)?;
    let key = runtime()?.block_on(context_key(None))?;
    let expires = SystemTime::now() + ttl;
    let signed = key.sign(&ctx, expires);
    if args.json {
        let expires_unix = expires
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let out = serde_json::json!({
            "settings": { "app.context": signed },
            "tenant_id": ctx.tenant_id,
            "user_id": ctx.user_id,
            "role": ctx.role,
            "key_id": key.id(),
            "expires_at_unix": expires_unix,
        });
        println!("{out}");
    } else if args.sql {
        // The value is rowguard's own: digits, hex, dashes, dots and a role name, so it
        // never needs quoting beyond the literal's quotes.
        println!("SELECT rowguard.tenant_gate(set_config('app.context', '{signed}', true));");
    } else {
        println!("{signed}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `rowguard keys`'s subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Add a new context key and retire the others after a grace period, during which
    /// both are valid. Prints the new ROWGUARD_CONTEXT_KEY. Needs ROWGUARD_ADMIN_URL.
    Rotate {
        /// How long contexts signed with the older keys stay valid: 90s, 15m, 2h.
        #[arg(long, default_value = "1h")]
        grace: String,
    },
    /// List the keys: id, created, retires.
    List,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    created_at: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    retires_at: Option<String>,
}

/// `rowguard keys ...`.
pub fn keys(command: KeysCommand) -> Result<ExitCode> {
    let rt = runtime()?;
    match command {
        KeysCommand::Rotate { grace } => {
            let grace = parse_duration(&grace)?;
            let text = rt.block_on(async {
                let admin = admin_pool()?;
                admin
                    .as_admin("rowguard keys rotate", async |conn| {
                        #[derive(QueryableByName)]
                        struct Next {
                            #[diesel(sql_type = Integer)]
                            id: i32,
                        }
                        // Serialises concurrent rotations.
                        diesel::sql_query("LOCK TABLE rowguard.context_keys IN EXCLUSIVE MODE")
                            .execute(conn)
                            .await?;
                        let next: Next = diesel::sql_query(
                            "SELECT coalesce(max(id), 0) + 1 AS id FROM rowguard.context_keys",
                        )
                        .get_result(conn)
                        .await?;
                        let id = u32::try_from(next.id)
                            .map_err(|_| Error::Config("key ids ran out".into()))?;
                        let (key, text) = ContextKey::generate(id)?;
                        let retires = chrono::Utc::now()
                            + chrono::Duration::from_std(grace).map_err(|_| {
                                Error::InvalidInput("the grace period is too long".into())
                            })?;
                        diesel::sql_query(
                            "UPDATE rowguard.context_keys SET retires_at = $1 \
                              WHERE retires_at IS NULL OR retires_at > $1",
                        )
                        .bind::<Timestamptz, _>(retires)
                        .execute(conn)
                        .await?;
                        diesel::sql_query(
                            "INSERT INTO rowguard.context_keys (id, inner_pad, outer_pad) \
                             VALUES ($1, $2, $3)",
                        )
                        .bind::<Integer, _>(next.id)
                        .bind::<Binary, _>(key.inner_pad())
                        .bind::<Binary, _>(key.outer_pad())
                        .execute(conn)
                        .await?;
                        Ok(text)
                    })
                    .await
            })?;
            eprintln!(
                "rowguard keys rotate: added a new key; older keys are refused after the grace period. \
                 Give the applications the new key before then:"
            );
            println!("ROWGUARD_CONTEXT_KEY={text}");
        }
        KeysCommand::List => {
            let rows: Vec<KeyRow> = rt.block_on(async {
                admin_pool()?
                    .as_admin("rowguard keys list", async |conn| {
                        Ok(diesel::sql_query(
                            "SELECT id, created_at::text AS created_at, retires_at::text AS retires_at \
                               FROM rowguard.context_keys ORDER BY id",
                        )
                        .load(conn)
                        .await?)
                    })
                    .await
            })?;
            for r in rows {
                println!(
                    "{}\tcreated {}\t{}",
                    r.id,
                    r.created_at,
                    r.retires_at
                        .map_or("active".to_owned(), |t| format!("retires {t}"))
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
