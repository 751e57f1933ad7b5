//! `companies`: An organisation a tenant does business with (CRM account).
//!
//! [`Company`] is a row, [`NewCompany`] a row to insert and [`CompanyChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::companies;

/// A row of `companies`: An organisation a tenant does business with (CRM account).
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = companies, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Company {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Name shown to users.
    pub name: String,
    /// The company's web domain, lowercase (example.com); unique per tenant, used to match contacts by e-mail.
    pub domain: Option<String>,
    /// Industry, free text.
    pub industry: Option<String>,
    /// The user responsible for the account; NULL when unassigned or once that user is deleted.
    pub owner_id: Option<Uuid>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `companies` row to insert with [`NewCompany::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = companies, check_for_backend(diesel::pg::Pg))]
pub struct NewCompany {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Name shown to users.
    pub name: String,
    /// The company's web domain, lowercase (example.com); unique per tenant, used to match contacts by e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Industry, free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// The user responsible for the account; NULL when unassigned or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Uuid>,
    /// Free-text notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl NewCompany {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, name: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            name: name.into(),
            domain: None,
            industry: None,
            owner_id: None,
            notes: None,
        }
    }
}

/// Changes to a `companies` row, applied with [`CompanyChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = companies, check_for_backend(diesel::pg::Pg))]
pub struct CompanyChanges {
    /// Name shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The company's web domain, lowercase (example.com); unique per tenant, used to match contacts by e-mail.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain: Option<Option<String>>,
    /// Industry, free text.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub industry: Option<Option<String>>,
    /// The user responsible for the account; NULL when unassigned or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub owner_id: Option<Option<Uuid>>,
    /// Free-text notes.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub notes: Option<Option<String>>,
}

super::table_queries!(
    companies,
    Company,
    NewCompany,
    CompanyChanges,
    order_by = (companies::created_at.desc(), companies::id.desc())
);
