//! `deal_activities`: Something that happened on a deal: a note, call, e-mail, meeting or task, in the deal's timeline.
//!
//! [`DealActivity`] is a row, [`NewDealActivity`] a row to insert and [`DealActivityChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::enums::DealActivityKind;
use crate::schema::deal_activities;
use crate::UserId;

super::model! {
    /// A row of `deal_activities`: Something that happened on a deal: a note, call, e-mail, meeting or task, in the deal's timeline.
    table: deal_activities,
    key: (tenant_id, id),
    row: DealActivity,
    new: NewDealActivity,
    changes: DealActivityChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The deal it belongs to.
        deal_id: required(Uuid),
        /// note, call, email, meeting or task.
        kind: required(DealActivityKind),
        /// Optional one-line summary (an e-mail subject, a call topic).
        subject: nullable(String),
        /// Body text.
        body: defaulted(String),
        /// When the activity happened (may be before it was recorded); the timeline order.
        occurred_at: defaulted(DateTime<Utc>),
        /// The user who performed it; NULL for imported or system activity, or once that
        /// user is deleted.
        actor_id: nullable(UserId),
        created_at: created,
        updated_at: updated,
    }
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
