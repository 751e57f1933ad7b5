//! `events`: Domain events (deal.created, meeting.completed, ...) that automations react to; written once, not edited.
//!
//! [`Event`] is a row, [`NewEvent`] a row to insert and [`EventChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use crate::schema::events;
use crate::UserId;

super::model! {
    /// A row of `events`: Domain events (deal.created, meeting.completed, ...) that automations react to; written once, not edited.
    table: events,
    key: (tenant_id, id),
    row: Event,
    new: NewEvent,
    changes: EventChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Dotted lowercase name, entity then verb (deal.stage_changed).
        event_type: required(String),
        /// JSON object describing the event; automations match triggers against it.
        payload: defaulted(serde_json::Value),
        /// The user whose action raised the event; NULL for system events or once that user
        /// is deleted.
        actor_user_id: nullable(UserId),
        created_at: created,
    }
}

super::table_queries!(
    events,
    Event,
    NewEvent,
    EventChanges,
    order_by = (events::created_at.desc(), events::id.desc())
);
