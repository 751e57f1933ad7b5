-- Undoes 2026-11-25-000012_embedding_counts, in reverse order.
DROP TRIGGER IF EXISTS count_rows_truncate ON meeting_embeddings;
DROP TRIGGER IF EXISTS count_rows_delete ON meeting_embeddings;
DROP TRIGGER IF EXISTS count_rows_insert ON meeting_embeddings;
DROP TRIGGER IF EXISTS count_rows_truncate ON deal_activity_embeddings;
DROP TRIGGER IF EXISTS count_rows_delete ON deal_activity_embeddings;
DROP TRIGGER IF EXISTS count_rows_insert ON deal_activity_embeddings;
DROP TRIGGER IF EXISTS count_rows_truncate ON document_embeddings;
DROP TRIGGER IF EXISTS count_rows_delete ON document_embeddings;
DROP TRIGGER IF EXISTS count_rows_insert ON document_embeddings;
DROP FUNCTION IF EXISTS rowguard.refresh_embedding_counts();
DROP FUNCTION IF EXISTS rowguard.count_embeddings();
DROP TABLE IF EXISTS embedding_counts;
REVOKE SELECT ON document_embeddings, deal_activity_embeddings, meeting_embeddings FROM rowguard_admin;
DROP TYPE IF EXISTS embedding_kind;
