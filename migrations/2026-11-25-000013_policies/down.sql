-- Undoes the policies migration (written by hand; up.sql is generated from policies/
-- by scripts/sync-policies), in reverse order: role tiers, look-up functions, grants,
-- then RLS. It is the last migration, so every table it covers exists when it runs.
-- `REVOKE CREATE ON SCHEMA public FROM PUBLIC` is deliberately not undone: it is
-- PostgreSQL 15's default, and granting CREATE to PUBLIC would weaken the database.
-- Nor is `REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC`, for the same reason.
-- (rowguard_admin's rights on embedding_counts were granted by
-- 2026-11-25-000012_embedding_counts, whose counting functions need them, and go with
-- the table when that migration is reverted.)

-- embedding_counts (policies/20_grants.sql, policies/10_tenant_isolation.sql)
REVOKE ALL ON embedding_counts FROM rowguard_app;

DROP POLICY IF EXISTS tenant_isolation ON embedding_counts;
ALTER TABLE embedding_counts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE embedding_counts DISABLE ROW LEVEL SECURITY;

-- policies/40_role_tiers.sql
DROP POLICY IF EXISTS role_tier_delete ON files;
DROP POLICY IF EXISTS role_tier ON files;
DROP POLICY IF EXISTS role_tier_delete ON events;
DROP POLICY IF EXISTS role_tier ON events;
DROP POLICY IF EXISTS role_tier_delete ON hub_links;
DROP POLICY IF EXISTS role_tier ON hub_links;
DROP POLICY IF EXISTS role_tier_delete ON ai_employee_outputs;
DROP POLICY IF EXISTS role_tier ON ai_employee_outputs;
DROP POLICY IF EXISTS role_tier_delete ON ai_employee_jobs;
DROP POLICY IF EXISTS role_tier ON ai_employee_jobs;
DROP POLICY IF EXISTS role_tier_delete ON automation_runs;
DROP POLICY IF EXISTS role_tier ON automation_runs;
DROP POLICY IF EXISTS role_tier_delete ON tasks;
DROP POLICY IF EXISTS role_tier ON tasks;
DROP POLICY IF EXISTS role_tier_delete ON meeting_embeddings;
DROP POLICY IF EXISTS role_tier ON meeting_embeddings;
DROP POLICY IF EXISTS role_tier_delete ON meeting_summaries;
DROP POLICY IF EXISTS role_tier ON meeting_summaries;
DROP POLICY IF EXISTS role_tier_delete ON transcripts;
DROP POLICY IF EXISTS role_tier ON transcripts;
DROP POLICY IF EXISTS role_tier_delete ON meeting_participants;
DROP POLICY IF EXISTS role_tier ON meeting_participants;
DROP POLICY IF EXISTS role_tier_delete ON meetings;
DROP POLICY IF EXISTS role_tier ON meetings;
DROP POLICY IF EXISTS role_tier_delete ON deal_activity_embeddings;
DROP POLICY IF EXISTS role_tier ON deal_activity_embeddings;
DROP POLICY IF EXISTS role_tier_delete ON deal_activities;
DROP POLICY IF EXISTS role_tier ON deal_activities;
DROP POLICY IF EXISTS role_tier_delete ON deals;
DROP POLICY IF EXISTS role_tier ON deals;
DROP POLICY IF EXISTS role_tier_delete ON contacts;
DROP POLICY IF EXISTS role_tier ON contacts;
DROP POLICY IF EXISTS role_tier_delete ON companies;
DROP POLICY IF EXISTS role_tier ON companies;
DROP POLICY IF EXISTS role_tier_delete ON document_embeddings;
DROP POLICY IF EXISTS role_tier ON document_embeddings;
DROP POLICY IF EXISTS role_tier_delete ON documents;
DROP POLICY IF EXISTS role_tier ON documents;
DROP POLICY IF EXISTS role_tier ON audit_log;
DROP POLICY IF EXISTS role_tier ON notifications;
DROP POLICY IF EXISTS role_tier_delete ON automations;
DROP POLICY IF EXISTS role_tier ON automations;
DROP POLICY IF EXISTS role_tier_delete ON integrations;
DROP POLICY IF EXISTS role_tier ON integrations;
DROP POLICY IF EXISTS role_tier_delete ON invites;
DROP POLICY IF EXISTS role_tier_update ON invites;
DROP POLICY IF EXISTS role_tier ON invites;
DROP POLICY IF EXISTS role_tier ON sessions;
DROP POLICY IF EXISTS role_tier_delete ON users;
DROP POLICY IF EXISTS role_tier_update ON users;
DROP POLICY IF EXISTS role_tier ON users;
DROP POLICY IF EXISTS role_tier ON tenants;

