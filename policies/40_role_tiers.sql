-- Role tiers: within its tenant, what the acting user's role and identity, from the
-- verified signed context, allow: rowguard.current_role_in('{...}') answers "is this
-- the service context, or one of these roles?" with one signature verification, and
-- rowguard.current_user_id() names the user. These policies are RESTRICTIVE: they are AND-ed
-- with tenant_isolation (10_tenant_isolation.sql), so they can only narrow what a
-- tenant sees and writes, never widen it to another tenant.
--
--   viewer   reads; writes nothing (its own sessions and notification read-state aside).
--   member   reads, and writes business rows (documents, crm, meetings, tasks,
--            automation runs, ai employee jobs and outputs, hub links, events, files).
--   admin    also manages users, invites, integrations, automations and the tenant
--            row, and reads the audit log and every session; but cannot create, edit
--            or delete an owner (of users or invites), nor make anyone an owner.
--   owner    everything an admin can, owners included.
--   any user sees and changes only their own notifications (admins and owners too).
--
-- A context with NO role and NO user (TenantContext::new: a background job, a worker
-- or a migration acting for the tenant as a whole) is the tenant's service context:
-- full access within the tenant, notifications of every user included (workers create
-- and deliver them). It still cannot leave its tenant: tenant_isolation applies.
-- A role with no user acts with that role, and has no notifications of its own.
-- Anything else is refused by the verification itself (SQLSTATE 42501, migration
-- 2026-12-01-000024_context_roles): a user with no role, and a role other than the
-- four. So every verified context is one of the tiers, and a tier admitting all four
-- roles is simply true: those policies say USING (true) (or WITH CHECK (true)), which
-- costs nothing, where a sub-select would verify the context a second time.
-- The application decides which context a request gets; requests made on behalf of a
-- person must use TenantContext::with_user, never the service context.
--
-- How refusals show: an INSERT or UPDATE whose new row a tier forbids fails with
-- SQLSTATE 42501 (rowguard::Error::Forbidden). Rows a tier hides are simply not there:
-- a SELECT does not return them and an UPDATE or DELETE of them affects 0 rows
-- (so a viewer's DELETE deletes nothing, without an error).
-- A user's context writes only its own notifications; notifications for other users
-- are created by the service context.
--
-- Every context reader is wrapped in a sub-select, so it is evaluated once per
-- statement; each one verifies the signature, so a policy calls as few as it can. Policy names: role_tier (FOR ALL: USING is who may see a row, WITH CHECK
-- who may write it), role_tier_update and role_tier_delete (which existing rows may be
-- changed or deleted, where that is narrower than which may be seen).
-- Idempotent: safe to apply again.

-- tenants: everyone in the tenant reads its row; admins and owners change it.
DROP POLICY IF EXISTS role_tier ON tenants;
CREATE POLICY role_tier ON tenants AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin}')));

-- users: everyone reads the team; admins manage non-owners, owners manage everyone.
DROP POLICY IF EXISTS role_tier ON users;
CREATE POLICY role_tier ON users AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'));
DROP POLICY IF EXISTS role_tier_update ON users;
CREATE POLICY role_tier_update ON users AS RESTRICTIVE FOR UPDATE
  USING ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'))
  WITH CHECK ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'));
DROP POLICY IF EXISTS role_tier_delete ON users;
CREATE POLICY role_tier_delete ON users AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'));

-- sessions: a user's own; admins and owners see and revoke everyone's.
DROP POLICY IF EXISTS role_tier ON sessions;
CREATE POLICY role_tier ON sessions AS RESTRICTIVE FOR ALL
  USING (user_id = (select rowguard.current_user_id()) OR (select rowguard.current_role_in('{owner,admin}')))
  WITH CHECK (user_id = (select rowguard.current_user_id()) OR (select rowguard.current_role_in('{owner,admin}')));

-- invites: admins and owners only; only owners invite owners.
DROP POLICY IF EXISTS role_tier ON invites;
CREATE POLICY role_tier ON invites AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin}')))
  WITH CHECK ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'));
DROP POLICY IF EXISTS role_tier_update ON invites;
CREATE POLICY role_tier_update ON invites AS RESTRICTIVE FOR UPDATE
  USING ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'))
  WITH CHECK ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'));
DROP POLICY IF EXISTS role_tier_delete ON invites;
CREATE POLICY role_tier_delete ON invites AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner}')) OR ((select rowguard.current_role_in('{admin}')) AND role <> 'owner'));

-- integrations: everyone reads; admins and owners manage.
DROP POLICY IF EXISTS role_tier ON integrations;
CREATE POLICY role_tier ON integrations AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin}')));
DROP POLICY IF EXISTS role_tier_delete ON integrations;
CREATE POLICY role_tier_delete ON integrations AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin}')));

