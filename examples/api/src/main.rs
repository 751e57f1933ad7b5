//! `rowguard-example-api`: serves the example API on the demo data.
//!
//! With `DATABASE_URL` unset it starts a private, throwaway PostgreSQL (as
//! `rowguard demo` does); with it set (an owner login), it uses that database. Either
//! way it applies the migrations (rowguard's, then this crate's), seeds the demo
//! tenants, gives their users the password `rowguard-demo`, and listens.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use diesel::{Connection, PgConnection};
use rowguard_axum::{AdminState, Resolver};
use rowguard_example_api::{router, run_migrations, seed_passwords, AppState, DEMO_PASSWORD};

#[derive(Parser)]
#[command(version, about = "The rowguard example API, on the demo data")]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Requests to `<slug>.<base domain>` are for that tenant (sign-in takes the
    /// tenant from it, and a session of another tenant is refused there).
    #[arg(long, default_value = "demo.localhost")]
    base_domain: String,
    /// The admin routes' token (`/admin/...`); a random one, printed, when unset.
    #[arg(long, env = "ROWGUARD_API_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Tenant connections in the pool.
    #[arg(long, default_value_t = 16)]
    pool_size: u32,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,rowguard_example_api=info".into()),
        )
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let owner = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            println!("DATABASE_URL is unset: starting a private, throwaway PostgreSQL ...");
            rowguard_testkit::server::migrated_database("rowguard_api")?
        }
    };
    let ran = run_migrations(&mut PgConnection::establish(&owner)?)?;
    println!("Migrations: {} applied", ran.len());
    let logins = rowguard_testkit::server::prepare_database(&owner)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let (admin, tenants) = logins.pools(args.pool_size).await?;
        let seeded = rowguard_testkit::seed::demo(&tenants, &admin).await?;
        for t in &seeded.tenants {
            seed_passwords(&tenants, t.id, DEMO_PASSWORD).await?;
        }
        let resolver = Resolver::builder(tenants.clone())
            .base_domain(args.base_domain.clone())
            .build()?;
        let embedder = Arc::new(rowguard::embed::MiniLm::from_env()?);
        let admin_token = match args.admin_token {
            Some(t) => t,
            None => {
                let t = format!("rga_{}", uuid::Uuid::new_v4().simple());
                println!("Admin token (for /admin/...; set ROWGUARD_API_ADMIN_TOKEN to choose it): {t}");
                t
            }
        };
        let admin = AdminState::new(admin).token("operator", &admin_token);
        let app = router(AppState::new(tenants, admin, resolver, embedder));
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let addr = listener.local_addr()?;
        let port = addr.port();
        println!("Listening on http://{addr} (OpenAPI: http://{addr}/openapi.json)");
        println!("Demo users sign in with the password {DEMO_PASSWORD:?}, for example:");
        println!(
            "  curl -s http://acme.{}:{port}/sign-in -H 'content-type: application/json' \\\n    -d '{{\"email\": \"dana.whitfield@acme-logistics.example\", \"password\": \"{DEMO_PASSWORD}\"}}'",
            args.base_domain
        );
        println!("then: curl -s http://acme.{}:{port}/documents -H \"authorization: Bearer $TOKEN\"", args.base_domain);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

/// Resolves on Ctrl-C or SIGTERM: the server stops accepting, lets the requests in
/// flight finish, and the private PostgreSQL (if any) is removed on exit.
async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
