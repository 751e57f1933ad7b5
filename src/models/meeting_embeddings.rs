//! `meeting_embeddings`: One chunk of a meeting's text (transcript, summary) with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.
//!
//! [`MeetingEmbedding`] is a row, [`NewMeetingEmbedding`] a row to insert and [`MeetingEmbeddingChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].
//!
//! The generated `chunk_tsv` column (tsvector, for keyword search) is left out of
//! every struct: PostgreSQL computes it from `chunk`, and `Selectable` reads only the
//! columns named here. Query it through `crate::schema` with `diesel_full_text_search`.

use pgvector::Vector;
use uuid::Uuid;

use crate::schema::meeting_embeddings;

super::model! {
    /// A row of `meeting_embeddings`: One chunk of a meeting's text (transcript, summary) with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.
    table: meeting_embeddings,
    key: (tenant_id, id),
    row: MeetingEmbedding,
    new: NewMeetingEmbedding,
    changes: MeetingEmbeddingChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The meeting it belongs to.
        meeting_id: required(Uuid),
        /// Position of the chunk within the meeting's text, from 0; unique per meeting.
        chunk_index: required(i32),
        /// The chunk's text, as embedded.
        chunk: required(String),
        /// The embedding model that produced the vector; vectors of different models do not
        /// compare.
        model: required(String),
        /// 1536-dimension embedding of chunk, compared by cosine distance (<=>).
        embedding: required(Vector),
        created_at: created,
    }
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
