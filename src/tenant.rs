//! Tenant identity and the tenant-scoped connection.
//!
//! Isolation lives in PostgreSQL: every tenant table has a row-level security policy
//! comparing `tenant_id` with `app.tenant_id`. This module is the only place that sets
//! that value. It does so inside a transaction, with `set_config(..., true)` (the
//! function form of `SET LOCAL`) and bound parameters, so the setting ends with the
//! transaction and never outlives it on a pooled connection.
//!
//! Code that touches tenant tables takes a [`TenantConn`] (async) or a
//! [`TenantSyncConn`] (sync). Only the wrappers in this crate can create one, so a
//! function that asks for it cannot be handed a connection without a tenant.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::Connection;
use diesel_async::AsyncPgConnection;
use ref_cast::{ref_cast_custom, RefCastCustom};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// A new time-ordered (v7) id.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|e| Error::InvalidInput(format!(concat!("malformed ", $what, " {:?}: {}"), s, e)))
            }
        }
    };
}

id_newtype!(
    /// A tenant's id (`tenants.id`).
    ///
    /// ```
    /// let id: rowguard::TenantId = "0190b7a4-7c5e-7cc1-9b1c-6f0e2b0c1d2e".parse()?;
    /// assert!("not-a-uuid".parse::<rowguard::TenantId>().is_err());
    /// # Ok::<(), rowguard::Error>(())
    /// ```
    TenantId,
    "tenant id"
);

id_newtype!(
    /// A user's id (`users.id`) within a tenant.
    UserId,
    "user id"
);

/// A member's role within a tenant, from most to least privileged.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, diesel_derive_enum::DbEnum,
)]
#[ExistingTypePath = "crate::schema::sql_types::MemberRole"]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Owns the tenant: everything an admin can do, plus billing and deletion.
    Owner,
    /// Manages users, invites, integrations and automations.
    Admin,
    /// Reads and writes business rows.
    Member,
    /// Reads only.
    Viewer,
}

impl MemberRole {
    /// The role's name as stored in the database and in `app.role`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
            MemberRole::Viewer => "viewer",
        }
    }
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MemberRole {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "owner" => Ok(MemberRole::Owner),
            "admin" => Ok(MemberRole::Admin),
            "member" => Ok(MemberRole::Member),
            "viewer" => Ok(MemberRole::Viewer),
            other => Err(Error::InvalidInput(format!(
                "unknown member role {other:?} (expected owner, admin, member or viewer)"
            ))),
        }
    }
}

/// Who a transaction acts for: the tenant, and optionally the user and their role.
///
/// Becomes `app.tenant_id`, `app.user_id` and `app.role` for exactly one transaction.
///
/// ```
/// use rowguard::{MemberRole, TenantContext, TenantId, UserId};
/// let ctx = TenantContext::new(TenantId::new_v7())
///     .with_user(UserId::new_v7(), MemberRole::Member);
/// assert_eq!(ctx.role, Some(MemberRole::Member));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantContext {
    /// The tenant every statement is confined to.
    pub tenant_id: TenantId,
    /// The acting user, if any (a background job may act for the tenant as a whole).
    pub user_id: Option<UserId>,
    /// The acting user's role; role-tier policies read it.
    pub role: Option<MemberRole>,
}

impl TenantContext {
    /// A context for the tenant as a whole, with no user.
    pub const fn new(tenant_id: TenantId) -> Self {
        Self {
            tenant_id,
            user_id: None,
            role: None,
        }
    }

    /// The same context, acting as `user_id` with `role`.
    pub const fn with_user(mut self, user_id: UserId, role: MemberRole) -> Self {
        self.user_id = Some(user_id);
        self.role = Some(role);
        self
    }
}

/// Per-transaction timeouts, as PostgreSQL interval strings (`"5000ms"`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Timeouts {
    pub(crate) statement: Option<String>,
    pub(crate) idle_in_transaction: Option<String>,
}

type ContextQuery =
    diesel::query_builder::BoxedSqlQuery<'static, diesel::pg::Pg, diesel::query_builder::SqlQuery>;

