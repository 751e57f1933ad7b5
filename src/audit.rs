//! The audit trail: reading `audit_log`, which the database writes itself.
//!
//! Every insert, update and delete on a tenant table fires trigger `audit`
//! (`rowguard.audit_row`, migration `2026-12-01-000017_audit`), which writes one
//! [`AuditLogEntry`] in the same transaction: the tenant, the actor (the verified user
//! of the context as `user:<uuid>`, `service` for the service context, `admin:<reason>`
//! on the admin path), the action (`insert`, `update`, `delete`), the table and the
//! row id, and the changed columns as `{"old": {...}, "new": {...}}` without secrets,
//! embedding vectors or generated columns. No role but the owner may change or delete
//! those rows.
//!
//! [`AuditQuery`] reads them newest first, by target, by actor and by time range, a
//! page at a time ([`AuditPage`], with an opaque [`Cursor`] to the next page):
//! through a tenant transaction ([`AuditQuery::run`], where the role tier lets owners
//! and admins read the log) or through the admin path ([`AuditQuery::run_admin`]).
//!
//! ```no_run
//! use rowguard::audit::AuditQuery;
//! # async fn demo(pool: rowguard::pool::TenantPool, ctx: rowguard::TenantContext, task: uuid::Uuid) -> rowguard::Result<()> {
//! let first = pool
//!     .with_tenant(&ctx, async |conn| AuditQuery::new().target(task).limit(20).run(conn).await)
//!     .await?;
//! if let Some(next) = first.next {
//!     let more = pool
//!         .with_tenant(&ctx, async |conn| {
//!             AuditQuery::new().target(task).limit(20).after(next).run(conn).await
//!         })
//!         .await?;
//!     # let _ = more;
//! }
//! # Ok(()) }
//! ```

use std::str::FromStr;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

pub use crate::models::AuditLogEntry;
pub use crate::page::Cursor;
use crate::pool::{AdminConn, TenantConn};
use crate::schema::audit_log;
use crate::{Error, Result, TenantId, UserId};

/// The tenant tables that carry no `audit` trigger by design: the log itself,
/// `embedding_counts` (kept by triggers: a count, not anyone's action) and `jobs` (the
/// queue's own bookkeeping, several writes per job; a handler's writes are audited as
/// the tenant's service context). `rowguard doctor` warns about any other tenant table
/// without the trigger.
pub const UNAUDITED_TABLES: &[&str] = &["audit_log", "embedding_counts", "jobs"];

/// The most rows one page may hold.
pub const MAX_LIMIT: i64 = 1000;

/// Rows per page unless [`AuditQuery::limit`] says otherwise.
pub const DEFAULT_LIMIT: i64 = 50;

/// Who acted, as [`AuditQuery::actor`] filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A user of the tenant: `actor_user_id`.
    User(UserId),
    /// The `actor` text exactly: `service`, `admin:<reason>`, `db:<login>`.
    Named(String),
}

impl FromStr for Actor {
    type Err = Error;

    /// A UUID (or `user:<uuid>`) is a user; any other non-blank text an actor name.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::InvalidInput("an empty actor".into()));
        }
        let id = s.strip_prefix("user:").unwrap_or(s);
        Ok(match id.parse::<UserId>() {
            Ok(user) => Actor::User(user),
            Err(_) => Actor::Named(s.to_owned()),
        })
    }
}

/// One page of audit rows, newest first.
#[derive(Clone, Debug)]
pub struct AuditPage {
    /// The rows, newest first (ties by id, highest first).
    pub entries: Vec<AuditLogEntry>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<Cursor>,
}

/// A query over the tenant's audit trail: filters, page size and where to start.
/// Every filter is optional; the rows come newest first.
#[derive(Clone, Debug)]
pub struct AuditQuery {
    target: Option<Uuid>,
    target_type: Option<String>,
    actor: Option<Actor>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: i64,
    after: Option<Cursor>,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self::new()
    }
}

type Boxed<'a> =
    audit_log::BoxedQuery<'a, Pg, diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<AuditLogEntry, Pg>>>;

