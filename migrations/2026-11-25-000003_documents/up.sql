-- Documents group: documents, document_embeddings.

CREATE TYPE document_type AS ENUM ('note', 'pdf', 'web_page', 'spreadsheet', 'other');
CREATE TYPE document_status AS ENUM ('pending', 'processing', 'ready', 'failed');

CREATE TABLE documents (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  title text NOT NULL,
  doc_type document_type NOT NULL DEFAULT 'note',
  status document_status NOT NULL DEFAULT 'pending',
  source_url text,
  content text,
  processing_error text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (created_by),
  CONSTRAINT documents_title_not_blank CHECK (btrim(title) <> ''),
  CONSTRAINT documents_source_url_http CHECK (source_url ~* '^https?://'),
  CONSTRAINT documents_error_only_when_failed CHECK (processing_error IS NULL OR status = 'failed')
);
CREATE INDEX documents_tenant_created_by_idx ON documents (tenant_id, created_by);
CREATE INDEX documents_tenant_created_idx ON documents (tenant_id, created_at DESC);
CREATE INDEX documents_tenant_status_idx ON documents (tenant_id, status) WHERE status IN ('pending', 'processing');
CREATE TRIGGER set_updated_at BEFORE UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON documents FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE documents IS 'A document of a tenant (note, uploaded file, captured web page, ...), chunked and embedded for search once processed.';
COMMENT ON COLUMN documents.doc_type IS 'What kind of document: note, pdf, web_page, spreadsheet or other.';
COMMENT ON COLUMN documents.status IS 'Processing state of text extraction and embedding: pending, processing, ready or failed.';
COMMENT ON COLUMN documents.source_url IS 'Where the document came from (http or https), for captured web pages and imports.';
COMMENT ON COLUMN documents.content IS 'The document''s text (written for notes, extracted for other types); NULL until known.';
COMMENT ON COLUMN documents.processing_error IS 'Why processing failed; set only while status is failed.';
COMMENT ON COLUMN documents.created_by IS 'The user who created the document; NULL once that user is deleted.';

CREATE TABLE document_embeddings (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  document_id uuid NOT NULL,
  chunk_index int NOT NULL,
  chunk text NOT NULL,
  model text NOT NULL,
  embedding vector(1536) NOT NULL,
  chunk_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', chunk)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT document_embeddings_document_chunk_key UNIQUE (tenant_id, document_id, chunk_index),
  CONSTRAINT document_embeddings_chunk_index_nonnegative CHECK (chunk_index >= 0),
  CONSTRAINT document_embeddings_model_not_blank CHECK (btrim(model) <> '')
);
-- The unique constraint (tenant_id, document_id, chunk_index) serves the foreign key
-- and the usual order (a document's chunks in order).
CREATE INDEX document_embeddings_chunk_tsv_idx ON document_embeddings USING gin (chunk_tsv);
-- pgvector 0.6.0-0.8.1 (CVE-2026-3172): a parallel HNSW build can corrupt memory, so
-- build the index without parallel maintenance workers. SET LOCAL ends with the
-- migration's transaction.
SET LOCAL max_parallel_maintenance_workers = 0;
CREATE INDEX document_embeddings_embedding_hnsw_idx ON document_embeddings USING hnsw (embedding vector_cosine_ops);
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON document_embeddings FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE document_embeddings IS 'One chunk of a document''s text with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.';
COMMENT ON COLUMN document_embeddings.chunk_index IS 'Position of the chunk within the document, from 0; unique per document.';
COMMENT ON COLUMN document_embeddings.chunk IS 'The chunk''s text, as embedded.';
COMMENT ON COLUMN document_embeddings.model IS 'The embedding model that produced the vector; vectors of different models do not compare.';
COMMENT ON COLUMN document_embeddings.embedding IS '1536-dimension embedding of chunk, compared by cosine distance (<=>).';
COMMENT ON COLUMN document_embeddings.chunk_tsv IS 'Generated: to_tsvector(''english'', chunk), for keyword and hybrid search.';
