//! `meetings`: A scheduled or past meeting, with participants, transcripts and AI summaries.
//!
//! [`Meeting`] is a row, [`NewMeeting`] a row to insert and [`MeetingChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};

use super::enums::MeetingStatus;
use crate::schema::meetings;
use crate::UserId;

super::model! {
    /// A row of `meetings`: A scheduled or past meeting, with participants, transcripts and AI summaries.
    table: meetings,
    key: (tenant_id, id),
    row: Meeting,
    new: NewMeeting,
    changes: MeetingChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// Title shown to users.
        title: required(String),
        /// Free-text description.
        description: nullable(String),
        /// When it starts.
        starts_at: required(DateTime<Utc>),
        /// When the meeting ends; always after starts_at.
        ends_at: required(DateTime<Utc>),
        /// scheduled, in_progress, completed or cancelled.
        status: defaulted(MeetingStatus),
        /// Where the meeting takes place: a room, an address or a video-call URL.
        location: nullable(String),
        /// The user who organises the meeting; NULL for imported meetings or once that user
        /// is deleted.
        organizer_id: nullable(UserId),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    meetings,
    Meeting,
    NewMeeting,
    MeetingChanges,
    order_by = (meetings::starts_at.desc(), meetings::id.desc())
);
