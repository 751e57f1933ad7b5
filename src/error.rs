//! The crate's error type.
//!
//! Database failures are classified once, here, into variants a caller can act on:
//! a missing tenant, an RLS rejection, a constraint violation carrying its name, a lost
//! connection, a timeout. Everything else keeps diesel's error as its source.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

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

    /// Input was rejected before anything was sent to the database.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The statement ran past `statement_timeout` and was cancelled; the transaction rolled back.
    #[error("statement timed out")]
    StatementTimeout,

    /// The row asked for does not exist for this tenant.
    #[error("not found")]
    NotFound,

    /// Configuration could not be read or is inconsistent.
    #[error("configuration: {0}")]
    Config(String),

    /// A migration failed to apply or revert.
    #[error("migration failed: {0}")]
    Migration(String),

    /// Any other database error.
    #[error(transparent)]
    Database(DieselError),
}

// diesel 2.3 does not expose the SQLSTATE of an error (diesel-rs/diesel#5232 is open),
// only its kind and fields. Kinds and constraint names cover constraint violations and
// closed connections. The two SQLSTATEs diesel folds into `Unknown` that callers must
// tell apart (42501 insufficient_privilege, 57014 query_canceled) are recognised by
// the fixed English primary messages PostgreSQL emits for them; see `classify_unknown`.
impl From<DieselError> for Error {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Error::NotFound,
            DieselError::DatabaseError(kind, info) => {
                let constraint = || {
                    info.constraint_name()
                        .or(info.column_name())
                        .unwrap_or("")
                        .to_owned()
                };
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
                    DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand => {
                        Error::ConnectionLost(info.message().to_owned())
                    }
                    _ => match classify_unknown(info.message()) {
                        Some(e) => e,
                        None => Error::Database(DieselError::DatabaseError(kind, info)),
                    },
                }
            }
            DieselError::BrokenTransactionManager => {
                Error::ConnectionLost("the transaction manager is broken".to_owned())
            }
            other => Error::Database(other),
        }
    }
}

fn classify_unknown(message: &str) -> Option<Error> {
    // PostgreSQL's own messages for SQLSTATE 42501 (aclcheck_error's "permission
    // denied for ..." and "must be owner of ...", RLS WITH CHECK)
    // and 57014 (statement_timeout); server messages are English unless lc_messages,
    // a superuser-only setting, says otherwise.
    if message.starts_with("permission denied")
        || message.starts_with("must be owner of")
        || message.starts_with("new row violates row-level security policy")
        || message.starts_with("query would be affected by row-level security policy")
    {
        Some(Error::Forbidden(message.to_owned()))
    } else if message.starts_with("canceling statement due to statement timeout") {
        Some(Error::StatementTimeout)
    } else if message.starts_with("terminating connection")
        || message.starts_with("server closed the connection")
        || message.contains("connection closed")
    {
        Some(Error::ConnectionLost(message.to_owned()))
    } else {
        None
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
