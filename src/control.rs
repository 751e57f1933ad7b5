//! The tenant lifecycle, on the admin path: provisioning (idempotent by slug), typed
//! settings, suspending, resuming and closing, and deleting a tenant with everything
//! it holds.
//!
//! Every operation here runs through [`AdminPool::as_admin`] with a recorded reason; a
//! tenant reads its own row and settings through [`Tenant::current`] on its own
//! connection, and may change none of them (it has no UPDATE on `tenants`).
//!
//! A suspended or closed tenant keeps its data, and the pool refuses its transactions
//! with [`Error::TenantSuspended`] or [`Error::TenantClosed`]: the context statement
//! asks `rowguard.tenant_gate`, so the check costs no round trip.
//!
//! ```no_run
//! use rowguard::control::{self, TenantSpec};
//! use rowguard::models::TenantPlan;
//!
//! # async fn demo(admin: rowguard::pool::AdminPool) -> rowguard::Result<()> {
//! let spec = TenantSpec::builder()
//!     .slug("acme")
//!     .name("Acme Logistics")
//!     .plan(TenantPlan::Pro)
//!     .owner_email("ops@acme.example")
//!     .build();
//! let made = control::provision(&admin, &spec).await?;
//! // A second call with the same slug returns the same tenant, not created.
//! let again = control::provision(&admin, &spec).await?;
//! assert!(made.created && !again.created);
//! assert_eq!(made.tenant.id, again.tenant.id);
//!
//! control::suspend(&admin, made.tenant.id).await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use diesel::sql_types::Uuid as SqlUuid;
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use crate::catalog::{count_rows_sql, TableRows, TenantTable, TENANT_TABLES_SQL};
use crate::models::{
    MemberRole, NewTenant, NewUser, Tenant, TenantChanges, TenantPlan, TenantStatus, User,
};
use crate::pool::{AdminConn, AdminPool};
use crate::schema::{tenants, users};
use crate::{Error, Result, TenantId};

/// A tenant's plan features and settings: what `tenants.settings` holds, typed.
///
/// Keys this version does not know are kept (`extra`), so a newer writer's settings
/// survive an older reader's update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Seats the plan allows.
    pub seats: u32,
    /// Single sign-on enabled.
    pub sso: bool,
    /// Where the tenant's data is meant to live (`us-east`, `eu-central`, ...).
    pub data_region: String,
    /// AI employees enabled.
    pub ai_employees: bool,
    /// Settings of other versions, kept as they are.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl TenantSettings {
    /// The defaults of `plan`.
    pub fn for_plan(plan: TenantPlan) -> Self {
        let (seats, sso, ai_employees) = match plan {
            TenantPlan::Free => (3, false, false),
            TenantPlan::Starter => (10, false, false),
            TenantPlan::Pro => (50, false, true),
            TenantPlan::Enterprise => (500, true, true),
        };
        Self {
            seats,
            sso,
            data_region: "us-east".to_owned(),
            ai_employees,
            extra: serde_json::Map::new(),
        }
    }

    /// The settings as `tenants.settings` stores them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }
}

impl Tenant {
    /// The row's settings, typed; the plan's defaults fill keys the row lacks.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a known key holds a value of the wrong type.
    pub fn typed_settings(&self) -> Result<TenantSettings> {
        let mut merged = match TenantSettings::for_plan(self.plan).to_json() {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        if let serde_json::Value::Object(own) = &self.settings {
            merged.extend(own.clone());
        }
        serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| Error::InvalidInput(format!("tenant settings: {e}")))
    }
}

/// What [`provision`] makes: the tenant, its owner and its settings.
#[derive(Clone, Debug, PartialEq, bon::Builder)]
#[builder(on(String, into))]
pub struct TenantSpec {
    /// The tenant's slug: lowercase letters, digits and dashes; unique.
    pub slug: String,
    /// The name shown to users.
    pub name: String,
    /// The billing plan.
    #[builder(default = TenantPlan::Free)]
    pub plan: TenantPlan,
    /// The owner's e-mail: the tenant's first user, with the `owner` role.
    pub owner_email: String,
    /// The owner's display name; the e-mail's local part when unset.
    pub owner_name: Option<String>,
    /// The settings; the plan's defaults when unset.
    pub settings: Option<TenantSettings>,
}

