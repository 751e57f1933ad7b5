//! Database errors that remember their SQLSTATE, wherever they travel.
//!
//! diesel's `DatabaseErrorInformation` has no SQLSTATE (diesel-rs/diesel#5232), and a
//! caller converts a diesel error into [`crate::Error`] with `?` wherever it likes: in
//! the closure, in a task it spawned, after the transaction. So every database error
//! that a [`crate::pool::TenantConn`] or [`crate::pool::AdminConn`] returns has its
//! information wrapped in a [`Coded`], which reads the code off the connection's wire
//! the moment the error arrives (when the matching `ErrorResponse` is certainly the
//! newest) and records it in a process-wide table keyed by the wrapper's address.
//! [`code_of`] looks it up; the entry is removed when the error is dropped, so an
//! address is never read for a different error.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use diesel::result::{DatabaseErrorInformation, Error as DieselError};
use tokio_postgres::error::SqlState;

use super::wire::Wire;

fn table() -> &'static Mutex<HashMap<usize, SqlState>> {
    static TABLE: OnceLock<Mutex<HashMap<usize, SqlState>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

fn key(info: &dyn DatabaseErrorInformation) -> usize {
    info as *const dyn DatabaseErrorInformation as *const () as usize
}

/// A database error's information together with its SQLSTATE.
struct Coded {
    inner: Box<dyn DatabaseErrorInformation + Send + Sync>,
}

impl Drop for Coded {
    fn drop(&mut self) {
        let me: &dyn DatabaseErrorInformation = self;
        table()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key(me));
    }
}

impl DatabaseErrorInformation for Coded {
    fn message(&self) -> &str {
        self.inner.message()
    }
    fn details(&self) -> Option<&str> {
        self.inner.details()
    }
    fn hint(&self) -> Option<&str> {
        self.inner.hint()
    }
    fn table_name(&self) -> Option<&str> {
        self.inner.table_name()
    }
    fn column_name(&self) -> Option<&str> {
        self.inner.column_name()
    }
    fn constraint_name(&self) -> Option<&str> {
        self.inner.constraint_name()
    }
    fn statement_position(&self) -> Option<i32> {
        self.inner.statement_position()
    }
}

/// Attaches the SQLSTATE that `wire` saw to a database error; other errors pass as
/// they are.
pub(crate) fn attach(err: DieselError, wire: &Wire) -> DieselError {
    match err {
        DieselError::DatabaseError(kind, info) => match wire.sqlstate(info.as_ref()) {
            Some(code) => {
                let coded: Box<Coded> = Box::new(Coded { inner: info });
                let me: &dyn DatabaseErrorInformation = &*coded;
                table()
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key(me), code);
                DieselError::DatabaseError(kind, coded)
            }
            None => DieselError::DatabaseError(kind, info),
        },
        other => other,
    }
}

/// The SQLSTATE attached to `info` by [`attach`], if any.
pub(crate) fn code_of(info: &dyn DatabaseErrorInformation) -> Option<SqlState> {
    table()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key(info))
        .cloned()
}
