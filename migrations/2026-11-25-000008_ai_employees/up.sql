-- AI employees group: ai_employee_jobs, ai_employee_outputs. job_status comes from
-- the automations migration.

CREATE TABLE ai_employee_jobs (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  kind text NOT NULL,
  input jsonb NOT NULL DEFAULT '{}'::jsonb,
  status job_status NOT NULL DEFAULT 'queued',
  idempotency_key text NOT NULL,
  attempts int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL DEFAULT 5,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  locked_at timestamptz,
  locked_by text,
  requested_by uuid,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, requested_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (requested_by),
  CONSTRAINT ai_employee_jobs_kind_format CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
  CONSTRAINT ai_employee_jobs_input_object CHECK (jsonb_typeof(input) = 'object'),
  CONSTRAINT ai_employee_jobs_idempotency_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  CONSTRAINT ai_employee_jobs_attempts_range CHECK (attempts >= 0 AND attempts <= max_attempts),
  CONSTRAINT ai_employee_jobs_max_attempts_positive CHECK (max_attempts > 0),
  CONSTRAINT ai_employee_jobs_lock_pair CHECK ((locked_at IS NULL) = (locked_by IS NULL)),
  CONSTRAINT ai_employee_jobs_running_is_locked CHECK (status <> 'running' OR locked_at IS NOT NULL),
  CONSTRAINT ai_employee_jobs_finished_after_started CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);
CREATE UNIQUE INDEX ai_employee_jobs_tenant_idempotency_key ON ai_employee_jobs (tenant_id, idempotency_key);
CREATE INDEX ai_employee_jobs_tenant_requested_by_idx ON ai_employee_jobs (tenant_id, requested_by);
CREATE INDEX ai_employee_jobs_tenant_created_idx ON ai_employee_jobs (tenant_id, created_at DESC);
-- Workers (cross-tenant, as rowguard_admin) claim due jobs with
-- FOR UPDATE SKIP LOCKED in next_attempt_at order; stale locks are found by locked_at.
CREATE INDEX ai_employee_jobs_due_idx ON ai_employee_jobs (next_attempt_at) WHERE status IN ('queued', 'failed');
CREATE INDEX ai_employee_jobs_running_idx ON ai_employee_jobs (locked_at) WHERE status = 'running';
CREATE TRIGGER set_updated_at BEFORE UPDATE ON ai_employee_jobs FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON ai_employee_jobs FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE ai_employee_jobs IS 'A unit of work for an AI employee (drafting, research, follow-ups), run by workers with retries.';
COMMENT ON COLUMN ai_employee_jobs.kind IS 'What the job does, a lowercase dotted name (e.g. email.draft_follow_up).';
COMMENT ON COLUMN ai_employee_jobs.input IS 'JSON object of the job''s parameters.';
COMMENT ON COLUMN ai_employee_jobs.status IS 'queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts left).';
COMMENT ON COLUMN ai_employee_jobs.idempotency_key IS 'Caller-chosen key; unique per tenant, so a job is enqueued at most once.';
COMMENT ON COLUMN ai_employee_jobs.attempts IS 'How many attempts have started; never more than max_attempts.';
COMMENT ON COLUMN ai_employee_jobs.max_attempts IS 'Attempts allowed before the job goes dead.';
COMMENT ON COLUMN ai_employee_jobs.next_attempt_at IS 'When the job is next due (queued, or failed and awaiting retry).';
COMMENT ON COLUMN ai_employee_jobs.last_error IS 'Error of the latest failed attempt.';
COMMENT ON COLUMN ai_employee_jobs.locked_at IS 'When a worker claimed the job; set together with locked_by, and always while running.';
COMMENT ON COLUMN ai_employee_jobs.locked_by IS 'Identifier of the worker holding the job (host and process).';
COMMENT ON COLUMN ai_employee_jobs.requested_by IS 'The user who asked for the job; NULL for jobs from automations, or once that user is deleted.';
COMMENT ON COLUMN ai_employee_jobs.started_at IS 'When the latest attempt started.';
COMMENT ON COLUMN ai_employee_jobs.finished_at IS 'When the job succeeded or went dead.';

CREATE TABLE ai_employee_outputs (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  job_id uuid NOT NULL,
  content text,
  data jsonb,
  model text NOT NULL,
  prompt_tokens int,
  completion_tokens int,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, job_id) REFERENCES ai_employee_jobs (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT ai_employee_outputs_has_output CHECK (content IS NOT NULL OR data IS NOT NULL),
  CONSTRAINT ai_employee_outputs_model_not_blank CHECK (btrim(model) <> ''),
  CONSTRAINT ai_employee_outputs_tokens_nonnegative CHECK (prompt_tokens >= 0 AND completion_tokens >= 0)
);
CREATE INDEX ai_employee_outputs_tenant_job_idx ON ai_employee_outputs (tenant_id, job_id, created_at DESC);
CREATE INDEX ai_employee_outputs_tenant_created_idx ON ai_employee_outputs (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON ai_employee_outputs FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON ai_employee_outputs FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE ai_employee_outputs IS 'What an AI employee job produced: text, structured JSON, or both.';
COMMENT ON COLUMN ai_employee_outputs.content IS 'Text output (a draft, a report); NULL when the output is only structured.';
COMMENT ON COLUMN ai_employee_outputs.data IS 'Structured JSON output; NULL when the output is only text. At least one of content and data is set.';
COMMENT ON COLUMN ai_employee_outputs.model IS 'The language model that produced the output.';
COMMENT ON COLUMN ai_employee_outputs.prompt_tokens IS 'Input tokens billed for the output, when the provider reports them.';
COMMENT ON COLUMN ai_employee_outputs.completion_tokens IS 'Output tokens billed for the output, when the provider reports them.';
