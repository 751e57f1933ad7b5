-- Back to pgvector's default storage for `vector` (EXTERNAL: out of line, never
-- compressed). Rows keep the storage they were written with until rewritten.

ALTER TABLE document_embeddings ALTER COLUMN embedding SET STORAGE EXTERNAL;
ALTER TABLE deal_activity_embeddings ALTER COLUMN embedding SET STORAGE EXTERNAL;
ALTER TABLE meeting_embeddings ALTER COLUMN embedding SET STORAGE EXTERNAL;
