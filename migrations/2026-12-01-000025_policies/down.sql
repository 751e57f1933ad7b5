-- Undoes what this policies migration changed in the previous one (written by hand;
-- up.sql is generated from policies/ by scripts/sync-policies): the role tiers that
-- admit all four roles verify the context again instead of saying true. Run before
-- 2026-12-01-000024_context_roles is undone, which lets the verification admit any
-- role claim again.

DROP POLICY IF EXISTS role_tier ON tenants;
CREATE POLICY role_tier ON tenants AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin}')));

DROP POLICY IF EXISTS role_tier ON users;
CREATE POLICY role_tier ON users AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'));

DROP POLICY IF EXISTS role_tier ON integrations;
CREATE POLICY role_tier ON integrations AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin}')));

DROP POLICY IF EXISTS role_tier ON automations;
CREATE POLICY role_tier ON automations AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin}')));

DROP POLICY IF EXISTS role_tier ON domains;
CREATE POLICY role_tier ON domains AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin}')));

DROP POLICY IF EXISTS role_tier ON audit_log;
CREATE POLICY role_tier ON audit_log AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member,viewer}')));

DROP POLICY IF EXISTS role_tier ON documents;
CREATE POLICY role_tier ON documents AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON document_embeddings;
CREATE POLICY role_tier ON document_embeddings AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON companies;
CREATE POLICY role_tier ON companies AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON contacts;
CREATE POLICY role_tier ON contacts AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON deals;
CREATE POLICY role_tier ON deals AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON deal_activities;
CREATE POLICY role_tier ON deal_activities AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON deal_activity_embeddings;
CREATE POLICY role_tier ON deal_activity_embeddings AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON meetings;
CREATE POLICY role_tier ON meetings AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON meeting_participants;
CREATE POLICY role_tier ON meeting_participants AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON transcripts;
CREATE POLICY role_tier ON transcripts AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON meeting_summaries;
CREATE POLICY role_tier ON meeting_summaries AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON meeting_embeddings;
CREATE POLICY role_tier ON meeting_embeddings AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON tasks;
CREATE POLICY role_tier ON tasks AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON jobs;
CREATE POLICY role_tier ON jobs AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON automation_runs;
CREATE POLICY role_tier ON automation_runs AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON ai_employee_jobs;
CREATE POLICY role_tier ON ai_employee_jobs AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON ai_employee_outputs;
CREATE POLICY role_tier ON ai_employee_outputs AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON hub_links;
CREATE POLICY role_tier ON hub_links AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON events;
CREATE POLICY role_tier ON events AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON files;
CREATE POLICY role_tier ON files AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin,member,viewer}')))
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
