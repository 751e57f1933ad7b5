-- Tasks group: tasks.

CREATE TYPE task_status AS ENUM ('todo', 'in_progress', 'done', 'cancelled');
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high', 'urgent');

CREATE TABLE tasks (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  title text NOT NULL,
  description text,
  status task_status NOT NULL DEFAULT 'todo',
  priority task_priority NOT NULL DEFAULT 'medium',
  assignee_id uuid,
  due_at timestamptz,
  completed_at timestamptz,
  deal_id uuid,
  meeting_id uuid,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, assignee_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (assignee_id),
  FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id) ON DELETE SET NULL (deal_id),
  FOREIGN KEY (tenant_id, meeting_id) REFERENCES meetings (tenant_id, id) ON DELETE SET NULL (meeting_id),
  FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (created_by),
  CONSTRAINT tasks_title_not_blank CHECK (btrim(title) <> ''),
  CONSTRAINT tasks_completed_only_when_done CHECK (completed_at IS NULL OR status = 'done')
);
CREATE INDEX tasks_tenant_assignee_idx ON tasks (tenant_id, assignee_id, status, due_at);
CREATE INDEX tasks_tenant_deal_idx ON tasks (tenant_id, deal_id);
CREATE INDEX tasks_tenant_meeting_idx ON tasks (tenant_id, meeting_id);
CREATE INDEX tasks_tenant_created_by_idx ON tasks (tenant_id, created_by);
CREATE INDEX tasks_tenant_open_due_idx ON tasks (tenant_id, due_at) WHERE status IN ('todo', 'in_progress');
CREATE INDEX tasks_tenant_created_idx ON tasks (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON tasks FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE tasks IS 'A to-do item, optionally assigned to a user and related to a deal or a meeting.';
COMMENT ON COLUMN tasks.status IS 'todo, in_progress, done or cancelled.';
COMMENT ON COLUMN tasks.priority IS 'low, medium, high or urgent.';
COMMENT ON COLUMN tasks.assignee_id IS 'The user who should do the task; NULL when unassigned or once that user is deleted.';
COMMENT ON COLUMN tasks.completed_at IS 'When the task was done; only set while status is done.';
COMMENT ON COLUMN tasks.deal_id IS 'The deal the task belongs to; NULL when none or once the deal is deleted.';
COMMENT ON COLUMN tasks.meeting_id IS 'The meeting the task came from; NULL when none or once the meeting is deleted.';
COMMENT ON COLUMN tasks.created_by IS 'The user who created the task; NULL for tasks created by automations or AI employees, or once that user is deleted.';
