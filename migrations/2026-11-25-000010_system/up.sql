-- System group: events, notifications, files, audit_log.

CREATE TABLE events (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  event_type text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  actor_user_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, actor_user_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (actor_user_id),
  CONSTRAINT events_event_type_format CHECK (event_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  CONSTRAINT events_payload_object CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX events_tenant_type_idx ON events (tenant_id, event_type, created_at DESC);
CREATE INDEX events_tenant_actor_idx ON events (tenant_id, actor_user_id);
CREATE INDEX events_tenant_created_idx ON events (tenant_id, created_at DESC);
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON events FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE events IS 'Domain events (deal.created, meeting.completed, ...) that automations react to; written once, not edited.';
COMMENT ON COLUMN events.event_type IS 'Dotted lowercase name, entity then verb (deal.stage_changed).';
COMMENT ON COLUMN events.payload IS 'JSON object describing the event; automations match triggers against it.';
COMMENT ON COLUMN events.actor_user_id IS 'The user whose action raised the event; NULL for system events or once that user is deleted.';

CREATE TABLE notifications (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  user_id uuid NOT NULL,
  kind text NOT NULL,
  title text NOT NULL,
  body text,
  link text,
  read_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT notifications_kind_format CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
  CONSTRAINT notifications_title_not_blank CHECK (btrim(title) <> '')
);
CREATE INDEX notifications_tenant_user_idx ON notifications (tenant_id, user_id, created_at DESC);
CREATE INDEX notifications_tenant_user_unread_idx ON notifications (tenant_id, user_id, created_at DESC) WHERE read_at IS NULL;
CREATE INDEX notifications_tenant_created_idx ON notifications (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON notifications FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON notifications FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE notifications IS 'A message to one user of the tenant (a mention, an assignment, a finished job).';
COMMENT ON COLUMN notifications.user_id IS 'The recipient; their notifications go when the user is deleted.';
COMMENT ON COLUMN notifications.kind IS 'Lowercase name of what happened (task.assigned, mention, ...), for icons and preferences.';
COMMENT ON COLUMN notifications.link IS 'Application path to open when the notification is clicked.';
COMMENT ON COLUMN notifications.read_at IS 'When the recipient read it; NULL while unread.';

CREATE TABLE files (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  storage_key text NOT NULL,
  file_name text NOT NULL,
  size_bytes bigint NOT NULL,
  mime_type text NOT NULL,
  sha256 bytea NOT NULL,
  uploaded_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, uploaded_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (uploaded_by),
  CONSTRAINT files_tenant_storage_key_key UNIQUE (tenant_id, storage_key),
  CONSTRAINT files_storage_key_not_blank CHECK (btrim(storage_key) <> ''),
  CONSTRAINT files_file_name_not_blank CHECK (btrim(file_name) <> ''),
  CONSTRAINT files_size_nonnegative CHECK (size_bytes >= 0),
  CONSTRAINT files_mime_type_format CHECK (mime_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'),
  CONSTRAINT files_sha256_length CHECK (octet_length(sha256) = 32)
);
CREATE INDEX files_tenant_sha256_idx ON files (tenant_id, sha256);
CREATE INDEX files_tenant_uploaded_by_idx ON files (tenant_id, uploaded_by);
CREATE INDEX files_tenant_created_idx ON files (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON files FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON files FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE files IS 'An uploaded file''s metadata; the bytes live in object storage under storage_key.';
COMMENT ON COLUMN files.storage_key IS 'Object-storage key of the bytes; unique per tenant.';
COMMENT ON COLUMN files.file_name IS 'The file name as uploaded, shown to users.';
COMMENT ON COLUMN files.size_bytes IS 'Size in bytes, never negative.';
COMMENT ON COLUMN files.mime_type IS 'Media type, lowercase type/subtype without parameters (application/pdf).';
COMMENT ON COLUMN files.sha256 IS 'SHA-256 of the bytes (32 bytes), for integrity checks and de-duplication.';
COMMENT ON COLUMN files.uploaded_by IS 'The user who uploaded the file; NULL for files from integrations or once that user is deleted.';

CREATE TABLE audit_log (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  actor_user_id uuid,
  actor text NOT NULL,
  action text NOT NULL,
  target_type text NOT NULL,
  target_id uuid,
  changes jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, actor_user_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (actor_user_id),
  CONSTRAINT audit_log_actor_not_blank CHECK (btrim(actor) <> ''),
  CONSTRAINT audit_log_action_format CHECK (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
  CONSTRAINT audit_log_target_type_format CHECK (target_type ~ '^[a-z][a-z0-9_]{0,63}$'),
  CONSTRAINT audit_log_changes_object CHECK (jsonb_typeof(changes) = 'object')
);
CREATE INDEX audit_log_tenant_actor_idx ON audit_log (tenant_id, actor_user_id);
CREATE INDEX audit_log_tenant_target_idx ON audit_log (tenant_id, target_type, target_id, created_at DESC);
CREATE INDEX audit_log_tenant_created_idx ON audit_log (tenant_id, created_at DESC);
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON audit_log FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE audit_log IS 'Append-only record of security-relevant actions. The application and admin roles may only SELECT and INSERT here.';
COMMENT ON COLUMN audit_log.actor_user_id IS 'The user who acted, when a user did; NULL for system actors or once that user is deleted (actor keeps the description).';
COMMENT ON COLUMN audit_log.actor IS 'Who acted, as text that survives deletion: the user e-mail, "system", or "automation:" or "admin:" followed by the automation id or operator name.';
COMMENT ON COLUMN audit_log.action IS 'What was done, lowercase dotted (user.invited, integration.connected, tenant.plan_changed).';
COMMENT ON COLUMN audit_log.target_type IS 'Table (or kind) of the row acted on.';
COMMENT ON COLUMN audit_log.target_id IS 'id of the row acted on, when there is one.';
COMMENT ON COLUMN audit_log.changes IS 'JSON object of what changed, e.g. {"role": ["member", "admin"]}; never secrets.';
