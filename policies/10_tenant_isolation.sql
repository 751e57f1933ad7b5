-- Tenant isolation: every table is filtered to the transaction's tenant
-- (app.tenant_id, read by rowguard.current_tenant_id()).
--
-- ENABLE turns RLS on; FORCE applies it to the table owner as well. Superusers and
-- BYPASSRLS roles (rowguard_admin) are never filtered. The policy applies to PUBLIC,
-- so every other role, rowguard_app above all, sees and writes only rows of the
-- current tenant; with no tenant set, current_tenant_id() is NULL and no row matches.
-- `(select ...)` makes the function an init-plan evaluated once per statement.
-- Idempotent: safe to apply again.

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tenants;
CREATE POLICY tenant_isolation ON tenants
  USING (id = (select rowguard.current_tenant_id()))
  WITH CHECK (id = (select rowguard.current_tenant_id()));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON users;
CREATE POLICY tenant_isolation ON users
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON sessions;
CREATE POLICY tenant_isolation ON sessions
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE invites ENABLE ROW LEVEL SECURITY;
ALTER TABLE invites FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON invites;
CREATE POLICY tenant_isolation ON invites
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON documents;
CREATE POLICY tenant_isolation ON documents
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE document_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_embeddings FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON document_embeddings;
CREATE POLICY tenant_isolation ON document_embeddings
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON contacts;
CREATE POLICY tenant_isolation ON contacts
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE companies FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON companies;
CREATE POLICY tenant_isolation ON companies
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE deals ENABLE ROW LEVEL SECURITY;
ALTER TABLE deals FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON deals;
CREATE POLICY tenant_isolation ON deals
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE deal_activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE deal_activities FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON deal_activities;
CREATE POLICY tenant_isolation ON deal_activities
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE deal_activity_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE deal_activity_embeddings FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON deal_activity_embeddings;
CREATE POLICY tenant_isolation ON deal_activity_embeddings
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE meetings ENABLE ROW LEVEL SECURITY;
ALTER TABLE meetings FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON meetings;
CREATE POLICY tenant_isolation ON meetings
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE meeting_participants ENABLE ROW LEVEL SECURITY;
ALTER TABLE meeting_participants FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON meeting_participants;
CREATE POLICY tenant_isolation ON meeting_participants
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE transcripts ENABLE ROW LEVEL SECURITY;
ALTER TABLE transcripts FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON transcripts;
CREATE POLICY tenant_isolation ON transcripts
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE meeting_summaries ENABLE ROW LEVEL SECURITY;
ALTER TABLE meeting_summaries FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON meeting_summaries;
CREATE POLICY tenant_isolation ON meeting_summaries
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE meeting_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE meeting_embeddings FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON meeting_embeddings;
CREATE POLICY tenant_isolation ON meeting_embeddings
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tasks;
CREATE POLICY tenant_isolation ON tasks
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE automations ENABLE ROW LEVEL SECURITY;
ALTER TABLE automations FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON automations;
CREATE POLICY tenant_isolation ON automations
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE automation_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE automation_runs FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON automation_runs;
CREATE POLICY tenant_isolation ON automation_runs
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE ai_employee_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_employee_jobs FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON ai_employee_jobs;
CREATE POLICY tenant_isolation ON ai_employee_jobs
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE ai_employee_outputs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_employee_outputs FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON ai_employee_outputs;
CREATE POLICY tenant_isolation ON ai_employee_outputs
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE hub_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE hub_links FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON hub_links;
CREATE POLICY tenant_isolation ON hub_links
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integrations FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON integrations;
CREATE POLICY tenant_isolation ON integrations
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON events;
CREATE POLICY tenant_isolation ON events
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON notifications;
CREATE POLICY tenant_isolation ON notifications
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE files ENABLE ROW LEVEL SECURITY;
ALTER TABLE files FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON files;
CREATE POLICY tenant_isolation ON files
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON audit_log;
CREATE POLICY tenant_isolation ON audit_log
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE domains FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON domains;
CREATE POLICY tenant_isolation ON domains
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON jobs;
CREATE POLICY tenant_isolation ON jobs
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));

-- embedding_counts: a tenant reads its own counts (search chooses its strategy from
-- them); only the counting triggers write, as rowguard_admin (see 20_grants.sql).
ALTER TABLE embedding_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE embedding_counts FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON embedding_counts;
CREATE POLICY tenant_isolation ON embedding_counts
  USING (tenant_id = (select rowguard.current_tenant_id()))
  WITH CHECK (tenant_id = (select rowguard.current_tenant_id()));
