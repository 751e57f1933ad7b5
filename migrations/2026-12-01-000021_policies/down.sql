-- Undoes what this policies migration added to the previous one (written by hand; up.sql
-- is generated from policies/ by scripts/sync-policies): only the jobs table's policies
-- and grants, which go with the table when 2026-12-01-000020_jobs is undone next.
SELECT 1;