-- automations: everyone reads; admins and owners manage.
DROP POLICY IF EXISTS role_tier ON automations;
CREATE POLICY role_tier ON automations AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin}')));
DROP POLICY IF EXISTS role_tier_delete ON automations;
CREATE POLICY role_tier_delete ON automations AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin}')));

-- notifications: each user sees and changes only their own.
DROP POLICY IF EXISTS role_tier ON notifications;
CREATE POLICY role_tier ON notifications AS RESTRICTIVE FOR ALL
  USING (user_id = (select rowguard.current_user_id()) OR (select rowguard.current_role_in('{}')))
  WITH CHECK (user_id = (select rowguard.current_user_id()) OR (select rowguard.current_role_in('{}')));

-- domains (written by the admin path only, 20_grants.sql): everyone in the tenant reads them.
DROP POLICY IF EXISTS role_tier ON domains;
CREATE POLICY role_tier ON domains AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin}')));

-- audit_log (append-only by grant): everyone's actions are logged; admins and owners read it.
DROP POLICY IF EXISTS role_tier ON audit_log;
CREATE POLICY role_tier ON audit_log AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{owner,admin}')))
  WITH CHECK (true);

-- Business rows: everyone reads; members, admins and owners write.
DROP POLICY IF EXISTS role_tier ON documents;
CREATE POLICY role_tier ON documents AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON documents;
CREATE POLICY role_tier_delete ON documents AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON document_embeddings;
CREATE POLICY role_tier ON document_embeddings AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON document_embeddings;
CREATE POLICY role_tier_delete ON document_embeddings AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON companies;
CREATE POLICY role_tier ON companies AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON companies;
CREATE POLICY role_tier_delete ON companies AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON contacts;
CREATE POLICY role_tier ON contacts AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON contacts;
CREATE POLICY role_tier_delete ON contacts AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON deals;
CREATE POLICY role_tier ON deals AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON deals;
CREATE POLICY role_tier_delete ON deals AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON deal_activities;
CREATE POLICY role_tier ON deal_activities AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON deal_activities;
CREATE POLICY role_tier_delete ON deal_activities AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON deal_activity_embeddings;
CREATE POLICY role_tier ON deal_activity_embeddings AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON deal_activity_embeddings;
CREATE POLICY role_tier_delete ON deal_activity_embeddings AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON meetings;
CREATE POLICY role_tier ON meetings AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON meetings;
CREATE POLICY role_tier_delete ON meetings AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON meeting_participants;
CREATE POLICY role_tier ON meeting_participants AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON meeting_participants;
CREATE POLICY role_tier_delete ON meeting_participants AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON transcripts;
CREATE POLICY role_tier ON transcripts AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON transcripts;
CREATE POLICY role_tier_delete ON transcripts AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON meeting_summaries;
CREATE POLICY role_tier ON meeting_summaries AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON meeting_summaries;
CREATE POLICY role_tier_delete ON meeting_summaries AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON meeting_embeddings;
CREATE POLICY role_tier ON meeting_embeddings AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON meeting_embeddings;
CREATE POLICY role_tier_delete ON meeting_embeddings AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON tasks;
CREATE POLICY role_tier ON tasks AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON tasks;
CREATE POLICY role_tier_delete ON tasks AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

-- jobs: everyone reads the tenant's jobs; members and up (and the service context,
-- which workers run handlers in) enqueue, complete and requeue them.
DROP POLICY IF EXISTS role_tier ON jobs;
CREATE POLICY role_tier ON jobs AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON jobs;
CREATE POLICY role_tier_delete ON jobs AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON automation_runs;
CREATE POLICY role_tier ON automation_runs AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON automation_runs;
CREATE POLICY role_tier_delete ON automation_runs AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON ai_employee_jobs;
CREATE POLICY role_tier ON ai_employee_jobs AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON ai_employee_jobs;
CREATE POLICY role_tier_delete ON ai_employee_jobs AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON ai_employee_outputs;
CREATE POLICY role_tier ON ai_employee_outputs AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON ai_employee_outputs;
CREATE POLICY role_tier_delete ON ai_employee_outputs AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON hub_links;
CREATE POLICY role_tier ON hub_links AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON hub_links;
CREATE POLICY role_tier_delete ON hub_links AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON events;
CREATE POLICY role_tier ON events AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON events;
CREATE POLICY role_tier_delete ON events AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));

DROP POLICY IF EXISTS role_tier ON files;
CREATE POLICY role_tier ON files AS RESTRICTIVE FOR ALL
  USING (true)
  WITH CHECK ((select rowguard.current_role_in('{owner,admin,member}')));
DROP POLICY IF EXISTS role_tier_delete ON files;
CREATE POLICY role_tier_delete ON files AS RESTRICTIVE FOR DELETE
  USING ((select rowguard.current_role_in('{owner,admin,member}')));
