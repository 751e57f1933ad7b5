//! `contacts`: A person a tenant deals with (CRM contact), optionally at a company.
//!
//! [`Contact`] is a row, [`NewContact`] a row to insert and [`ContactChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::contacts;

/// A row of `contacts`: A person a tenant deals with (CRM contact), optionally at a company.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = contacts, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Contact {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The contact's company; NULL when unknown or once the company is deleted.
    pub company_id: Option<Uuid>,
    /// The person's full name.
    pub full_name: String,
    /// E-mail address; unique per tenant, case-insensitively, when present.
    pub email: Option<String>,
    /// Phone number, as entered.
    pub phone: Option<String>,
    /// The person's job title.
    pub job_title: Option<String>,
    /// The user responsible for the contact; NULL when unassigned or once that user is deleted.
    pub owner_id: Option<Uuid>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `contacts` row to insert with [`NewContact::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = contacts, check_for_backend(diesel::pg::Pg))]
pub struct NewContact {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The contact's company; NULL when unknown or once the company is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<Uuid>,
    /// The person's full name.
    pub full_name: String,
    /// E-mail address; unique per tenant, case-insensitively, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number, as entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The person's job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// The user responsible for the contact; NULL when unassigned or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Uuid>,
    /// Free-text notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl NewContact {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, full_name: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            company_id: None,
            full_name: full_name.into(),
            email: None,
            phone: None,
            job_title: None,
            owner_id: None,
            notes: None,
        }
    }
}

/// Changes to a `contacts` row, applied with [`ContactChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = contacts, check_for_backend(diesel::pg::Pg))]
pub struct ContactChanges {
    /// The contact's company; NULL when unknown or once the company is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub company_id: Option<Option<Uuid>>,
    /// The person's full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// E-mail address; unique per tenant, case-insensitively, when present.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
    /// Phone number, as entered.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone: Option<Option<String>>,
    /// The person's job title.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub job_title: Option<Option<String>>,
    /// The user responsible for the contact; NULL when unassigned or once that user is deleted.
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
    contacts,
    Contact,
    NewContact,
    ContactChanges,
    order_by = (contacts::created_at.desc(), contacts::id.desc())
);
