-- Undoes what this policies migration added to the previous one (written by hand; up.sql
-- is generated from policies/ by scripts/sync-policies): the session tenant-status
-- look-up; the jobs table's policies and grants go with the table when
-- 2026-12-01-000020_jobs is undone next.
DROP FUNCTION IF EXISTS rowguard.session_tenant_status(bytea);
