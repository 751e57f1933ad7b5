//! `meeting_summaries`: An AI-written summary of a meeting, with its action items.
//!
//! [`MeetingSummary`] is a row, [`NewMeetingSummary`] a row to insert and [`MeetingSummaryChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use uuid::Uuid;

use crate::schema::meeting_summaries;

super::model! {
    /// A row of `meeting_summaries`: An AI-written summary of a meeting, with its action items.
    table: meeting_summaries,
    key: (tenant_id, id),
    row: MeetingSummary,
    new: NewMeetingSummary,
    changes: MeetingSummaryChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The meeting it belongs to.
        meeting_id: required(Uuid),
        /// The transcript summarised; NULL when summarised from notes or once the
        /// transcript is deleted.
        transcript_id: nullable(Uuid),
        /// The summary text.
        summary: required(String),
        /// JSON array of action items ({"text", "assignee", "due"}), possibly empty.
        action_items: defaulted(serde_json::Value),
        /// The language model that wrote the summary.
        model: required(String),
        created_at: created,
        updated_at: updated,
    }
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
