-- Hub group: hub_links, integrations.

CREATE TYPE hub_entity_type AS ENUM (
  'document', 'contact', 'company', 'deal', 'deal_activity', 'meeting', 'task', 'automation', 'file'
);
CREATE TYPE integration_status AS ENUM ('pending', 'active', 'error', 'disabled');

CREATE TABLE hub_links (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  from_type hub_entity_type NOT NULL,
  from_id uuid NOT NULL,
  to_type hub_entity_type NOT NULL,
  to_id uuid NOT NULL,
  label text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (created_by),
  CONSTRAINT hub_links_tenant_from_to_key UNIQUE (tenant_id, from_type, from_id, to_type, to_id),
  CONSTRAINT hub_links_not_self CHECK (from_type <> to_type OR from_id <> to_id)
);
-- The unique constraint serves look-ups from an entity; this one serves look-ups to it.
CREATE INDEX hub_links_tenant_to_idx ON hub_links (tenant_id, to_type, to_id);
CREATE INDEX hub_links_tenant_created_by_idx ON hub_links (tenant_id, created_by);
CREATE INDEX hub_links_tenant_created_idx ON hub_links (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON hub_links FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON hub_links FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE hub_links IS 'A directed link between two business rows of a tenant (a document to a deal, a meeting to a company, ...). Polymorphic, so there are no foreign keys to the linked rows: deleting a row leaves its links to be cleaned up by the application.';
COMMENT ON COLUMN hub_links.from_type IS 'Table of the source row (document, contact, company, deal, deal_activity, meeting, task, automation, file).';
COMMENT ON COLUMN hub_links.from_id IS 'id of the source row, in the table named by from_type, of the same tenant.';
COMMENT ON COLUMN hub_links.to_type IS 'Table of the target row.';
COMMENT ON COLUMN hub_links.to_id IS 'id of the target row, in the table named by to_type, of the same tenant.';
COMMENT ON COLUMN hub_links.label IS 'Optional relation name shown to users (e.g. "contract for").';
COMMENT ON COLUMN hub_links.created_by IS 'The user who made the link; NULL for automatic links or once that user is deleted.';

CREATE TABLE integrations (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  provider text NOT NULL,
  status integration_status NOT NULL DEFAULT 'pending',
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  credentials_encrypted bytea,
  last_synced_at timestamptz,
  last_error text,
  connected_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, connected_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (connected_by),
  CONSTRAINT integrations_tenant_provider_key UNIQUE (tenant_id, provider),
  CONSTRAINT integrations_provider_format CHECK (provider ~ '^[a-z][a-z0-9_-]{0,63}$'),
  CONSTRAINT integrations_config_object CHECK (jsonb_typeof(config) = 'object'),
  CONSTRAINT integrations_credentials_not_empty CHECK (octet_length(credentials_encrypted) > 0)
);
CREATE INDEX integrations_tenant_connected_by_idx ON integrations (tenant_id, connected_by);
CREATE INDEX integrations_tenant_created_idx ON integrations (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON integrations FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON integrations FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE integrations IS 'A connection of the tenant to an outside service (calendar, e-mail, CRM import, ...); at most one per provider.';
COMMENT ON COLUMN integrations.provider IS 'The service, a lowercase identifier (google_calendar, slack, ...); unique per tenant.';
COMMENT ON COLUMN integrations.status IS 'pending (not yet authorised), active, error (see last_error) or disabled.';
COMMENT ON COLUMN integrations.config IS 'Non-secret settings as a JSON object; secrets go in credentials_encrypted.';
COMMENT ON COLUMN integrations.credentials_encrypted IS 'Tokens and keys, encrypted by the application (AEAD) before they reach the database; never plaintext. NULL until authorised.';
COMMENT ON COLUMN integrations.last_synced_at IS 'When the last successful sync finished.';
COMMENT ON COLUMN integrations.last_error IS 'Error of the last failed sync or authorisation.';
COMMENT ON COLUMN integrations.connected_by IS 'The user who connected the integration; NULL once that user is deleted.';
