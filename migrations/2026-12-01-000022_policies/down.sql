-- Undoes what this policies migration added to the previous one (written by hand; up.sql
-- is generated from policies/ by scripts/sync-policies): the owner's look-up of every
-- tenant's embedding counts.
DROP FUNCTION IF EXISTS rowguard.embedding_tenant_rows();