-- policies/30_lookups.sql
DROP FUNCTION IF EXISTS rowguard.resolve_tenant_host(text);
DROP FUNCTION IF EXISTS rowguard.resolve_tenant_slug(text);
DROP FUNCTION IF EXISTS rowguard.resolve_invite(text);
DROP FUNCTION IF EXISTS rowguard.resolve_session(text);

-- policies/20_grants.sql
REVOKE ALL ON
  audit_log,
  files,
  notifications,
  events,
  integrations,
  hub_links,
  ai_employee_outputs,
  ai_employee_jobs,
  automation_runs,
  automations,
  tasks,
  meeting_embeddings,
  meeting_summaries,
  transcripts,
  meeting_participants,
  meetings,
  deal_activity_embeddings,
  deal_activities,
  deals,
  companies,
  contacts,
  document_embeddings,
  documents,
  invites,
  sessions,
  users,
  tenants
  FROM rowguard_app, rowguard_admin;
REVOKE EXECUTE ON FUNCTION
  rowguard.current_tenant_id(),
  rowguard.current_user_id(),
  rowguard.current_member_role(),
  rowguard.uuid_v7()
  FROM rowguard_app, rowguard_admin;
REVOKE USAGE ON SCHEMA public, rowguard FROM rowguard_app, rowguard_admin;

-- policies/10_tenant_isolation.sql
DROP POLICY IF EXISTS tenant_isolation ON audit_log;
ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_log DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON files;
ALTER TABLE files NO FORCE ROW LEVEL SECURITY;
ALTER TABLE files DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON notifications;
ALTER TABLE notifications NO FORCE ROW LEVEL SECURITY;
ALTER TABLE notifications DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON events;
ALTER TABLE events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE events DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON integrations;
ALTER TABLE integrations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE integrations DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON hub_links;
ALTER TABLE hub_links NO FORCE ROW LEVEL SECURITY;
ALTER TABLE hub_links DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON ai_employee_outputs;
ALTER TABLE ai_employee_outputs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_employee_outputs DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON ai_employee_jobs;
ALTER TABLE ai_employee_jobs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_employee_jobs DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON automation_runs;
ALTER TABLE automation_runs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE automation_runs DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON automations;
ALTER TABLE automations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE automations DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tasks;
ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tasks DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON meeting_embeddings;
ALTER TABLE meeting_embeddings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE meeting_embeddings DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON meeting_summaries;
ALTER TABLE meeting_summaries NO FORCE ROW LEVEL SECURITY;
ALTER TABLE meeting_summaries DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON transcripts;
ALTER TABLE transcripts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE transcripts DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON meeting_participants;
ALTER TABLE meeting_participants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE meeting_participants DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON meetings;
ALTER TABLE meetings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE meetings DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON deal_activity_embeddings;
ALTER TABLE deal_activity_embeddings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_activity_embeddings DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON deal_activities;
ALTER TABLE deal_activities NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_activities DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON deals;
ALTER TABLE deals NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deals DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON companies;
ALTER TABLE companies NO FORCE ROW LEVEL SECURITY;
ALTER TABLE companies DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON contacts;
ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON document_embeddings;
ALTER TABLE document_embeddings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE document_embeddings DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON documents;
ALTER TABLE documents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE documents DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON invites;
ALTER TABLE invites NO FORCE ROW LEVEL SECURITY;
ALTER TABLE invites DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON sessions;
ALTER TABLE sessions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sessions DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON users;
ALTER TABLE users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE users DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tenants;
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants DISABLE ROW LEVEL SECURITY;
