//! `deal_activity_embeddings`: One chunk of a deal activity's text with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.
//!
//! [`DealActivityEmbedding`] is a row, [`NewDealActivityEmbedding`] a row to insert and [`DealActivityEmbeddingChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].
//!
//! The generated `chunk_tsv` column (tsvector, for keyword search) is left out of
//! every struct: PostgreSQL computes it from `chunk`, and `Selectable` reads only the
//! columns named here. Query it through `crate::schema` with `diesel_full_text_search`.

use pgvector::Vector;
use uuid::Uuid;

use crate::schema::deal_activity_embeddings;

super::model! {
    /// A row of `deal_activity_embeddings`: One chunk of a deal activity's text with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.
    table: deal_activity_embeddings,
    key: (tenant_id, id),
    row: DealActivityEmbedding,
    new: NewDealActivityEmbedding,
    changes: DealActivityEmbeddingChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The deal activity the chunk belongs to.
        deal_activity_id: required(Uuid),
        /// Position of the chunk within the activity, from 0; unique per activity.
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
    deal_activity_embeddings,
    DealActivityEmbedding,
    NewDealActivityEmbedding,
    DealActivityEmbeddingChanges,
    order_by = (
        deal_activity_embeddings::deal_activity_id,
        deal_activity_embeddings::chunk_index
    )
);