/// The outcome of [`provision`].
#[derive(Clone, Debug, PartialEq)]
pub struct Provisioned {
    /// The tenant, as stored.
    pub tenant: Tenant,
    /// Its owner (the oldest user with the `owner` role), when it has one.
    pub owner: Option<User>,
    /// `false` when a tenant with the slug existed already and was returned as it is.
    pub created: bool,
}

/// Creates the tenant, its owner and its settings in one admin transaction; a tenant
/// with the same slug is returned as it is, with `created: false`. Two racing calls for
/// one slug create one tenant.
///
/// # Errors
/// [`Error::CheckViolation`] for a malformed slug or e-mail; database errors as
/// classified by [`Error`].
pub async fn provision(admin: &AdminPool, spec: &TenantSpec) -> Result<Provisioned> {
    let reason = format!("provision tenant {}", spec.slug);
    admin
        .as_admin(&reason, async |conn| {
            let settings = spec
                .settings
                .clone()
                .unwrap_or_else(|| TenantSettings::for_plan(spec.plan));
            let new = NewTenant::builder()
                .slug(spec.slug.clone())
                .name(spec.name.clone())
                .plan(spec.plan)
                .status(TenantStatus::Active)
                .settings(settings.to_json())
                .build();
            let inserted: Option<Tenant> = diesel::insert_into(tenants::table)
                .values(new)
                .on_conflict_do_nothing()
                .returning(Tenant::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            let Some(tenant) = inserted else {
                let tenant: Tenant = tenants::table
                    .filter(tenants::slug.eq(&spec.slug))
                    .select(Tenant::as_select())
                    .first(conn)
                    .await?;
                let owner = owner_of(conn, tenant.id).await?;
                return Ok(Provisioned {
                    tenant,
                    owner,
                    created: false,
                });
            };
            let display_name = spec.owner_name.clone().unwrap_or_else(|| {
                spec.owner_email
                    .split('@')
                    .next()
                    .unwrap_or(&spec.owner_email)
                    .to_owned()
            });
            let owner = NewUser::builder()
                .email(spec.owner_email.clone())
                .display_name(display_name)
                .role(MemberRole::Owner)
                .build();
            let owner: User = diesel::insert_into(users::table)
                .values((users::tenant_id.eq(tenant.id), owner))
                .returning(User::as_returning())
                .get_result(conn)
                .await?;
            Ok(Provisioned {
                tenant,
                owner: Some(owner),
                created: true,
            })
        })
        .await
}

async fn owner_of(conn: &mut AdminConn, tenant: TenantId) -> Result<Option<User>> {
    let owners: Vec<User> = users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::role.eq(MemberRole::Owner))
        .order_by((users::created_at, users::id))
        .limit(1)
        .select(User::as_select())
        .load(conn)
        .await?;
    Ok(owners.into_iter().next())
}

/// The tenant with `slug`, whatever its status.
///
/// # Errors
/// [`Error::NotFound`] when there is none.
pub async fn find_by_slug(admin: &AdminPool, slug: &str) -> Result<Tenant> {
    admin
        .as_admin("look up a tenant by slug", async |conn| {
            Ok(tenants::table
                .filter(tenants::slug.eq(slug))
                .select(Tenant::as_select())
                .first(conn)
                .await?)
        })
        .await
}

/// Every tenant, by slug.
///
/// # Errors
/// Database errors as classified by [`Error`].
pub async fn list(admin: &AdminPool) -> Result<Vec<Tenant>> {
    admin
        .as_admin("list tenants", async |conn| {
            Ok(tenants::table
                .order_by(tenants::slug)
                .select(Tenant::as_select())
                .load(conn)
                .await?)
        })
        .await
}

