//! `document_embeddings`: One chunk of a document's text with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.
//!
//! [`DocumentEmbedding`] is a row, [`NewDocumentEmbedding`] a row to insert and [`DocumentEmbeddingChanges`] an update. The query methods are the
//! ones every table shares; see [`crate::models`].
//!
//! The generated `chunk_tsv` column (tsvector, for keyword search) is left out of
//! every struct: PostgreSQL computes it from `chunk`, and `Selectable` reads only the
//! columns named here. Query it through `crate::schema` with `diesel_full_text_search`.

use pgvector::Vector;
use uuid::Uuid;

use crate::schema::document_embeddings;

super::model! {
    /// A row of `document_embeddings`: One chunk of a document's text with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.
    table: document_embeddings,
    key: (tenant_id, id),
    row: DocumentEmbedding,
    new: NewDocumentEmbedding,
    changes: DocumentEmbeddingChanges,
    columns: {
        tenant_id: tenant,
        id: id,
        /// The document the chunk belongs to.
        document_id: required(Uuid),
        /// Position of the chunk within the document, from 0; unique per document.
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
    document_embeddings,
    DocumentEmbedding,
    NewDocumentEmbedding,
    DocumentEmbeddingChanges,
    order_by = (
        document_embeddings::document_id,
        document_embeddings::chunk_index
    )
);
