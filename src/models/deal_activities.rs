//! `deal_activities`: Something that happened on a deal: a note, call, e-mail, meeting or task, in the deal's timeline.
//!
//! [`DealActivity`] is a row, [`NewDealActivity`] a row to insert and [`DealActivityChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::DealActivityKind;
use crate::schema::deal_activities;

/// A row of `deal_activities`: Something that happened on a deal: a note, call, e-mail, meeting or task, in the deal's timeline.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = deal_activities, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct DealActivity {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The deal it belongs to.
    pub deal_id: Uuid,
    /// note, call, email, meeting or task.
    pub kind: DealActivityKind,
    /// Optional one-line summary (an e-mail subject, a call topic).
    pub subject: Option<String>,
    /// Body text.
    pub body: String,
    /// When the activity happened (may be before it was recorded); the timeline order.
    pub occurred_at: DateTime<Utc>,
    /// The user who performed it; NULL for imported or system activity, or once that user is deleted.
    pub actor_id: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `deal_activities` row to insert with [`NewDealActivity::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = deal_activities, check_for_backend(diesel::pg::Pg))]
pub struct NewDealActivity {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The deal it belongs to.
    pub deal_id: Uuid,
    /// note, call, email, meeting or task.
    pub kind: DealActivityKind,
    /// Optional one-line summary (an e-mail subject, a call topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// When the activity happened (may be before it was recorded); the timeline order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The user who performed it; NULL for imported or system activity, or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<Uuid>,
}

impl NewDealActivity {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, deal_id: Uuid, kind: DealActivityKind) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            deal_id,
            kind,
            subject: None,
            body: None,
            occurred_at: None,
            actor_id: None,
        }
    }
}

/// Changes to a `deal_activities` row, applied with [`DealActivityChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = deal_activities, check_for_backend(diesel::pg::Pg))]
pub struct DealActivityChanges {
    /// The deal it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<Uuid>,
    /// note, call, email, meeting or task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DealActivityKind>,
    /// Optional one-line summary (an e-mail subject, a call topic).
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub subject: Option<Option<String>>,
    /// Body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// When the activity happened (may be before it was recorded); the timeline order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The user who performed it; NULL for imported or system activity, or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub actor_id: Option<Option<Uuid>>,
}

super::table_queries!(
    deal_activities,
    DealActivity,
    NewDealActivity,
    DealActivityChanges,
    order_by = (
        deal_activities::occurred_at.desc(),
        deal_activities::id.desc()
    )
);
