-- Job queue (README "Job queues"): work a tenant enqueues inside its own transaction
-- and a worker runs later, inside that tenant's verified context.
--
-- A job lives here from enqueue until it completes (the handler's transaction deletes
-- it), or until it is dead-lettered after its last attempt (state dead, kept until
-- requeued or deleted). Claiming crosses tenants and runs on the admin path
-- (rowguard::jobs); everything a handler does, completing the job included, runs in
-- the job's tenant context through the tenant pool, under RLS like any tenant table.
--
-- Not audited: enqueue, claim, heartbeat and completion are the queue's own
-- bookkeeping, several writes per job; the handler's writes to tenant tables are
-- audited as the tenant's service context.

CREATE TYPE job_state AS ENUM ('ready', 'running', 'dead');

CREATE TABLE jobs (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  kind text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  priority smallint NOT NULL DEFAULT 0,
  run_at timestamptz NOT NULL DEFAULT now(),
  state job_state NOT NULL DEFAULT 'ready',
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 10,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  idempotency_key text,
  locked_by text,
  lease_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  dead_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT jobs_idempotency_key_unique UNIQUE (tenant_id, idempotency_key),
  CONSTRAINT jobs_kind_format CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' AND length(kind) <= 100),
  CONSTRAINT jobs_payload_object CHECK (jsonb_typeof(payload) = 'object'),
  CONSTRAINT jobs_attempts_range CHECK (max_attempts BETWEEN 1 AND 1000 AND attempts BETWEEN 0 AND max_attempts),
  CONSTRAINT jobs_lease_while_running CHECK ((state = 'running') = (locked_by IS NOT NULL AND lease_expires_at IS NOT NULL)),
  CONSTRAINT jobs_dead_at_while_dead CHECK ((state = 'dead') = (dead_at IS NOT NULL)),
  CONSTRAINT jobs_idempotency_key_length CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 200)
);
-- Claiming: the next tenant with a ready job (a skip scan over tenant_id), then that
-- tenant's jobs by priority and due time.
CREATE INDEX jobs_ready_idx ON jobs (tenant_id, priority, next_attempt_at, id) WHERE state = 'ready';
-- The reaper (expired leases) and the heartbeat (one worker's jobs).
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_running_worker_idx ON jobs (locked_by) WHERE state = 'running';
-- Dead letters, by tenant and kind.
CREATE INDEX jobs_dead_idx ON jobs (tenant_id, kind, dead_at) WHERE state = 'dead';
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON jobs FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();

COMMENT ON TABLE jobs IS 'Job queue: work enqueued in a tenant transaction and run later by a worker in that tenant''s context; deleted when done, kept as dead after the last attempt. Not audited (queue bookkeeping).';
COMMENT ON COLUMN jobs.kind IS 'What to do, lowercase dotted (email.send); a worker runs the kinds it has handlers for.';
COMMENT ON COLUMN jobs.payload IS 'JSON object handed to the handler.';
COMMENT ON COLUMN jobs.priority IS 'Within a tenant, lower runs first (default 0). Across tenants, claims take turns by tenant.';
COMMENT ON COLUMN jobs.run_at IS 'When the job was asked to run first.';
COMMENT ON COLUMN jobs.state IS 'ready (waiting for next_attempt_at), running (claimed, under a lease) or dead (out of attempts).';
COMMENT ON COLUMN jobs.attempts IS 'How many times the job has been claimed.';
COMMENT ON COLUMN jobs.max_attempts IS 'Claims allowed before the job is dead-lettered.';
COMMENT ON COLUMN jobs.next_attempt_at IS 'When the job may be claimed next: run_at, then after each failure now plus an exponential backoff with jitter.';
COMMENT ON COLUMN jobs.last_error IS 'The last failure: the handler''s error, a panic, or an expired lease.';
COMMENT ON COLUMN jobs.idempotency_key IS 'Per tenant: enqueueing a key that a live or dead job holds returns that job instead of a new one.';
COMMENT ON COLUMN jobs.locked_by IS 'The worker holding the job while it runs.';
COMMENT ON COLUMN jobs.lease_expires_at IS 'While running: when the reaper may return the job to ready unless the worker''s heartbeat extends it.';
COMMENT ON COLUMN jobs.dead_at IS 'When the job was dead-lettered.';

-- Wake-ups: one notification per inserting statement, sent at commit (so a worker never
-- wakes for a job it cannot see yet). The payload is empty: a worker claims whatever is
-- ready. Workers behind a transaction-mode pooler do not receive it and poll.
CREATE FUNCTION rowguard.notify_jobs() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  PERFORM pg_catalog.pg_notify('rowguard_jobs', '');
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION rowguard.notify_jobs() IS 'Trigger (AFTER INSERT, FOR EACH STATEMENT on jobs): NOTIFY rowguard_jobs, which waiting workers LISTEN on.';
CREATE TRIGGER notify_workers AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION rowguard.notify_jobs();
