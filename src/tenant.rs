//! Tenant identity and the tenant-scoped connection.
//!
//! Isolation lives in PostgreSQL: every tenant table has a row-level security policy
//! comparing `tenant_id` with the tenant of the transaction's signed context
//! (`app.context`, [`crate::context`]), which the policies verify. This module builds the
//! statement that sets it, inside a transaction, with `set_config(..., true)` (the
//! function form of `SET LOCAL`) and bound parameters, so the setting ends with the
//! transaction and never outlives it on a pooled connection.
//!
//! Code that touches tenant tables takes a [`TenantConn`] (async) or a
//! [`TenantSyncConn`] (sync). Only the wrappers in this crate can create one, so a
//! function that asks for it cannot be handed a connection without a tenant.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use diesel::sql_types::Text;
use diesel::Connection;
use ref_cast::{ref_cast_custom, RefCastCustom};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// In rows and queries it is a `uuid` column (`ToSql`/`FromSql` for
        /// `diesel::sql_types::Uuid`), and it serializes as the UUID string.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                <Uuid as diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::from_sql(value)
                    .map(Self)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <Uuid as diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::to_sql(&self.0, out)
            }
        }

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
    /// Every role, most privileged first.
    pub const ALL: &'static [MemberRole] = &[
        MemberRole::Owner,
        MemberRole::Admin,
        MemberRole::Member,
        MemberRole::Viewer,
    ];

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
/// Becomes the signed `app.context` of exactly one transaction. The database admits
/// the tenant's service context (no user, no role) and a role with or without a user;
/// a user without a role is refused (`Error::Forbidden`, SQLSTATE 42501) on the first
/// statement that reads a tenant table.
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

    /// A context from an incoming tenant id as text (a header, a token claim):
    /// [`Error::NoTenant`] when it is absent or blank, [`Error::InvalidInput`] when it
    /// is not a UUID.
    ///
    /// ```
    /// use rowguard::{Error, TenantContext};
    /// assert!(matches!(TenantContext::from_request(None), Err(Error::NoTenant)));
    /// assert!(matches!(TenantContext::from_request(Some("  ")), Err(Error::NoTenant)));
    /// assert!(matches!(TenantContext::from_request(Some("42")), Err(Error::InvalidInput(_))));
    /// let ctx = TenantContext::from_request(Some("0190b7a4-7c5e-7cc1-9b1c-6f0e2b0c1d2e"))?;
    /// # Ok::<(), rowguard::Error>(())
    /// ```
    pub fn from_request(tenant_id: Option<&str>) -> Result<Self> {
        match tenant_id.map(str::trim).filter(|s| !s.is_empty()) {
            None => Err(Error::NoTenant),
            Some(id) => Ok(Self::new(id.parse()?)),
        }
    }

    /// The same context, acting as `user_id` with `role`.
    pub const fn with_user(mut self, user_id: UserId, role: MemberRole) -> Self {
        self.user_id = Some(user_id);
        self.role = Some(role);
        self
    }
}

/// Per-transaction timeouts, as PostgreSQL interval strings (`"5000ms"`); `None` keeps
/// the server's setting.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timeouts {
    pub(crate) statement: Option<String>,
    pub(crate) idle_in_transaction: Option<String>,
}

