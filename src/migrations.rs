//! The schema migrations, embedded so `rowguard migrate` needs no diesel_cli.
//!
//! They are the very files under `migrations/` that `diesel migration run` applies.

use std::collections::BTreeSet;

use diesel::migration::MigrationSource;
use diesel::pg::{Pg, PgConnection};
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

/// Applies rowguard's pending migrations, then those of an application crate (`app`:
/// its own `embed_migrations!()`, or any migration source), and returns the versions it ran, in order.
///
/// Both sets record their versions in the same `__diesel_schema_migrations` table, as
/// `diesel migration run` does when it is given the two directories one after the
/// other. A version in both sets would make one of the two migrations count as applied
/// when the other is: it is refused before anything runs. Run it as the role that owns
/// the tables (`rowguard.protect_table` requires it).
///
/// # Errors
/// [`crate::Error::Migration`] when a version is in both sets or a migration fails
/// (that migration's transaction rolls back; the ones before it stay applied).
pub fn run_pending_with<S: MigrationSource<Pg>>(
    conn: &mut PgConnection,
    app: &S,
) -> crate::Result<Vec<String>> {
    check_versions(app)?;
    let mut ran = run_pending(conn)?;
    let theirs = conn
        .run_pending_migrations(ByRef(app))
        .map_err(|e| crate::Error::Migration(e.to_string()))?;
    ran.extend(theirs.into_iter().map(|v| v.to_string()));
    Ok(ran)
}

/// Reverts every applied migration of rowguard's and `app`'s, newest version first,
/// down to an empty schema, and returns the versions it reverted.
///
/// # Errors
/// [`crate::Error::Migration`] when a migration fails to revert, or when the newest
/// applied version is in neither set.
pub fn revert_all_with<S: MigrationSource<Pg>>(
    conn: &mut PgConnection,
    app: &S,
) -> crate::Result<Vec<String>> {
    let theirs = versions(app)?;
    let mut reverted = Vec::new();
    loop {
        let applied = conn
            .applied_migrations()
            .map_err(|e| crate::Error::Migration(e.to_string()))?;
        let Some(newest) = applied.iter().max().map(|v| v.to_string()) else {
            return Ok(reverted);
        };
        let version = if theirs.contains(&newest) {
            conn.revert_last_migration(ByRef(app))
        } else {
            conn.revert_last_migration(MIGRATIONS)
        }
        .map_err(|e| crate::Error::Migration(e.to_string()))?;
        reverted.push(version.to_string());
    }
}

/// The versions of a set of migrations.
fn versions(source: &impl MigrationSource<Pg>) -> crate::Result<BTreeSet<String>> {
    Ok(source
        .migrations()
        .map_err(|e| crate::Error::Migration(e.to_string()))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

/// Refuses versions that are in both rowguard's migrations and `app`'s.
fn check_versions(app: &impl MigrationSource<Pg>) -> crate::Result<()> {
    let ours = versions(&MIGRATIONS)?;
    let both: Vec<String> = versions(app)?.intersection(&ours).cloned().collect();
    if both.is_empty() {
        Ok(())
    } else {
        Err(crate::Error::Migration(format!(
            "versions in both rowguard's migrations and the application's: {}; rename the application's migration directories to a later date",
            both.join(", ")
        )))
    }
}

/// A borrowed migration source, so one source serves several harness calls (diesel's
/// take theirs by value, and `EmbeddedMigrations` is neither `Copy` nor `Clone`).
struct ByRef<'a, S>(&'a S);

impl<S: MigrationSource<Pg>> MigrationSource<Pg> for ByRef<'_, S> {
    fn migrations(
        &self,
    ) -> diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<Pg>>>> {
        self.0.migrations()
    }
}
