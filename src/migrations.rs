//! The schema migrations, embedded so `rowguard migrate` needs no diesel_cli.
//!
//! They are the very files under `migrations/` that `diesel migration run` applies.

use diesel::pg::PgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// Every migration under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Applies every pending migration and returns the versions it ran.
///
/// ```no_run
/// use diesel::Connection;
/// let mut conn = diesel::PgConnection::establish("postgres://localhost/app")?;
/// let ran = rowguard::migrations::run_pending(&mut conn)?;
/// println!("applied {} migrations", ran.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_pending(conn: &mut PgConnection) -> crate::Result<Vec<String>> {
    let ran = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| crate::Error::Migration(e.to_string()))?;
    Ok(ran.into_iter().map(|v| v.to_string()).collect())
}

/// Reverts every applied migration, newest first, down to an empty schema.
pub fn revert_all(conn: &mut PgConnection) -> crate::Result<Vec<String>> {
    let reverted = conn
        .revert_all_migrations(MIGRATIONS)
        .map_err(|e| crate::Error::Migration(e.to_string()))?;
    Ok(reverted.into_iter().map(|v| v.to_string()).collect())
}
