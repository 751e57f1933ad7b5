DROP TABLE IF EXISTS ai_employee_outputs;
DROP TABLE IF EXISTS ai_employee_jobs;
