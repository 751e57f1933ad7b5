//! `meeting_participants`: Someone invited to a meeting: a user of the tenant, a CRM contact, or just an e-mail address.
//!
//! [`MeetingParticipant`] is a row, [`NewMeetingParticipant`] a row to insert and [`MeetingParticipantChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use uuid::Uuid;

use super::enums::AttendanceStatus;
use crate::schema::meeting_participants;
use crate::UserId;

super::model! {
    /// A row of `meeting_participants`: Someone invited to a meeting: a user of the tenant, a CRM contact, or just an e-mail address.
    table: meeting_participants,
    key: (tenant_id, id),
    row: MeetingParticipant,
    new: NewMeetingParticipant,
    changes: MeetingParticipantChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The meeting it belongs to.
        meeting_id: required(Uuid),
        /// The participant when they are a user of the tenant; NULL otherwise or once that
        /// user is deleted. At most once per meeting.
        user_id: nullable(UserId),
        /// The participant when they are a CRM contact; NULL otherwise or once the contact
        /// is deleted.
        contact_id: nullable(Uuid),
        /// The participant's e-mail as invited; at most once per meeting,
        /// case-insensitively.
        email: nullable(String),
        /// Name shown for the participant, kept even when the user or contact is deleted.
        display_name: required(String),
        /// invited, accepted, declined or tentative before the meeting; attended or absent
        /// after it.
        attendance: defaulted(AttendanceStatus),
        created_at: created,
        updated_at: updated,
    }
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
