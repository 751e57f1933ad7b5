//! `transcripts`: A transcript of a meeting; a meeting may have several (re-transcriptions, languages).
//!
//! [`Transcript`] is a row, [`NewTranscript`] a row to insert and [`TranscriptChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::transcripts;

/// A row of `transcripts`: A transcript of a meeting; a meeting may have several (re-transcriptions, languages).
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = transcripts, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct Transcript {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The meeting it belongs to.
    pub meeting_id: Uuid,
    /// BCP 47 language tag of the transcript (en, en-US, de, ...).
    pub language: String,
    /// The full transcript text.
    pub content: String,
    /// JSON array of timed segments ({"speaker", "start_ms", "end_ms", "text"}); empty when not available.
    pub segments: serde_json::Value,
    /// Where the transcript came from (a recorder integration, an upload, a speech-to-text model).
    pub source: Option<String>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (kept current by a trigger).
    pub updated_at: DateTime<Utc>,
}

/// A `transcripts` row to insert with [`NewTranscript::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = transcripts, check_for_backend(diesel::pg::Pg))]
pub struct NewTranscript {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The meeting it belongs to.
    pub meeting_id: Uuid,
    /// BCP 47 language tag of the transcript (en, en-US, de, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The full transcript text.
    pub content: String,
    /// JSON array of timed segments ({"speaker", "start_ms", "end_ms", "text"}); empty when not available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<serde_json::Value>,
    /// Where the transcript came from (a recorder integration, an upload, a speech-to-text model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl NewTranscript {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(tenant_id: Uuid, meeting_id: Uuid, content: impl Into<String>) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            meeting_id,
            language: None,
            content: content.into(),
            segments: None,
            source: None,
        }
    }
}

/// Changes to a `transcripts` row, applied with [`TranscriptChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = transcripts, check_for_backend(diesel::pg::Pg))]
pub struct TranscriptChanges {
    /// The meeting it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<Uuid>,
    /// BCP 47 language tag of the transcript (en, en-US, de, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The full transcript text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// JSON array of timed segments ({"speaker", "start_ms", "end_ms", "text"}); empty when not available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<serde_json::Value>,
    /// Where the transcript came from (a recorder integration, an upload, a speech-to-text model).
    #[serde(
        default,
        deserialize_with = "super::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<Option<String>>,
}

super::table_queries!(
    transcripts,
    Transcript,
    NewTranscript,
    TranscriptChanges,
    order_by = (transcripts::created_at.desc(), transcripts::id.desc())
);
