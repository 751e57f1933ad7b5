//! `meeting_summaries`: An AI-written summary of a meeting, with its action items.
//!
//! [`MeetingSummary`] is a row, [`NewMeetingSummary`] a row to insert and [`MeetingSummaryChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::meeting_summaries;

/// A row of `meeting_summaries`: An AI-written summary of a meeting, with its action items.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = meeting_summaries, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct MeetingSummary {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The meeting it belongs to.
    pub meeting_id: Uuid,
    /// The transcript summarised; NULL when summarised from notes or once the transcript is deleted.
    pub transcript_id: Option<Uuid>,
    /// The summary text.
    pub summary: String,
    /// JSON array of action items ({"text", "assignee", "due"}), possibly empty.
    pub action_items: serde_json::Value,
    /// The language model that wrote the summary.
    pub model: String,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `meeting_summaries` row to insert with [`NewMeetingSummary::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = meeting_summaries, check_for_backend(diesel::pg::Pg))]
pub struct NewMeetingSummary {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The meeting it belongs to.
    pub meeting_id: Uuid,
    /// The transcript summarised; NULL when summarised from notes or once the transcript is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_id: Option<Uuid>,
    /// The summary text.
    pub summary: String,
    /// JSON array of action items ({"text", "assignee", "due"}), possibly empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_items: Option<serde_json::Value>,
    /// The language model that wrote the summary.
    pub model: String,
}

impl NewMeetingSummary {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        meeting_id: Uuid,
        summary: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            meeting_id,
            transcript_id: None,
            summary: summary.into(),
            action_items: None,
            model: model.into(),
        }
    }
}

/// Changes to a `meeting_summaries` row, applied with [`MeetingSummaryChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = meeting_summaries, check_for_backend(diesel::pg::Pg))]
pub struct MeetingSummaryChanges {
    /// The meeting it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<Uuid>,
    /// The transcript summarised; NULL when summarised from notes or once the transcript is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub transcript_id: Option<Option<Uuid>>,
    /// The summary text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// JSON array of action items ({"text", "assignee", "due"}), possibly empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_items: Option<serde_json::Value>,
    /// The language model that wrote the summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

super::table_queries!(
    meeting_summaries,
    MeetingSummary,
    NewMeetingSummary,
    MeetingSummaryChanges,
    order_by = (
        meeting_summaries::created_at.desc(),
        meeting_summaries::id.desc()
    )
);
