-- Undoes what this policies migration added to the previous one (written by hand; up.sql
-- is generated from policies/ by scripts/sync-policies): the tenant gate, and the
-- application's UPDATE on tenants narrowed to the name. The rest of up.sql re-applied
-- policies that the previous policies migration owns.
DROP FUNCTION IF EXISTS rowguard.tenant_gate(text);
REVOKE UPDATE (name) ON tenants FROM rowguard_app;
GRANT UPDATE ON tenants TO rowguard_app;
