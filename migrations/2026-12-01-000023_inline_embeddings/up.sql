-- Embeddings stored in the row, never in TOAST. pgvector declares `vector` EXTERNAL:
-- a 1536-d vector (6,152 bytes) is over the TOAST threshold, so each was kept
-- out of line, in about four TOAST chunks found through the TOAST table's index, and
-- every exact scan paid that lookup for every row it read. PLAIN keeps it in the heap
-- tuple (one row a page, under the 8 kB page limit; the chunk text may still move out
-- of line) and never compresses it (floats do not compress). An exact scan of a
-- tenant's rows then reads heap pages only: about 3 times faster on this machine
-- (docs/search-bench.md). HNSW indexes hold their own copy of every vector and are
-- unchanged.
--
-- SET STORAGE changes the catalog only: rows written from now on are stored in line;
-- rows already stored stay in TOAST until rewritten (VACUUM FULL, or pg_repack
-- without the lock).

ALTER TABLE document_embeddings ALTER COLUMN embedding SET STORAGE PLAIN;
ALTER TABLE deal_activity_embeddings ALTER COLUMN embedding SET STORAGE PLAIN;
ALTER TABLE meeting_embeddings ALTER COLUMN embedding SET STORAGE PLAIN;
