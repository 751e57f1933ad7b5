//! `meetings`: A scheduled or past meeting, with participants, transcripts and AI summaries.
//!
//! [`Meeting`] is a row, [`NewMeeting`] a row to insert and [`MeetingChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::MeetingStatus;
use crate::schema::meetings;

/// A row of `meetings`: A scheduled or past meeting, with participants, transcripts and AI summaries.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = meetings, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Meeting {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// Free-text description.
    pub description: Option<String>,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When the meeting ends; always after starts_at.
    pub ends_at: DateTime<Utc>,
    /// scheduled, in_progress, completed or cancelled.
    pub status: MeetingStatus,
    /// Where the meeting takes place: a room, an address or a video-call URL.
    pub location: Option<String>,
    /// The user who organises the meeting; NULL for imported meetings or once that user is deleted.
    pub organizer_id: Option<Uuid>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `meetings` row to insert with [`NewMeeting::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = meetings, check_for_backend(diesel::pg::Pg))]
pub struct NewMeeting {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When the meeting ends; always after starts_at.
    pub ends_at: DateTime<Utc>,
    /// scheduled, in_progress, completed or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MeetingStatus>,
    /// Where the meeting takes place: a room, an address or a video-call URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The user who organises the meeting; NULL for imported meetings or once that user is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer_id: Option<Uuid>,
}

impl NewMeeting {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        title: impl Into<String>,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            title: title.into(),
            description: None,
            starts_at,
            ends_at,
            status: None,
            location: None,
            organizer_id: None,
        }
    }
}

/// Changes to a `meetings` row, applied with [`MeetingChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = meetings, check_for_backend(diesel::pg::Pg))]
pub struct MeetingChanges {
    /// Title shown to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Free-text description.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// When it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// When the meeting ends; always after starts_at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// scheduled, in_progress, completed or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MeetingStatus>,
    /// Where the meeting takes place: a room, an address or a video-call URL.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<Option<String>>,
    /// The user who organises the meeting; NULL for imported meetings or once that user is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub organizer_id: Option<Option<Uuid>>,
}

super::table_queries!(
    meetings,
    Meeting,
    NewMeeting,
    MeetingChanges,
    order_by = (meetings::starts_at.desc(), meetings::id.desc())
);
