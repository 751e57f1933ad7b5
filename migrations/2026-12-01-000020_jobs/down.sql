-- Undoes 2026-12-01-000020_jobs.
DROP TABLE jobs;
DROP FUNCTION rowguard.notify_jobs();
DROP TYPE job_state;