/// The one statement that sets a transaction's context: the role to act as
/// (`set_config('role', ..., true)` is `SET LOCAL ROLE`; `'none'` keeps the login role),
/// the signed context `app.context` ([`crate::context`]), passed through
/// `rowguard.tenant_gate` (which refuses a tenant that does not exist, is suspended or
/// is closed: [`Error::UnknownTenant`], [`Error::TenantSuspended`],
/// [`Error::TenantClosed`]), the two timeouts (NULL keeps the current value), and
/// `rowguard.admin_reason`: the admin transaction's reason, which the audit trigger
/// records as its actor (empty in tenant transactions, where the trigger ignores it
/// anyway and records the verified user).
///
/// Its SQL is one constant string: the setting names and `true` are literals, and the
/// five values are bound, so it is prepared once per connection, cached by its type,
/// and each use costs five binds.
#[derive(Debug, Clone, diesel::query_builder::QueryId)]
pub(crate) struct ContextStatement {
    db_role: Option<String>,
    context: String,
    statement_timeout: Option<String>,
    idle_in_transaction_timeout: Option<String>,
    admin_reason: String,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for ContextStatement {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        use diesel::sql_types::Nullable;
        out.push_sql("SELECT set_config('role', coalesce(");
        out.push_bind_param::<Nullable<Text>, _>(&self.db_role)?;
        out.push_sql(", 'none'), true), rowguard.tenant_gate(set_config('app.context', ");
        out.push_bind_param::<Text, _>(&self.context)?;
        out.push_sql(", true)), set_config('statement_timeout', coalesce(");
        out.push_bind_param::<Nullable<Text>, _>(&self.statement_timeout)?;
        out.push_sql(
            ", current_setting('statement_timeout')), true), \
             set_config('idle_in_transaction_session_timeout', coalesce(",
        );
        out.push_bind_param::<Nullable<Text>, _>(&self.idle_in_transaction_timeout)?;
        out.push_sql(
            ", current_setting('idle_in_transaction_session_timeout')), true), \
             set_config('rowguard.admin_reason', ",
        );
        out.push_bind_param::<Text, _>(&self.admin_reason)?;
        out.push_sql(", true)");
        Ok(())
    }
}

/// The context statement from its parts: for a tenant transaction, `context` is the
/// signed context; for an admin transaction ([`set_admin_query`]), empty.
pub(crate) fn context_query(
    db_role: Option<&str>,
    context: String,
    timeouts: Timeouts,
) -> ContextStatement {
    ContextStatement {
        db_role: db_role.map(str::to_owned),
        context,
        statement_timeout: timeouts.statement,
        idle_in_transaction_timeout: timeouts.idle_in_transaction,
        admin_reason: String::new(),
    }
}

/// The context statement for an admin transaction: the admin role, no tenant, and the
/// reason the audit trigger records (`admin:<reason>`).
pub(crate) fn set_admin_query(
    admin_role: &str,
    reason: &str,
    timeouts: Timeouts,
) -> ContextStatement {
    ContextStatement {
        admin_reason: reason.to_owned(),
        ..context_query(Some(admin_role), String::new(), timeouts)
    }
}

pub use crate::pool::TenantConn;

/// A sync connection that can run tenant transactions ([`with_tenant_sync`]), for
/// scripts, jobs and tests without an async runtime of their own.
///
/// It is diesel-async's connection behind diesel's sync `Connection` (diesel-async's
/// `AsyncConnectionWrapper`), opened through the pool's tapped socket: TLS as the URL's
/// `sslmode` asks, and every error's SQLSTATE read off the wire, so errors inside
/// [`with_tenant_sync`] are classified as the pool's are. It runs its own one-worker
/// tokio runtime.
pub struct SyncConnection {
    conn: SyncInner,
    wire: std::sync::Arc<crate::pool::wire::Wire>,
    // Dropped after the connection, whose task runs on it.
    _runtime: tokio::runtime::Runtime,
}

type SyncInner =
    diesel_async::async_connection_wrapper::AsyncConnectionWrapper<diesel_async::AsyncPgConnection>;

impl fmt::Debug for SyncConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncConnection").finish_non_exhaustive()
    }
}

impl SyncConnection {
    /// Connects to `url` (libpq URL or key/value form, `sslmode` included).
    pub fn establish(url: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start a runtime: {e}")))?;
        let (conn, wire) = runtime.block_on(crate::pool::wire::connect(url))?;
        // Inside the runtime, the wrapper blocks on this runtime's handle, whose worker
        // drives the connection task that `connect` spawned.
        let conn = {
            let _inside = runtime.enter();
            SyncInner::from(conn)
        };
        Ok(Self {
            conn,
            wire,
            _runtime: runtime,
        })
    }
}

