//! `meeting_embeddings`: One chunk of a meeting's text (transcript, summary) with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.
//!
//! [`MeetingEmbedding`] is a row, [`NewMeetingEmbedding`] a row to insert and [`MeetingEmbeddingChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].
//!
//! The generated `chunk_tsv` column (tsvector, for keyword search) is left out of
//! every struct: PostgreSQL computes it from `chunk`, and `Selectable` reads only the
//! columns named here. Query it through `crate::schema` with `diesel_full_text_search`.

use chrono::{DateTime, Utc};
use diesel::{AsChangeset, Identifiable, Insertable, Queryable, Selectable};
use pgvector::Vector;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::schema::meeting_embeddings;

/// A row of `meeting_embeddings`: One chunk of a meeting's text (transcript, summary) with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.
#[derive(Queryable, Selectable, Identifiable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = meeting_embeddings, primary_key(tenant_id, id), check_for_backend(diesel::pg::Pg))]
pub struct MeetingEmbedding {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    pub id: Uuid,
    /// The meeting it belongs to.
    pub meeting_id: Uuid,
    /// Position of the chunk within the meeting's text, from 0; unique per meeting.
    pub chunk_index: i32,
    /// The chunk's text, as embedded.
    pub chunk: String,
    /// The embedding model that produced the vector; vectors of different models do not compare.
    pub model: String,
    /// 1536-dimension embedding of chunk, compared by cosine distance (<=>).
    pub embedding: Vector,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
}

/// A `meeting_embeddings` row to insert with [`NewMeetingEmbedding::insert`].
///
/// `None` in an optional field means the column's default (NULL for nullable columns).
/// Deserializes from a JSON body; a missing `id` gets a fresh UUID v7.
/// `tenant_id` must be the tenant of the connection: RLS `WITH CHECK` refuses any other.
#[derive(Insertable, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[diesel(table_name = meeting_embeddings, check_for_backend(diesel::pg::Pg))]
pub struct NewMeetingEmbedding {
    /// The tenant the row belongs to (RLS confines every statement to it).
    pub tenant_id: Uuid,
    /// The row's id, a UUID v7.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// The meeting it belongs to.
    pub meeting_id: Uuid,
    /// Position of the chunk within the meeting's text, from 0; unique per meeting.
    pub chunk_index: i32,
    /// The chunk's text, as embedded.
    pub chunk: String,
    /// The embedding model that produced the vector; vectors of different models do not compare.
    pub model: String,
    /// 1536-dimension embedding of chunk, compared by cosine distance (<=>).
    pub embedding: Vector,
}

impl NewMeetingEmbedding {
    /// A new row with a fresh UUID v7 id and the required columns; every other column
    /// is left to its default (set the public fields to change that).
    pub fn new(
        tenant_id: Uuid,
        meeting_id: Uuid,
        chunk_index: i32,
        chunk: impl Into<String>,
        model: impl Into<String>,
        embedding: Vector,
    ) -> Self {
        Self {
            tenant_id,
            id: Uuid::now_v7(),
            meeting_id,
            chunk_index,
            chunk: chunk.into(),
            model: model.into(),
            embedding,
        }
    }
}

/// Changes to a `meeting_embeddings` row, applied with [`MeetingEmbeddingChanges::apply`].
///
/// A `None` field leaves its column as it is; for nullable columns `Some(None)` sets
/// NULL (in JSON: a missing key leaves the column, `null` clears it).
#[derive(AsChangeset, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[diesel(table_name = meeting_embeddings, check_for_backend(diesel::pg::Pg))]
pub struct MeetingEmbeddingChanges {
    /// The meeting it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<Uuid>,
    /// Position of the chunk within the meeting's text, from 0; unique per meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_index: Option<i32>,
    /// The chunk's text, as embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<String>,
    /// The embedding model that produced the vector; vectors of different models do not compare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// 1536-dimension embedding of chunk, compared by cosine distance (<=>).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vector>,
}

super::table_queries!(
    meeting_embeddings,
    MeetingEmbedding,
    NewMeetingEmbedding,
    MeetingEmbeddingChanges,
    order_by = (
        meeting_embeddings::meeting_id,
        meeting_embeddings::chunk_index
    )
);