/// Sets the tenant's status and returns it; from the next transaction on, the pool
/// refuses a suspended or closed tenant's transactions.
///
/// # Errors
/// [`Error::NotFound`] when there is no such tenant.
pub async fn set_status(
    admin: &AdminPool,
    tenant: TenantId,
    status: TenantStatus,
) -> Result<Tenant> {
    let reason = format!("set tenant {tenant} {}", status.as_str());
    let changes = TenantChanges {
        status: Some(status),
        ..Default::default()
    };
    admin
        .as_admin(&reason, async |conn| changes.apply(conn, tenant).await)
        .await
}

/// Suspends the tenant: its data stays, its transactions are refused
/// ([`Error::TenantSuspended`]) until [`resume`].
///
/// # Errors
/// As [`set_status`].
pub async fn suspend(admin: &AdminPool, tenant: TenantId) -> Result<Tenant> {
    set_status(admin, tenant, TenantStatus::Suspended).await
}

/// Makes a suspended (or closed) tenant active again.
///
/// # Errors
/// As [`set_status`].
pub async fn resume(admin: &AdminPool, tenant: TenantId) -> Result<Tenant> {
    set_status(admin, tenant, TenantStatus::Active).await
}

/// Closes the tenant: its data stays until [`delete`], its transactions are refused
/// ([`Error::TenantClosed`]).
///
/// # Errors
/// As [`set_status`].
pub async fn close(admin: &AdminPool, tenant: TenantId) -> Result<Tenant> {
    set_status(admin, tenant, TenantStatus::Closed).await
}

/// Changes the tenant's settings (the admin path only) and returns the tenant.
///
/// # Errors
/// As [`set_status`].
pub async fn set_settings(
    admin: &AdminPool,
    tenant: TenantId,
    settings: &TenantSettings,
) -> Result<Tenant> {
    let reason = format!("change settings of tenant {tenant}");
    let changes = TenantChanges {
        settings: Some(settings.to_json()),
        ..Default::default()
    };
    admin
        .as_admin(&reason, async |conn| changes.apply(conn, tenant).await)
        .await
}

/// What [`delete`] removed: the rows of each tenant table, `tenants` itself included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Deletion {
    /// Rows removed, by table name (tables without rows of the tenant are listed with 0).
    pub rows: BTreeMap<String, i64>,
}

impl Deletion {
    /// Every row removed.
    pub fn total(&self) -> i64 {
        self.rows.values().sum()
    }
}

/// Deletes the tenant and everything it holds, in one admin transaction, and reports
/// the rows removed per table. The tenant row is locked first, so no row of the tenant
/// can be added while it is counted and deleted. The deleted rows are not audited one
/// by one ([`crate::audit::bulk`]): the tenant's audit trail goes with it.
///
/// # Errors
/// [`Error::NotFound`] when there is no such tenant.
pub async fn delete(admin: &AdminPool, tenant: TenantId) -> Result<Deletion> {
    let reason = format!("delete tenant {tenant} and all its rows");
    admin
        .as_admin(&reason, async |conn| {
            let _locked: TenantId = tenants::table
                .filter(tenants::id.eq(tenant))
                .select(tenants::id)
                .for_update()
                .first(conn)
                .await?;
            // The cascade's rows are not audited one by one: the tenant's audit rows
            // go with it.
            crate::audit::bulk(conn, tenant).await?;
            let tables: Vec<TenantTable> = diesel::sql_query(TENANT_TABLES_SQL).load(conn).await?;
            let rows: Vec<TableRows> = diesel::sql_query(count_rows_sql(&tables, true))
                .bind::<SqlUuid, _>(tenant)
                .load(conn)
                .await?;
            diesel::delete(tenants::table.filter(tenants::id.eq(tenant)))
                .execute(conn)
                .await?;
            Ok(Deletion {
                rows: rows.into_iter().map(|r| (r.table_name, r.n)).collect(),
            })
        })
        .await
}
