-- Automations group: automations, automation_runs. Also job_status, shared by
-- automation_runs and ai_employee_jobs (next migration).

-- queued: waiting for next_attempt_at; running: claimed by a worker; succeeded: done;
-- failed: the last attempt failed and another is scheduled at next_attempt_at;
-- dead: failed with no attempts left, needs a human.
CREATE TYPE job_status AS ENUM ('queued', 'running', 'succeeded', 'failed', 'dead');

CREATE TABLE automations (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  name text NOT NULL,
  description text,
  trigger jsonb NOT NULL,
  action jsonb NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (created_by),
  CONSTRAINT automations_name_not_blank CHECK (btrim(name) <> ''),
  CONSTRAINT automations_trigger_object CHECK (jsonb_typeof(trigger) = 'object'),
  CONSTRAINT automations_action_object CHECK (jsonb_typeof(action) = 'object')
);
CREATE UNIQUE INDEX automations_tenant_name_key ON automations (tenant_id, lower(name));
CREATE INDEX automations_tenant_created_by_idx ON automations (tenant_id, created_by);
CREATE INDEX automations_tenant_created_idx ON automations (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON automations FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON automations FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE automations IS 'A rule: when trigger matches an event, run action. Each firing is an automation_runs row.';
COMMENT ON COLUMN automations.name IS 'Name shown to users; unique per tenant, case-insensitively.';
COMMENT ON COLUMN automations.trigger IS 'JSON object describing what fires the automation (event type and filters).';
COMMENT ON COLUMN automations.action IS 'JSON object describing what the automation does when fired.';
COMMENT ON COLUMN automations.enabled IS 'Disabled automations keep their history but do not fire.';
COMMENT ON COLUMN automations.created_by IS 'The user who created the automation; NULL once that user is deleted.';

CREATE TABLE automation_runs (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  automation_id uuid NOT NULL,
  status job_status NOT NULL DEFAULT 'queued',
  idempotency_key text NOT NULL,
  input jsonb NOT NULL DEFAULT '{}'::jsonb,
  output jsonb,
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, automation_id) REFERENCES automations (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT automation_runs_idempotency_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  CONSTRAINT automation_runs_attempts_nonnegative CHECK (attempts >= 0),
  CONSTRAINT automation_runs_finished_after_started CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);
CREATE UNIQUE INDEX automation_runs_tenant_idempotency_key ON automation_runs (tenant_id, idempotency_key);
CREATE INDEX automation_runs_tenant_automation_idx ON automation_runs (tenant_id, automation_id, created_at DESC);
CREATE INDEX automation_runs_tenant_created_idx ON automation_runs (tenant_id, created_at DESC);
-- Workers (cross-tenant, as rowguard_admin) pick due runs by time.
CREATE INDEX automation_runs_due_idx ON automation_runs (next_attempt_at) WHERE status IN ('queued', 'failed');
CREATE TRIGGER set_updated_at BEFORE UPDATE ON automation_runs FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON automation_runs FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE automation_runs IS 'One firing of an automation, retried with backoff until it succeeds or is dead.';
COMMENT ON COLUMN automation_runs.status IS 'queued, running, succeeded, failed (a retry is scheduled) or dead (no attempts left).';
COMMENT ON COLUMN automation_runs.idempotency_key IS 'Caller-chosen key (e.g. the triggering event id); unique per tenant, so a firing is enqueued at most once.';
COMMENT ON COLUMN automation_runs.input IS 'JSON the run acts on (the triggering event''s payload).';
COMMENT ON COLUMN automation_runs.output IS 'JSON result of a successful run; NULL until then.';
COMMENT ON COLUMN automation_runs.attempts IS 'How many attempts have started.';
COMMENT ON COLUMN automation_runs.next_attempt_at IS 'When the run is next due (queued, or failed and awaiting retry).';
COMMENT ON COLUMN automation_runs.last_error IS 'Error of the latest failed attempt.';
COMMENT ON COLUMN automation_runs.started_at IS 'When the latest attempt started.';
COMMENT ON COLUMN automation_runs.finished_at IS 'When the run succeeded or went dead.';
