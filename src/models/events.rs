//! `events`: Domain events (deal.created, meeting.completed, ...) that automations react to; written once, not edited.
//!
//! [`Event`] is a row, [`NewEvent`] a row to insert and [`EventChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::events;

/// A row of `events`: Domain events (deal.created, meeting.completed, ...) that automations react to; written once, not edited.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = events, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Event {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Dotted lowercase name, entity then verb (deal.stage_changed).
    pub event_type: String,
    /// JSON object describing the event; automations match triggers against it.
    pub payload: serde_json::Value,
    /// The user whose action raised the event; NULL for system events or once that user is deleted.
    pub actor_user_id: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
}

/// A `events` row to insert with [`NewEvent::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub struct NewEvent {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Dotted lowercase name, entity then verb (deal.stage_changed).
    pub event_type: String,
    /// JSON object describing the event; automations match triggers against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// The user whose action raised the event; NULL for system events or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<Uuid>,
}

impl NewEvent {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, event_type: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            event_type: event_type.into(),
            payload: None,
            actor_user_id: None,
        }
    }
}

/// Changes to a `events` row, applied with [`EventChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub struct EventChanges {
    /// Dotted lowercase name, entity then verb (deal.stage_changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// JSON object describing the event; automations match triggers against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// The user whose action raised the event; NULL for system events or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub actor_user_id: Option<Option<Uuid>>,
}

super::table_queries!(
    events,
    Event,
    NewEvent,
    EventChanges,
    order_by = (events::created_at.desc(), events::id.desc())
);
