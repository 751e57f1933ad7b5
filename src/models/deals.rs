//! `deals`: A sales opportunity moving through the pipeline stages.
//!
//! [`Deal`] is a row, [`NewDeal`] a row to insert and [`DealChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::DealStage;
use crate::schema::deals;

/// A row of `deals`: A sales opportunity moving through the pipeline stages.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = deals, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Deal {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// Pipeline stage: lead, qualified, proposal, negotiation, then won or lost.
    pub stage: DealStage,
    /// Expected value in minor units of currency (cents for USD), never negative; an integer so sums are exact.
    pub value_minor: i64,
    /// ISO 4217 currency code, three uppercase letters.
    pub currency: String,
    /// Estimated chance of winning, in percent (0 to 100).
    pub probability: i16,
    /// The company the deal is with; NULL when none or once the company is deleted.
    pub company_id: Option<Uuid>,
    /// The main contact; NULL when none or once the contact is deleted.
    pub contact_id: Option<Uuid>,
    /// The user responsible for the deal; NULL when unassigned or once that user is deleted.
    pub owner_id: Option<Uuid>,
    /// The date the deal is expected to close.
    pub expected_close_on: Option<NaiveDate>,
    /// When the deal was won or lost; only set in those stages.
    pub closed_at: Option<DateTime<Utc>>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `deals` row to insert with [`NewDeal::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = deals, check_for_backend(diesel::pg::Pg))]
pub struct NewDeal {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// Pipeline stage: lead, qualified, proposal, negotiation, then won or lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<DealStage>,
    /// Expected value in minor units of currency (cents for USD), never negative; an integer so sums are exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_minor: Option<i64>,
    /// ISO 4217 currency code, three uppercase letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Estimated chance of winning, in percent (0 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<i16>,
    /// The company the deal is with; NULL when none or once the company is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<Uuid>,
    /// The main contact; NULL when none or once the contact is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
    /// The user responsible for the deal; NULL when unassigned or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Uuid>,
    /// The date the deal is expected to close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_close_on: Option<NaiveDate>,
    /// When the deal was won or lost; only set in those stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
}

impl NewDeal {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, title: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            title: title.into(),
            stage: None,
            value_minor: None,
            currency: None,
            probability: None,
            company_id: None,
            contact_id: None,
            owner_id: None,
            expected_close_on: None,
            closed_at: None,
        }
    }
}

/// Changes to a `deals` row, applied with [`DealChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = deals, check_for_backend(diesel::pg::Pg))]
pub struct DealChanges {
    /// Title shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Pipeline stage: lead, qualified, proposal, negotiation, then won or lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<DealStage>,
    /// Expected value in minor units of currency (cents for USD), never negative; an integer so sums are exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_minor: Option<i64>,
    /// ISO 4217 currency code, three uppercase letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Estimated chance of winning, in percent (0 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<i16>,
    /// The company the deal is with; NULL when none or once the company is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub company_id: Option<Option<Uuid>>,
    /// The main contact; NULL when none or once the contact is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub contact_id: Option<Option<Uuid>>,
    /// The user responsible for the deal; NULL when unassigned or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub owner_id: Option<Option<Uuid>>,
    /// The date the deal is expected to close.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_close_on: Option<Option<NaiveDate>>,
    /// When the deal was won or lost; only set in those stages.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub closed_at: Option<Option<DateTime<Utc>>>,
}

super::table_queries!(
    deals,
    Deal,
    NewDeal,
    DealChanges,
    order_by = (deals::created_at.desc(), deals::id.desc())
);
