DROP TABLE IF EXISTS automation_runs;
DROP TABLE IF EXISTS automations;
DROP TYPE IF EXISTS job_status;