impl AuditQuery {
    /// Every row of the tenant, [`DEFAULT_LIMIT`] at a time.
    pub fn new() -> Self {
        Self {
            target: None,
            target_type: None,
            actor: None,
            since: None,
            until: None,
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }

    /// Only rows about the row with this id (`target_id`).
    pub fn target(mut self, id: Uuid) -> Self {
        self.target = Some(id);
        self
    }

    /// Only rows about this table (`target_type`).
    pub fn target_type(mut self, table: impl Into<String>) -> Self {
        self.target_type = Some(table.into());
        self
    }

    /// Only rows written by this actor.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Only rows written at or after `at`.
    pub fn since(mut self, at: DateTime<Utc>) -> Self {
        self.since = Some(at);
        self
    }

    /// Only rows written before `at`.
    pub fn until(mut self, at: DateTime<Utc>) -> Self {
        self.until = Some(at);
        self
    }

    /// At most `n` rows per page (1 to [`MAX_LIMIT`]; others are refused when the
    /// query runs).
    pub fn limit(mut self, n: i64) -> Self {
        self.limit = n;
        self
    }

    /// The page that follows `cursor` (a previous page's [`AuditPage::next`]).
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// Runs the query in a tenant transaction: the tenant of `conn`'s context. The role
    /// tier decides who may read the log (owners, admins and the service context);
    /// anyone else gets an empty page.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a limit out of range; database errors as classified
    /// by [`Error`].
    pub async fn run(&self, conn: &mut TenantConn) -> Result<AuditPage> {
        let tenant = conn.context().tenant_id;
        let query = self.build(tenant)?;
        let rows = query.load(conn).await?;
        Ok(self.page(rows))
    }

    /// Runs the query on the admin path, for `tenant` (which must be named: the admin
    /// role sees every tenant's rows).
    ///
    /// # Errors
    /// As [`AuditQuery::run`].
    pub async fn run_admin(&self, conn: &mut AdminConn, tenant: TenantId) -> Result<AuditPage> {
        let query = self.build(tenant)?;
        let rows = query.load(conn).await?;
        Ok(self.page(rows))
    }

    /// The statement: one row more than the page, to know whether another follows.
    fn build(&self, tenant: TenantId) -> Result<Boxed<'static>> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(Error::InvalidInput(format!(
                "the page size must be 1 to {MAX_LIMIT}, not {}",
                self.limit
            )));
        }
        let mut q = audit_log::table
            .select(AuditLogEntry::as_select())
            .filter(audit_log::tenant_id.eq(tenant))
            .order_by((audit_log::created_at.desc(), audit_log::id.desc()))
            .limit(self.limit + 1)
            .into_boxed();
        if let Some(id) = self.target {
            q = q.filter(audit_log::target_id.eq(id));
        }
        if let Some(table) = &self.target_type {
            q = q.filter(audit_log::target_type.eq(table.clone()));
        }
        match &self.actor {
            Some(Actor::User(user)) => q = q.filter(audit_log::actor_user_id.eq(*user)),
            Some(Actor::Named(name)) => q = q.filter(audit_log::actor.eq(name.clone())),
            None => {}
        }
        if let Some(at) = self.since {
            q = q.filter(audit_log::created_at.ge(at));
        }
        if let Some(at) = self.until {
            q = q.filter(audit_log::created_at.lt(at));
        }
        if let Some(c) = self.after {
            // The first condition bounds the index range; the second is the keyset.
            q = q.filter(audit_log::created_at.le(c.created_at())).filter(
                audit_log::created_at
                    .lt(c.created_at())
                    .or(audit_log::id.lt(c.id())),
            );
        }
        Ok(q)
    }

    fn page(&self, mut rows: Vec<AuditLogEntry>) -> AuditPage {
        let more = usize::try_from(self.limit).is_ok_and(|n| rows.len() > n);
        if more {
            rows.pop();
        }
        let next = if more {
            rows.last().map(|e| Cursor::new(e.created_at, e.id))
        } else {
            None
        };
        AuditPage {
            entries: rows,
            next,
        }
    }
}

/// Leaves `tenant`'s rows out of the audit trail for the rest of this admin
/// transaction: deleting a tenant (its audit rows go with it), a bulk import (which
/// should write one summary row of its own instead). Sets `rowguard.audit_bulk`,
/// transaction-local; the trigger honours it only on the admin path, never in a
/// tenant transaction.
///
/// ```no_run
/// # async fn demo(admin: rowguard::pool::AdminPool, tenant: rowguard::TenantId) -> rowguard::Result<()> {
/// admin
///     .as_admin("import tenant data", async |conn| {
///         rowguard::audit::bulk(conn, tenant).await?;
///         // ... the import's inserts, not audited row by row
///         Ok(())
///     })
///     .await
/// # }
/// ```
///
/// # Errors
/// Database errors as classified by [`Error`].
pub async fn bulk(conn: &mut AdminConn, tenant: TenantId) -> Result<()> {
    diesel::sql_query("SELECT set_config('rowguard.audit_bulk', $1, true)")
        .bind::<Text, _>(tenant.as_uuid().to_string())
        .execute(conn)
        .await?;
    Ok(())
}
