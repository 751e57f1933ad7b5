//! `rowguard domain ...`: a tenant's host names on the admin path (`ROWGUARD_ADMIN_URL`),
//! and `domain resolve`, which asks as the application would (`DATABASE_URL`).

use std::process::ExitCode;

use rowguard::domains;
use rowguard::models::Domain;
use rowguard::resolve::Resolver;
use rowguard::Result;
use serde_json::json;

use crate::keys::{admin_pool, tenant_pool};
use crate::tenant::{by_slug, print};

/// `rowguard domain`'s commands.
#[derive(clap::Subcommand, Debug)]
pub enum DomainCommand {
    /// Add a host name to a tenant, unverified; prints the verification token, once.
    Add {
        /// The tenant's slug.
        slug: String,
        /// The host name (a port or trailing dot is dropped).
        host: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a host with the token `add` printed (as found published for the host).
    Verify {
        /// The tenant's slug.
        slug: String,
        /// The host name.
        host: String,
        /// The verification token.
        token: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a verified host the tenant's primary one.
    Primary {
        /// The tenant's slug.
        slug: String,
        /// The host name.
        host: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a host from a tenant.
    Remove {
        /// The tenant's slug.
        slug: String,
        /// The host name.
        host: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A tenant's host names.
    List {
        /// The tenant's slug.
        slug: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The tenant a request to HOST is for (a verified host, or <slug>.<base domain>),
    /// resolved as the application resolves it; exits 1 when it is for none.
    Resolve {
        /// The host, as in a request's Host header.
        host: String,
        /// The domain whose sub-domains are tenant slugs.
        #[arg(long, env = "ROWGUARD_BASE_DOMAIN")]
        base_domain: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn domain_json(d: &Domain) -> serde_json::Value {
    json!({
        "tenant_id": d.tenant_id,
        "id": d.id,
        "host": d.host,
        "verified_at": d.verified_at,
        "is_primary": d.is_primary,
        "created_at": d.created_at,
    })
}

fn domain_line(d: &Domain) -> String {
    format!(
        "{}\t{}\t{}",
        d.host,
        if d.verified_at.is_some() {
            "verified"
        } else {
            "unverified"
        },
        if d.is_primary { "primary" } else { "-" }
    )
}

/// Runs a `rowguard domain` command.
pub fn domain(command: DomainCommand) -> Result<ExitCode> {
    let rt = crate::cli::runtime()?;
    rt.block_on(run(command))
}

async fn run(command: DomainCommand) -> Result<ExitCode> {
    if let DomainCommand::Resolve {
        host,
        base_domain,
        json,
    } = command
    {
        let pool = tenant_pool(1, None).await?;
        let mut resolver = Resolver::builder(pool).ttl(std::time::Duration::ZERO);
        if let Some(base) = base_domain.filter(|b| !b.trim().is_empty()) {
            resolver = resolver.base_domain(base);
        }
        let tenant = resolver.build()?.host(&host).await?;
        print(json, json!({"host": host, "tenant_id": tenant}), || {
            tenant.map_or("none".to_owned(), |t| t.to_string())
        });
        return Ok(if tenant.is_some() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let admin = admin_pool()?;
    match command {
        DomainCommand::Add { slug, host, json } => {
            let t = by_slug(&admin, &slug).await?;
            let added = domains::add(&admin, t.id, &host).await?;
            let token = added.token.into_string();
            print(
                json,
                json!({"domain": domain_json(&added.domain), "verification_token": token}),
                || format!("{}\t{token}", added.domain.host),
            );
        }
        DomainCommand::Verify {
            slug,
            host,
            token,
            json,
        } => {
            let t = by_slug(&admin, &slug).await?;
            let d = domains::verify(&admin, t.id, &host, &token).await?;
            print(json, domain_json(&d), || domain_line(&d));
        }
        DomainCommand::Primary { slug, host, json } => {
            let t = by_slug(&admin, &slug).await?;
            let d = domains::set_primary(&admin, t.id, &host).await?;
            print(json, domain_json(&d), || domain_line(&d));
        }
        DomainCommand::Remove { slug, host, json } => {
            let t = by_slug(&admin, &slug).await?;
            let d = domains::remove(&admin, t.id, &host).await?;
            print(json, json!({"removed": domain_json(&d)}), || {
                format!("{}\tremoved", d.host)
            });
        }
        DomainCommand::List { slug, json } => {
            let t = by_slug(&admin, &slug).await?;
            let all = domains::list(&admin, t.id).await?;
            print(
                json,
                serde_json::Value::Array(all.iter().map(domain_json).collect()),
                || all.iter().map(domain_line).collect::<Vec<_>>().join("\n"),
            );
        }
        DomainCommand::Resolve { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}
