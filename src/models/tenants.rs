//! `tenants`: A customer organisation. Every other table belongs to exactly one tenant; a tenant sees only its own row here.
//!
//! [`Tenant`] is a row, [`NewTenant`] a row to insert and [`TenantChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::{TenantPlan, TenantStatus};
use crate::schema::tenants;

/// A row of `tenants`: A customer organisation. Every other table belongs to exactly one tenant; a tenant sees only its own row here.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = tenants, primary_key(id), check_for_backend(diesel::pg::Pg))]
pub struct Tenant {
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// URL-safe unique handle (lowercase letters, digits, dashes), resolved before a tenant is known by rowguard.resolve_tenant_slug.
    pub slug: String,
    /// Name shown to users.
    pub name: String,
    /// Status.
    pub status: TenantStatus,
    /// Billing plan; feature limits derive from it and from settings.
    pub plan: TenantPlan,
    /// Optional host name (lowercase) that serves this tenant, resolved by rowguard.resolve_tenant_host.
    pub custom_domain: Option<String>,
    /// Plan and feature settings as a JSON object.
    pub settings: serde_json::Value,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `tenants` row to insert with [`NewTenant::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
pub struct NewTenant {
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// URL-safe unique handle (lowercase letters, digits, dashes), resolved before a tenant is known by rowguard.resolve_tenant_slug.
    pub slug: String,
    /// Name shown to users.
    pub name: String,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TenantStatus>,
    /// Billing plan; feature limits derive from it and from settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<TenantPlan>,
    /// Optional host name (lowercase) that serves this tenant, resolved by rowguard.resolve_tenant_host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<String>,
    /// Plan and feature settings as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
}

impl NewTenant {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(slug: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: Uuid::now_v7(),
            slug: slug.into(),
            name: name.into(),
            status: None,
            plan: None,
            custom_domain: None,
            settings: None,
        }
    }
}

/// Changes to a `tenants` row, applied with [`TenantChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
pub struct TenantChanges {
    /// URL-safe unique handle (lowercase letters, digits, dashes), resolved before a tenant is known by rowguard.resolve_tenant_slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Name shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TenantStatus>,
    /// Billing plan; feature limits derive from it and from settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<TenantPlan>,
    /// Optional host name (lowercase) that serves this tenant, resolved by rowguard.resolve_tenant_host.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_domain: Option<Option<String>>,
    /// Plan and feature settings as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
}

super::table_queries!(
    tenants,
    Tenant,
    NewTenant,
    TenantChanges,
    order_by = (tenants::created_at.desc(), tenants::id.desc())
);
