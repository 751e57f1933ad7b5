//! The crate's error type.
//!
//! Database failures are classified once, here, into variants a caller can act on:
//! a missing tenant, an RLS rejection, a constraint violation carrying its name, a lost
//! connection, a timeout. Everything else keeps diesel's error as its source.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};
use tokio_postgres::error::SqlState;

/// Shorthand for `Result<T, rowguard::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in rowguard.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tenant-scoped operation ran without a tenant context.
    #[error("no tenant context is set for this transaction")]
    NoTenant,

    /// No pooled connection became free within the checkout timeout.
    #[error("timed out after {0:?} waiting for a pooled connection")]
    PoolTimeout(std::time::Duration),

    /// The server closed the connection or could not be reached.
    #[error("the database connection was lost: {0}")]
    ConnectionLost(String),

    /// Row-level security or a missing grant refused the operation (SQLSTATE 42501).
    #[error("forbidden: {0}")]
    Forbidden(String),

    /// A unique constraint was violated.
    #[error("unique constraint {constraint} violated")]
    UniqueViolation {
        /// The constraint's name, as in the migrations.
        constraint: String,
    },

    /// A foreign key was violated: the parent does not exist in this tenant, or a child still does.
    #[error("foreign key {constraint} violated")]
    ForeignKeyViolation {
        /// The constraint's name, as in the migrations.
        constraint: String,
    },

    /// A check constraint (or a NOT NULL column) refused the row.
    #[error("check constraint {constraint} violated")]
    CheckViolation {
        /// The constraint's name (or the column, for NOT NULL).
        constraint: String,
    },

    /// Input was rejected: before anything was sent, or by the server as a data
    /// exception (SQLSTATE class 22: a bad value, a vector of the wrong length).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The statement was cancelled (SQLSTATE 57014): it ran past `statement_timeout`, or
    /// a cancel request stopped it. The transaction rolled back.
    #[error("statement timed out")]
    StatementTimeout,

    /// The context names a tenant that is suspended: the pool refuses its transactions
    /// (SQLSTATE RG001, raised by `rowguard.tenant_gate` in the context statement, so the
    /// check costs no round trip). Its data is untouched.
    #[error("tenant suspended: {0}")]
    TenantSuspended(String),

    /// The context names a tenant that is closed (SQLSTATE RG002).
    #[error("tenant closed: {0}")]
    TenantClosed(String),

    /// The context names a tenant that does not exist (SQLSTATE RG003): never an empty
    /// result for a tenant id that is wrong.
    #[error("unknown tenant: {0}")]
    UnknownTenant(String),

    /// The row asked for does not exist for this tenant.
    #[error("not found")]
    NotFound,

    /// A token (an invite's, a domain's verification token) is unknown, expired,
    /// already used or does not match. The cases are not told apart, so the error
    /// answers no question about tokens its caller does not hold.
    #[error("the token is not valid")]
    InvalidToken,

    /// Configuration could not be read or is inconsistent.
    #[error("configuration: {0}")]
    Config(String),

    /// A migration failed to apply or revert.
    #[error("migration failed: {0}")]
    Migration(String),

    /// The tenant pool's login could bypass row-level security (a superuser, a
    /// BYPASSRLS or admin-role member, a table owner, CREATEROLE, or allowed to create
    /// temporary tables); the message names each cause. See
    /// [`crate::pool::PoolConfig::allow_privileged_login`].
    #[error("unsafe login: {0}")]
    UnsafeLogin(String),

    /// The server's replies did not match the statements rowguard sent, so their
    /// results were not trusted and the connection was discarded. A bug in rowguard
    /// or in a proxy between it and the server; please report it.
    #[error("protocol: {0}")]
    Protocol(String),

    /// A tenant export file ([`crate::transfer`]) was made at another schema version
    /// than the database's, or its tables and columns differ from the database's: it
    /// is not restored.
    #[error("schema version mismatch: the file is at {file}, the database at {database}")]
    SchemaMismatch {
        /// The schema version the file records (with what differs, for a table or
        /// column mismatch).
        file: String,
        /// The database's schema version.
        database: String,
    },

    /// The tenant a restore would create exists already: a tenant with the same id,
    /// or the slug asked for is taken ([`crate::transfer::import_tenant`]).
    #[error("tenant exists: {0}")]
    TenantExists(String),

    /// A tenant export file could not be written or read, is not an export, or fails
    /// its row counts or checksums (a damaged or edited file); nothing was restored.
    #[error("export file: {0}")]
    ExportFile(String),

    /// A job's handler returned an error or panicked ([`crate::jobs`]); the job's
    /// transaction rolled back, and the worker records the failure.
    #[error("job failed: {0}")]
    JobFailed(String),

    /// A worker finished a job it no longer held: its lease had expired, and the reaper
    /// returned the job or another worker claimed it ([`crate::jobs`]). The job's
    /// transaction rolled back.
    #[error("the job's lease expired before it finished; its transaction rolled back")]
    LeaseLost,

    /// An embedder could not turn text into vectors: its model files, its inference,
    /// or the embedding service it calls ([`crate::embed::EmbedError`] says which).
    #[error("embedder: {0}")]
    Embedding(#[from] crate::embed::EmbedError),

    /// Any other database error.
    #[error(transparent)]
    Database(DieselError),
}