/// A sync connection inside a tenant transaction: the twin of [`TenantConn`]. Only
/// [`with_tenant_sync`] creates one; it dereferences to a diesel sync `Connection`, so
/// diesel's sync `RunQueryDsl` runs on `&mut **conn`.
#[derive(RefCastCustom)]
#[repr(transparent)]
pub struct TenantSyncConn(SyncInner);

impl TenantSyncConn {
    #[ref_cast_custom]
    pub(crate) fn wrap(conn: &mut SyncInner) -> &mut TenantSyncConn;
}

impl Deref for TenantSyncConn {
    type Target = SyncInner;
    fn deref(&self) -> &SyncInner {
        &self.0
    }
}

impl DerefMut for TenantSyncConn {
    fn deref_mut(&mut self) -> &mut SyncInner {
        &mut self.0
    }
}

thread_local! {
    /// The wire of the sync connection whose tenant transaction runs on this thread,
    /// so that an error converted with `?` inside the closure is classified by its
    /// SQLSTATE ([`crate::Error`]'s `From<diesel::result::Error>`).
    static SYNC_WIRE: std::cell::RefCell<Option<std::sync::Arc<crate::pool::wire::Wire>>> =
        const { std::cell::RefCell::new(None) };
}

/// The SQLSTATE of `info`, when this thread runs a sync tenant transaction.
pub(crate) fn sync_sqlstate(
    info: &dyn diesel::result::DatabaseErrorInformation,
) -> Option<tokio_postgres::error::SqlState> {
    SYNC_WIRE.with(|w| w.borrow().as_ref().and_then(|wire| wire.sqlstate(info)))
}

/// Runs `f` in one transaction acting for `ctx`, signed with `key`, on a sync
/// connection.
///
/// The context is set by the transaction's first statement, with bound values, and is
/// gone when the transaction ends; it is valid for 60 s of transaction starts.
/// Commits when `f` returns `Ok`, rolls back on `Err` (and on panic, as the
/// transaction is never committed). `db_role` is the PostgreSQL role to act as for the
/// transaction (normally `Some("rowguard_app")`), or `None` to act as the login role.
/// Database errors `f` converts with `?` are classified by their SQLSTATE, as in the
/// pool.
///
/// ```no_run
/// use diesel::{QueryDsl, RunQueryDsl};
/// use rowguard::tenant::{with_tenant_sync, SyncConnection};
/// use rowguard::{context::ContextKey, TenantContext};
///
/// let mut conn = SyncConnection::establish("postgres://app@localhost/app")?;
/// let key: ContextKey = std::env::var("ROWGUARD_CONTEXT_KEY")?.parse()?;
/// let ctx = TenantContext::new("0190b7a4-7c5e-7cc1-9b1c-6f0e2b0c1d2e".parse()?);
/// let n: i64 = with_tenant_sync(&mut conn, &key, Some("rowguard_app"), &ctx, |conn| {
///     Ok(rowguard::schema::tasks::table.count().get_result(&mut **conn)?)
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn with_tenant_sync<R, F>(
    conn: &mut SyncConnection,
    key: &crate::context::ContextKey,
    db_role: Option<&str>,
    ctx: &TenantContext,
    f: F,
) -> Result<R>
where
    F: FnOnce(&mut TenantSyncConn) -> Result<R>,
{
    let signed = key.sign(ctx, std::time::SystemTime::now() + SYNC_CONTEXT_TTL);
    let wire = std::sync::Arc::clone(&conn.wire);
    let previous = SYNC_WIRE.with(|w| w.replace(Some(std::sync::Arc::clone(&wire))));
    let outcome = conn.conn.transaction(|conn| {
        diesel::query_dsl::methods::ExecuteDsl::<SyncInner>::execute(
            context_query(db_role, signed, Timeouts::default()),
            conn,
        )
        .map_err(|e| wire.error(e))?;
        f(TenantSyncConn::wrap(conn))
    });
    SYNC_WIRE.with(|w| w.replace(previous));
    outcome
}

/// How long the sync twin's contexts may open transactions.
const SYNC_CONTEXT_TTL: std::time::Duration = std::time::Duration::from_secs(60);
