-- CRM group: companies, contacts, deals, deal_activities, deal_activity_embeddings.
-- companies comes first: contacts and deals refer to it.

CREATE TYPE deal_stage AS ENUM ('lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost');
CREATE TYPE deal_activity_kind AS ENUM ('note', 'call', 'email', 'meeting', 'task');

CREATE TABLE companies (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  name text NOT NULL,
  domain text,
  industry text,
  owner_id uuid,
  notes text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id),
  CONSTRAINT companies_name_not_blank CHECK (btrim(name) <> ''),
  CONSTRAINT companies_domain_lower CHECK (domain = lower(domain) AND domain ~ '^[a-z0-9.-]+\.[a-z]{2,}$')
);
CREATE UNIQUE INDEX companies_tenant_domain_key ON companies (tenant_id, domain) WHERE domain IS NOT NULL;
CREATE INDEX companies_tenant_owner_idx ON companies (tenant_id, owner_id);
CREATE INDEX companies_tenant_created_idx ON companies (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON companies FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON companies FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE companies IS 'An organisation a tenant does business with (CRM account).';
COMMENT ON COLUMN companies.domain IS 'The company''s web domain, lowercase (example.com); unique per tenant, used to match contacts by e-mail.';
COMMENT ON COLUMN companies.owner_id IS 'The user responsible for the account; NULL when unassigned or once that user is deleted.';

CREATE TABLE contacts (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  company_id uuid,
  full_name text NOT NULL,
  email text,
  phone text,
  job_title text,
  owner_id uuid,
  notes text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE SET NULL (company_id),
  FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id),
  CONSTRAINT contacts_full_name_not_blank CHECK (btrim(full_name) <> ''),
  CONSTRAINT contacts_email_format CHECK (position('@' IN email) > 1)
);
CREATE UNIQUE INDEX contacts_tenant_email_key ON contacts (tenant_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX contacts_tenant_company_idx ON contacts (tenant_id, company_id);
CREATE INDEX contacts_tenant_owner_idx ON contacts (tenant_id, owner_id);
CREATE INDEX contacts_tenant_created_idx ON contacts (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON contacts FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON contacts FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE contacts IS 'A person a tenant deals with (CRM contact), optionally at a company.';
COMMENT ON COLUMN contacts.company_id IS 'The contact''s company; NULL when unknown or once the company is deleted.';
COMMENT ON COLUMN contacts.email IS 'E-mail address; unique per tenant, case-insensitively, when present.';
COMMENT ON COLUMN contacts.owner_id IS 'The user responsible for the contact; NULL when unassigned or once that user is deleted.';

CREATE TABLE deals (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  title text NOT NULL,
  stage deal_stage NOT NULL DEFAULT 'lead',
  value_minor bigint NOT NULL DEFAULT 0,
  currency char(3) NOT NULL DEFAULT 'USD',
  probability smallint NOT NULL DEFAULT 0,
  company_id uuid,
  contact_id uuid,
  owner_id uuid,
  expected_close_on date,
  closed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, company_id) REFERENCES companies (tenant_id, id) ON DELETE SET NULL (company_id),
  FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (contact_id),
  FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (owner_id),
  CONSTRAINT deals_title_not_blank CHECK (btrim(title) <> ''),
  CONSTRAINT deals_value_nonnegative CHECK (value_minor >= 0),
  CONSTRAINT deals_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$'),
  CONSTRAINT deals_probability_percent CHECK (probability BETWEEN 0 AND 100),
  CONSTRAINT deals_closed_only_when_won_or_lost CHECK (closed_at IS NULL OR stage IN ('won', 'lost'))
);
CREATE INDEX deals_tenant_company_idx ON deals (tenant_id, company_id);
CREATE INDEX deals_tenant_contact_idx ON deals (tenant_id, contact_id);
CREATE INDEX deals_tenant_owner_idx ON deals (tenant_id, owner_id);
CREATE INDEX deals_tenant_stage_idx ON deals (tenant_id, stage, updated_at DESC);
CREATE INDEX deals_tenant_created_idx ON deals (tenant_id, created_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON deals FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON deals FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE deals IS 'A sales opportunity moving through the pipeline stages.';
COMMENT ON COLUMN deals.stage IS 'Pipeline stage: lead, qualified, proposal, negotiation, then won or lost.';
COMMENT ON COLUMN deals.value_minor IS 'Expected value in minor units of currency (cents for USD), never negative; an integer so sums are exact.';
COMMENT ON COLUMN deals.currency IS 'ISO 4217 currency code, three uppercase letters.';
COMMENT ON COLUMN deals.probability IS 'Estimated chance of winning, in percent (0 to 100).';
COMMENT ON COLUMN deals.company_id IS 'The company the deal is with; NULL when none or once the company is deleted.';
COMMENT ON COLUMN deals.contact_id IS 'The main contact; NULL when none or once the contact is deleted.';
COMMENT ON COLUMN deals.owner_id IS 'The user responsible for the deal; NULL when unassigned or once that user is deleted.';
COMMENT ON COLUMN deals.expected_close_on IS 'The date the deal is expected to close.';
COMMENT ON COLUMN deals.closed_at IS 'When the deal was won or lost; only set in those stages.';

CREATE TABLE deal_activities (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  deal_id uuid NOT NULL,
  kind deal_activity_kind NOT NULL,
  subject text,
  body text NOT NULL DEFAULT '',
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, deal_id) REFERENCES deals (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, actor_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (actor_id)
);
CREATE INDEX deal_activities_tenant_deal_idx ON deal_activities (tenant_id, deal_id, occurred_at DESC);
CREATE INDEX deal_activities_tenant_actor_idx ON deal_activities (tenant_id, actor_id);
CREATE INDEX deal_activities_tenant_occurred_idx ON deal_activities (tenant_id, occurred_at DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON deal_activities FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON deal_activities FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE deal_activities IS 'Something that happened on a deal: a note, call, e-mail, meeting or task, in the deal''s timeline.';
COMMENT ON COLUMN deal_activities.kind IS 'note, call, email, meeting or task.';
COMMENT ON COLUMN deal_activities.subject IS 'Optional one-line summary (an e-mail subject, a call topic).';
COMMENT ON COLUMN deal_activities.occurred_at IS 'When the activity happened (may be before it was recorded); the timeline order.';
COMMENT ON COLUMN deal_activities.actor_id IS 'The user who performed it; NULL for imported or system activity, or once that user is deleted.';

CREATE TABLE deal_activity_embeddings (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  deal_activity_id uuid NOT NULL,
  chunk_index int NOT NULL,
  chunk text NOT NULL,
  model text NOT NULL,
  embedding vector(1536) NOT NULL,
  chunk_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', chunk)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, deal_activity_id) REFERENCES deal_activities (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT deal_activity_embeddings_activity_chunk_key UNIQUE (tenant_id, deal_activity_id, chunk_index),
  CONSTRAINT deal_activity_embeddings_chunk_index_nonnegative CHECK (chunk_index >= 0),
  CONSTRAINT deal_activity_embeddings_model_not_blank CHECK (btrim(model) <> '')
);
-- The unique constraint (tenant_id, deal_activity_id, chunk_index) serves the foreign
-- key and the usual order (an activity's chunks in order).
CREATE INDEX deal_activity_embeddings_chunk_tsv_idx ON deal_activity_embeddings USING gin (chunk_tsv);
-- pgvector 0.6.0-0.8.1 (CVE-2026-3172): a parallel HNSW build can corrupt memory, so
-- build the index without parallel maintenance workers. SET LOCAL ends with the
-- migration's transaction.
SET LOCAL max_parallel_maintenance_workers = 0;
CREATE INDEX deal_activity_embeddings_embedding_hnsw_idx ON deal_activity_embeddings USING hnsw (embedding vector_cosine_ops);
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON deal_activity_embeddings FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE deal_activity_embeddings IS 'One chunk of a deal activity''s text with its embedding, for semantic (HNSW, cosine) and keyword (GIN on chunk_tsv) search. Chunks are replaced, not edited.';
COMMENT ON COLUMN deal_activity_embeddings.chunk_index IS 'Position of the chunk within the activity, from 0; unique per activity.';
COMMENT ON COLUMN deal_activity_embeddings.chunk IS 'The chunk''s text, as embedded.';
COMMENT ON COLUMN deal_activity_embeddings.model IS 'The embedding model that produced the vector; vectors of different models do not compare.';
COMMENT ON COLUMN deal_activity_embeddings.embedding IS '1536-dimension embedding of chunk, compared by cosine distance (<=>).';
COMMENT ON COLUMN deal_activity_embeddings.chunk_tsv IS 'Generated: to_tsvector(''english'', chunk), for keyword and hybrid search.';