/// Builds the one statement that sets a transaction's context: the role to act as
/// (`set_config('role', ..., true)` is `SET LOCAL ROLE`), `app.tenant_id`, `app.user_id`,
/// `app.role` and the timeouts. The SQL text depends only on which settings are
/// present; every value is a bound parameter.
fn context_query(settings: Vec<(&'static str, Option<String>)>) -> ContextQuery {
    let mut sql = String::from("SELECT 1");
    let mut values = Vec::new();
    for (name, value) in settings {
        if let Some(value) = value {
            values.push(value);
            sql.push_str(&format!(", set_config('{name}', ${}, true)", values.len()));
        }
    }
    let mut query = diesel::sql_query(sql).into_boxed();
    for value in values {
        query = query.bind::<Text, _>(value);
    }
    query
}

/// The context statement for a tenant transaction.
pub(crate) fn set_context_query(
    db_role: Option<&str>,
    ctx: &TenantContext,
    timeouts: Timeouts,
) -> ContextQuery {
    context_query(vec![
        ("role", db_role.map(str::to_owned)),
        ("app.tenant_id", Some(ctx.tenant_id.to_string())),
        (
            "app.user_id",
            Some(ctx.user_id.map(|u| u.to_string()).unwrap_or_default()),
        ),
        (
            "app.role",
            Some(ctx.role.map(|r| r.as_str().to_owned()).unwrap_or_default()),
        ),
        ("statement_timeout", timeouts.statement),
        (
            "idle_in_transaction_session_timeout",
            timeouts.idle_in_transaction,
        ),
    ])
}

/// The context statement for an admin transaction: the admin role, and no tenant.
pub(crate) fn set_admin_query(admin_role: &str, timeouts: Timeouts) -> ContextQuery {
    context_query(vec![
        ("role", Some(admin_role.to_owned())),
        ("app.tenant_id", Some(String::new())),
        ("app.user_id", Some(String::new())),
        ("app.role", Some(String::new())),
        ("statement_timeout", timeouts.statement),
        (
            "idle_in_transaction_session_timeout",
            timeouts.idle_in_transaction,
        ),
    ])
}

/// An async connection inside a tenant transaction.
///
/// Derefs to [`AsyncPgConnection`], so diesel-async queries run on it directly
/// (`query.load(conn)`); every statement is confined to the tenant by RLS. Only
/// [`crate::pool::TenantPool::with_tenant`] creates one.
#[derive(RefCastCustom)]
#[repr(transparent)]
pub struct TenantConn(AsyncPgConnection);

impl TenantConn {
    #[ref_cast_custom]
    pub(crate) fn wrap(conn: &mut AsyncPgConnection) -> &mut TenantConn;
}

impl Deref for TenantConn {
    type Target = AsyncPgConnection;
    fn deref(&self) -> &AsyncPgConnection {
        &self.0
    }
}

impl DerefMut for TenantConn {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.0
    }
}

/// A sync connection inside a tenant transaction: the twin of [`TenantConn`] for
/// scripts, migrations and tests. Only [`with_tenant_sync`] creates one.
#[derive(RefCastCustom)]
#[repr(transparent)]
pub struct TenantSyncConn(PgConnection);

impl TenantSyncConn {
    #[ref_cast_custom]
    pub(crate) fn wrap(conn: &mut PgConnection) -> &mut TenantSyncConn;
}

impl Deref for TenantSyncConn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl DerefMut for TenantSyncConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

/// Runs `f` in one transaction acting for `ctx`, on a sync connection.
///
/// The context is set by the transaction's first statement, with bound values, and is
/// gone when the transaction ends. Commits when `f` returns `Ok`, rolls back on `Err`
/// (and on panic, as the transaction is never committed). `db_role` is the PostgreSQL
/// role to act as for the transaction (normally `Some("rowguard_app")`), or `None` to
/// act as the login role itself.
///
/// ```no_run
/// use diesel::{Connection, PgConnection, QueryDsl, RunQueryDsl};
/// use rowguard::{tenant::with_tenant_sync, TenantContext, TenantId};
///
/// let mut conn = PgConnection::establish("postgres://app@localhost/app")?;
/// let ctx = TenantContext::new("0190b7a4-7c5e-7cc1-9b1c-6f0e2b0c1d2e".parse()?);
/// let n: i64 = with_tenant_sync(&mut conn, Some("rowguard_app"), &ctx, |conn| {
///     Ok(rowguard::schema::tasks::table.count().get_result(&mut **conn)?)
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn with_tenant_sync<R, F>(
    conn: &mut PgConnection,
    db_role: Option<&str>,
    ctx: &TenantContext,
    f: F,
) -> Result<R>
where
    F: FnOnce(&mut TenantSyncConn) -> Result<R>,
{
    conn.transaction(|conn| {
        diesel::RunQueryDsl::execute(set_context_query(db_role, ctx, Timeouts::default()), conn)?;
        f(TenantSyncConn::wrap(conn))
    })
}
