//! `meeting_participants`: Someone invited to a meeting: a user of the tenant, a CRM contact, or just an e-mail address.
//!
//! [`MeetingParticipant`] is a row, [`NewMeetingParticipant`] a row to insert and [`MeetingParticipantChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::AttendanceStatus;
use crate::schema::meeting_participants;

/// A row of `meeting_participants`: Someone invited to a meeting: a user of the tenant, a CRM contact, or just an e-mail address.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = meeting_participants, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct MeetingParticipant {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The meeting it belongs to.
    pub meeting_id: Uuid,
    /// The participant when they are a user of the tenant; NULL otherwise or once that user is deleted. At most once per meeting.
    pub user_id: Option<Uuid>,
    /// The participant when they are a CRM contact; NULL otherwise or once the contact is deleted.
    pub contact_id: Option<Uuid>,
    /// The participant's e-mail as invited; at most once per meeting, case-insensitively.
    pub email: Option<String>,
    /// Name shown for the participant, kept even when the user or contact is deleted.
    pub display_name: String,
    /// invited, accepted, declined or tentative before the meeting; attended or absent after it.
    pub attendance: AttendanceStatus,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `meeting_participants` row to insert with [`NewMeetingParticipant::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = meeting_participants, check_for_backend(diesel::pg::Pg))]
pub struct NewMeetingParticipant {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The meeting it belongs to.
    pub meeting_id: Uuid,
    /// The participant when they are a user of the tenant; NULL otherwise or once that user is deleted. At most once per meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// The participant when they are a CRM contact; NULL otherwise or once the contact is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
    /// The participant's e-mail as invited; at most once per meeting, case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name shown for the participant, kept even when the user or contact is deleted.
    pub display_name: String,
    /// invited, accepted, declined or tentative before the meeting; attended or absent after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendance: Option<AttendanceStatus>,
}

impl NewMeetingParticipant {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, meeting_id: Uuid, display_name: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            meeting_id,
            user_id: None,
            contact_id: None,
            email: None,
            display_name: display_name.into(),
            attendance: None,
        }
    }
}

/// Changes to a `meeting_participants` row, applied with [`MeetingParticipantChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = meeting_participants, check_for_backend(diesel::pg::Pg))]
pub struct MeetingParticipantChanges {
    /// The meeting it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<Uuid>,
    /// The participant when they are a user of the tenant; NULL otherwise or once that user is deleted. At most once per meeting.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<Option<Uuid>>,
    /// The participant when they are a CRM contact; NULL otherwise or once the contact is deleted.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub contact_id: Option<Option<Uuid>>,
    /// The participant's e-mail as invited; at most once per meeting, case-insensitively.
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<String>>,
    /// Name shown for the participant, kept even when the user or contact is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// invited, accepted, declined or tentative before the meeting; attended or absent after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendance: Option<AttendanceStatus>,
}

super::table_queries!(
    meeting_participants,
    MeetingParticipant,
    NewMeetingParticipant,
    MeetingParticipantChanges,
    order_by = (
        meeting_participants::created_at.desc(),
        meeting_participants::id.desc()
    )
);
