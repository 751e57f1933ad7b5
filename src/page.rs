//! Keyset pagination over newest-first lists: a [`Cursor`] names the last row of a
//! page by its `(created_at, id)`, and the next page holds the rows strictly after it
//! in `created_at DESC, id DESC` order.
//!
//! Every model's default order is that order (`Task::list`, `Document::list`, the
//! audit trail), so the same cursor pages through any of them: filter with
//! `created_at < c.created_at() OR (created_at = c.created_at() AND id < c.id())`
//! (written with `created_at <= ...` first, so the `(tenant_id, created_at DESC, id
//! DESC)` indexes serve it).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Error, Result};

/// Where a page ended: the next page starts after this row, in newest-first order.
///
/// Opaque to clients: pass on the text [`fmt::Display`] prints and read it back with
/// [`str::parse`]; its contents may change between versions. Timestamps keep
/// microseconds, PostgreSQL's precision, so a cursor round-trips exactly.
///
/// ```
/// use rowguard::page::Cursor;
/// let c = Cursor::new(chrono::Utc::now(), uuid::Uuid::now_v7());
/// assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
/// assert!("not a cursor".parse::<Cursor>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    /// The cursor after the row created at `created_at` with `id` (sub-microsecond
    /// digits are dropped, as PostgreSQL stores none).
    pub fn new(created_at: DateTime<Utc>, id: Uuid) -> Self {
        let micros = created_at.timestamp_micros();
        Self {
            created_at: DateTime::from_timestamp_micros(micros).unwrap_or(created_at),
            id,
        }
    }

    /// The last row's `created_at`.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The last row's `id`.
    pub fn id(&self) -> Uuid {
        self.id
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:x}.{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        )
    }
}

impl FromStr for Cursor {
    type Err = Error;

    /// # Errors
    /// [`Error::InvalidInput`] for text no [`Cursor`] printed.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidInput(format!("not a page cursor: {s:?}"));
        let (micros, id) = s.split_once('.').ok_or_else(bad)?;
        let micros = i64::from_str_radix(micros, 16).map_err(|_| bad())?;
        let created_at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad)?;
        let id = Uuid::try_parse(id).map_err(|_| bad())?;
        Ok(Self { created_at, id })
    }
}
