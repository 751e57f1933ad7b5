-- Undoes the second policies migration (written by hand; up.sql is generated from
-- policies/). up.sql re-applies every policy file; everything but embedding_counts
-- was already in place after 2026-11-25-000011_policies and stays, so only what is
-- new here is undone: the grants on, and the RLS of, embedding_counts.
-- (rowguard_admin's rights on embedding_counts were granted by
-- 2026-11-25-000012_embedding_counts, whose counting functions need them, and go
-- with the table when that migration is reverted.)

-- policies/20_grants.sql
REVOKE ALL ON embedding_counts FROM rowguard_app;

-- policies/10_tenant_isolation.sql
DROP POLICY IF EXISTS tenant_isolation ON embedding_counts;
ALTER TABLE embedding_counts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE embedding_counts DISABLE ROW LEVEL SECURITY;