// diesel 2.3 does not expose the SQLSTATE of an error (diesel-rs/diesel#5232 is open).
// diesel-async maps a few SQLSTATEs to kinds (unique, foreign key, check, not null,
// serialization, read-only); the pool reads the rest off the wire (`pool/wire.rs`, `pool/coded.rs`),
// so every class here comes from a code or a kind, never from an error's text.
impl From<DieselError> for Error {
    fn from(err: DieselError) -> Self {
        Error::classify(err, |info| {
            crate::pool::code_of(info).or_else(|| crate::tenant::sync_sqlstate(info))
        })
    }
}

impl Error {
    /// Classifies a diesel error; `sqlstate` finds the SQLSTATE the server sent with a
    /// database error, if it is known.
    pub(crate) fn classify(
        err: DieselError,
        sqlstate: impl FnOnce(&dyn DatabaseErrorInformation) -> Option<SqlState>,
    ) -> Self {
        let (kind, info) = match err {
            DieselError::NotFound => return Error::NotFound,
            DieselError::BrokenTransactionManager => {
                return Error::ConnectionLost("the transaction manager is broken".to_owned())
            }
            DieselError::DatabaseError(kind, info) => (kind, info),
            other => return Error::Database(other),
        };
        let named = info.constraint_name().or(info.column_name());
        if let Some(code) = sqlstate(info.as_ref()) {
            if let Some(e) = Error::from_sqlstate(&code, info.message(), named) {
                return e;
            }
        }
        let constraint = || named.unwrap_or("").to_owned();
        // No code seen (the sync twin, or an error converted outside a pooled
        // transaction): diesel-async's and diesel's kinds, themselves from SQLSTATEs.
        match kind {
            DatabaseErrorKind::UniqueViolation => Error::UniqueViolation {
                constraint: constraint(),
            },
            DatabaseErrorKind::ForeignKeyViolation => Error::ForeignKeyViolation {
                constraint: constraint(),
            },
            DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                Error::CheckViolation {
                    constraint: constraint(),
                }
            }
            // No SQLSTATE: tokio-postgres lost the socket, or never reached the server.
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                Error::ConnectionLost(info.message().to_owned())
            }
            _ => Error::Database(DieselError::DatabaseError(kind, info)),
        }
    }

    /// The variant for a server error with SQLSTATE `code`, or `None` for codes with no
    /// variant of their own. `constraint` is the constraint (or, for NOT NULL, the
    /// column) the server named.
    pub(crate) fn from_sqlstate(
        code: &SqlState,
        message: &str,
        constraint: Option<&str>,
    ) -> Option<Error> {
        let constraint = || constraint.unwrap_or("").to_owned();
        Some(match code.code() {
            "42501" => Error::Forbidden(message.to_owned()),
            // rowguard.tenant_gate (policies/30_lookups.sql).
            "RG001" => Error::TenantSuspended(message.to_owned()),
            "RG002" => Error::TenantClosed(message.to_owned()),
            "RG003" => Error::UnknownTenant(message.to_owned()),
            "57014" => Error::StatementTimeout,
            // admin_shutdown (pg_terminate_backend, a fast shutdown), crash_shutdown,
            // cannot_connect_now
            "57P01" | "57P02" | "57P03" => Error::ConnectionLost(message.to_owned()),
            "23505" => Error::UniqueViolation {
                constraint: constraint(),
            },
            "23503" => Error::ForeignKeyViolation {
                constraint: constraint(),
            },
            "23514" | "23502" => Error::CheckViolation {
                constraint: constraint(),
            },
            c if c.starts_with("22") => Error::InvalidInput(message.to_owned()),
            _ => return None,
        })
    }
}

impl From<diesel::ConnectionError> for Error {
    fn from(err: diesel::ConnectionError) -> Self {
        Error::ConnectionLost(err.to_string())
    }
}

impl Error {
    /// True when retrying on a fresh connection may succeed (lost connection, pool timeout).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::ConnectionLost(_) | Error::PoolTimeout(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn the_sqlstate_decides_whatever_the_message_says() {
        let cases = [
            ("42501", "Zugriff verweigert", "Forbidden"),
            ("57014", "Anweisung abgebrochen", "StatementTimeout"),
            ("57P01", "Verbindung beendet", "ConnectionLost"),
            ("22P02", "ungültige Eingabesyntax", "InvalidInput"),
            ("2201W", "LIMIT darf nicht negativ sein", "InvalidInput"),
        ];
        for (code, message, want) in cases {
            let err = Error::classify(db_error(DatabaseErrorKind::Unknown, message), |_| {
                Some(SqlState::from_code(code))
            });
            assert!(format!("{err:?}").starts_with(want), "{code}: {err:?}");
        }
    }

    #[test]
    fn message_text_alone_classifies_nothing() {
        for message in [
            "permission denied for table tasks",
            "new row violates row-level security policy for table \"tasks\"",
            "canceling statement due to statement timeout",
            "terminating connection due to administrator command",
        ] {
            let err = Error::classify(db_error(DatabaseErrorKind::Unknown, message), |_| None);
            assert!(matches!(err, Error::Database(_)), "{message}: {err:?}");
        }
    }

    #[test]
    fn kinds_still_classify_without_a_code() {
        let err = Error::classify(db_error(DatabaseErrorKind::UniqueViolation, "dup"), |_| {
            None
        });
        assert!(matches!(err, Error::UniqueViolation { .. }), "{err:?}");
        let err = Error::classify(
            db_error(DatabaseErrorKind::ClosedConnection, "gone"),
            |_| None,
        );
        assert!(err.is_transient(), "{err:?}");
        let err = Error::classify(db_error(DatabaseErrorKind::Unknown, "dup"), |_| {
            Some(SqlState::UNIQUE_VIOLATION)
        });
        assert!(matches!(err, Error::UniqueViolation { .. }), "{err:?}");
    }
}
