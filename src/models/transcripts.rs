//! `transcripts`: A transcript of a meeting; a meeting may have several (re-transcriptions, languages).
//!
//! [`Transcript`] is a row, [`NewTranscript`] a row to insert and [`TranscriptChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].

use uuid::Uuid;

use crate::schema::transcripts;

super::model! {
    /// A row of `transcripts`: A transcript of a meeting; a meeting may have several (re-transcriptions, languages).
    table: transcripts,
    key: (tenant_id, id),
    row: Transcript,
    new: NewTranscript,
    changes: TranscriptChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The meeting it belongs to.
        meeting_id: required(Uuid),
        /// BCP 47 language tag of the transcript (en, en-US, de, ...).
        language: defaulted(String),
        /// The full transcript text.
        content: required(String),
        /// JSON array of timed segments ({"speaker", "start_ms", "end_ms", "text"}); empty
        /// when not available.
        segments: defaulted(serde_json::Value),
        /// Where the transcript came from (a recorder integration, an upload, a
        /// speech-to-text model).
        source: nullable(String),
        created_at: created,
        updated_at: updated,
    }
}

super::table_queries!(
    transcripts,
    Transcript,
    NewTranscript,
    TranscriptChanges,
    order_by = (transcripts::created_at.desc(), transcripts::id.desc())
);
