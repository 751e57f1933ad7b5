DROP TABLE IF EXISTS document_embeddings;
DROP TABLE IF EXISTS documents;
DROP TYPE IF EXISTS document_status;
DROP TYPE IF EXISTS document_type;
