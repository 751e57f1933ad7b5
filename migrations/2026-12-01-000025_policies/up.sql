-- Generated from policies/ by scripts/sync-policies; do not edit: edit policies/*.sql and re-run the script.
-- policies/10_tenant_isolation.sql
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
-- policies/20_grants.sql
-- Grants: what rowguard_app (tenant requests) and rowguard_admin (control plane and
-- cross-tenant workers, BYPASSRLS) may do. Row visibility is RLS's job
-- (10_tenant_isolation.sql); these grants decide which statements may run at all.
-- Idempotent: GRANT and REVOKE of what is already (not) granted are no-ops.

-- Nobody but the owner creates objects in public (already PostgreSQL 15's default).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Nor temporary tables: a temporary table named like a tenant table shadows it for
-- every later statement of the same session that names the table unqualified, that
-- is, for later tenant transactions on the same pooled connection. The tenant pool
-- refuses a login that may create them. Database privileges live in the cluster-wide
-- catalog, so a database copied from this one (CREATE DATABASE ... TEMPLATE) needs
-- this statement again. Needs the database's owner; others get a warning only.
DO $$
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;

GRANT USAGE ON SCHEMA public, rowguard TO rowguard_app, rowguard_admin;
GRANT EXECUTE ON FUNCTION
  rowguard.current_tenant_id(),
  rowguard.current_user_id(),
  rowguard.current_member_role(),
  rowguard.uuid_v7()
  TO rowguard_app, rowguard_admin;

-- Tenant tables: full CRUD for both roles.
GRANT SELECT, INSERT, UPDATE, DELETE ON
  users,
  sessions,
  invites,
  documents,
  document_embeddings,
  contacts,
  companies,
  deals,
  deal_activities,
  deal_activity_embeddings,
  meetings,
  meeting_participants,
  transcripts,
  meeting_summaries,
  meeting_embeddings,
  tasks,
  automations,
  automation_runs,
  ai_employee_jobs,
  ai_employee_outputs,
  hub_links,
  integrations,
  events,
  notifications,
  files
  TO rowguard_app, rowguard_admin;

-- tenants: the application reads its own tenant (RLS compares id) and may rename it;
-- only the admin role creates, changes (slug, plan, status, settings, domain) and
-- deletes tenants, so a tenant cannot raise its own plan or lift its own suspension.
REVOKE UPDATE ON tenants FROM rowguard_app;
GRANT SELECT, UPDATE (name) ON tenants TO rowguard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO rowguard_admin;

-- audit_log is append-only for everyone but the owner.
GRANT SELECT, INSERT ON audit_log TO rowguard_app, rowguard_admin;

-- domains decide which tenant answers a host: only the admin path (the control plane,
-- rowguard::domains) adds, verifies, promotes and removes them; a tenant reads its own.
GRANT SELECT ON domains TO rowguard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON domains TO rowguard_admin;

-- jobs: a tenant enqueues, reads and completes its own jobs (RLS); workers claim
-- across tenants on the admin path (rowguard::jobs).
GRANT SELECT, INSERT, UPDATE, DELETE ON jobs TO rowguard_app, rowguard_admin;

-- embedding_counts is written only by the counting triggers (SECURITY DEFINER, owned
-- by rowguard_admin): the application reads its own counts and cannot change them.
GRANT SELECT ON embedding_counts TO rowguard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON embedding_counts TO rowguard_admin;

-- The admin path may read which migrations ran: a tenant export records the schema
-- version it was taken at (rowguard::transfer). diesel creates the table before the
-- first migration; the check keeps this file runnable on its own.
DO $$
BEGIN
  IF pg_catalog.to_regclass('public.__diesel_schema_migrations') IS NOT NULL THEN
    GRANT SELECT ON public.__diesel_schema_migrations TO rowguard_admin;
  END IF;
END
$$;
-- policies/30_lookups.sql
-- Pre-tenant look-ups: the few questions asked before a tenant is known (which
-- tenant and user does this session token, invite token, slug or host belong to?).
--
-- Every tenant table is FORCE ROW LEVEL SECURITY, so with no app.tenant_id set the
-- application role sees nothing, and so would a SECURITY DEFINER function owned by a
-- filtered role: FORCE applies RLS to the table owner too (only superusers and
-- BYPASSRLS roles are exempt). These functions are therefore owned by rowguard_admin,
-- which has BYPASSRLS and SELECT on the tables read here (20_grants.sql), and run
-- with its rights. To keep that safe they:
--   * are SECURITY DEFINER with a fixed search_path (pg_catalog first, so nothing a
--     caller puts in a schema can shadow a built-in) and schema-qualified tables;
--   * return ids only (and a session's role), never rows, and only for a full match
--     on a secret (a token's hash) or a public handle (slug, verified host) of an
--     active tenant;
--   * are executable only by rowguard_app and rowguard_admin (REVOKE ... FROM PUBLIC).
-- Re-applying needs to be the functions' owner or a member of rowguard_admin
-- (superusers are). Parameters are referred to as function_name.param, so a column
-- of the same name can never capture them.
--
-- Handing a function to rowguard_admin needs, unless one is a superuser, that
-- rowguard_admin may CREATE in schema rowguard. It gets that right only for the
-- ALTER ... OWNER statements below, inside the migration's transaction, so that a
-- NOSUPERUSER owner (a member of rowguard_admin) can run the migrations.
GRANT CREATE ON SCHEMA rowguard TO rowguard_admin;

-- The context of a live session: token unrevoked and unexpired, user and tenant
-- active; no row for anything else. Takes the token's sha256, computed by the caller,
-- so the token itself never reaches the server (nor its logs). Touches last_used_at at
-- most once a minute per session: the row is written only when the stored time is a
-- minute old, and of two requests racing for it the second finds it fresh and skips.
-- (Explicit OPERATOR() syntax binds like any other operator, left to right: hence the
-- parentheses.) The versions before took the token as text: dropped.
DROP FUNCTION IF EXISTS rowguard.resolve_session(text);
CREATE OR REPLACE FUNCTION rowguard.resolve_session(token_hash bytea)
  RETURNS TABLE (tenant_id uuid, user_id uuid, member_role text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  session_id pg_catalog.uuid;
  used pg_catalog.timestamptz;
BEGIN
  SELECT s.tenant_id, s.user_id, u.role::pg_catalog.text, s.id, s.last_used_at
    INTO tenant_id, user_id, member_role, session_id, used
    FROM public.sessions s
    JOIN public.users u ON u.tenant_id OPERATOR(pg_catalog.=) s.tenant_id AND u.id OPERATOR(pg_catalog.=) s.user_id
    JOIN public.tenants t ON t.id OPERATOR(pg_catalog.=) s.tenant_id
   WHERE s.token_hash OPERATOR(pg_catalog.=) resolve_session.token_hash
     AND s.revoked_at IS NULL
     AND s.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
     AND u.status OPERATOR(pg_catalog.=) 'active'
     AND t.status OPERATOR(pg_catalog.=) 'active';
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF used IS NULL OR used OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval) THEN
    UPDATE public.sessions s SET last_used_at = pg_catalog.now()
     WHERE s.tenant_id OPERATOR(pg_catalog.=) resolve_session.tenant_id
       AND s.id OPERATOR(pg_catalog.=) session_id
       AND (s.last_used_at IS NULL
            OR s.last_used_at OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval));
  END IF;
  RETURN NEXT;
END
$$;
ALTER FUNCTION rowguard.resolve_session(bytea) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.resolve_session(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.resolve_session(bytea) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.resolve_session(bytea) IS 'Pre-tenant look-up: (tenant_id, user_id, member_role) of an unrevoked, unexpired session of an active user in an active tenant, by the sha256 of its bearer token; touches last_used_at at most once a minute. No row for anything else.';

-- The status of the tenant of a session that would be live but for its tenant:
-- unrevoked, unexpired, the user active. Called only after resolve_session found
-- nothing, so that a suspended or closed tenant's users are told so (a typed error)
-- rather than that their token is unknown. NULL for every other token. The holder of
-- the token learns its own tenant's status, nothing else.
CREATE OR REPLACE FUNCTION rowguard.session_tenant_status(token_hash bytea)
  RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT t.status::pg_catalog.text
      FROM public.sessions s
      JOIN public.users u ON u.tenant_id OPERATOR(pg_catalog.=) s.tenant_id AND u.id OPERATOR(pg_catalog.=) s.user_id
      JOIN public.tenants t ON t.id OPERATOR(pg_catalog.=) s.tenant_id
     WHERE s.token_hash OPERATOR(pg_catalog.=) session_tenant_status.token_hash
       AND s.revoked_at IS NULL
       AND s.expires_at OPERATOR(pg_catalog.>) pg_catalog.now()
       AND u.status OPERATOR(pg_catalog.=) 'active'
  $$;
ALTER FUNCTION rowguard.session_tenant_status(bytea) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.session_tenant_status(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.session_tenant_status(bytea) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.session_tenant_status(bytea) IS 'Pre-tenant look-up: the status (active, suspended, closed) of the tenant of an unrevoked, unexpired session of an active user, by the sha256 of its bearer token; NULL for any other token. Lets a suspended tenant''s users be told so.';

-- (tenant_id, invite_id) of a pending invite: not accepted, unexpired, tenant active.
-- By the sha256 of its token, like resolve_session.
DROP FUNCTION IF EXISTS rowguard.resolve_invite(text);
CREATE OR REPLACE FUNCTION rowguard.resolve_invite(token_hash bytea)
  RETURNS TABLE (tenant_id uuid, invite_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    SELECT i.tenant_id, i.id
      FROM public.invites i
      JOIN public.tenants t ON t.id = i.tenant_id
     WHERE i.token_hash = resolve_invite.token_hash
       AND i.accepted_at IS NULL
       AND i.expires_at > now()
       AND t.status = 'active'
  $$;
ALTER FUNCTION rowguard.resolve_invite(bytea) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.resolve_invite(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.resolve_invite(bytea) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.resolve_invite(bytea) IS 'Pre-tenant look-up: (tenant_id, invite_id) of a pending, unexpired invite in an active tenant, by the sha256 of its token. Returns ids only.';

-- id of the active tenant with this slug, or NULL.
CREATE OR REPLACE FUNCTION rowguard.resolve_tenant_slug(slug text)
  RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    SELECT t.id
      FROM public.tenants t
     WHERE t.slug = resolve_tenant_slug.slug
       AND t.status = 'active'
  $$;
ALTER FUNCTION rowguard.resolve_tenant_slug(text) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.resolve_tenant_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.resolve_tenant_slug(text) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.resolve_tenant_slug(text) IS 'Pre-tenant look-up: id of the active tenant with this slug, NULL when none.';

-- id of the active tenant that has this host verified (domains), or NULL. Unverified
-- domains resolve to nothing. The caller strips any port and trailing dot first.
CREATE OR REPLACE FUNCTION rowguard.resolve_tenant_host(host text)
  RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    SELECT d.tenant_id
      FROM public.domains d
      JOIN public.tenants t ON t.id = d.tenant_id
     WHERE d.host = lower(resolve_tenant_host.host)
       AND d.verified_at IS NOT NULL
       AND t.status = 'active'
  $$;
ALTER FUNCTION rowguard.resolve_tenant_host(text) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.resolve_tenant_host(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.resolve_tenant_host(text) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.resolve_tenant_host(text) IS 'Pre-tenant look-up: id of the active tenant that has lower(host) as a verified domain, NULL when none.';

-- The tenant gate, in every tenant transaction's context statement: refuses a
-- context whose tenant does not exist (RG003), is suspended (RG001) or closed (RG002),
-- so the pool answers with a typed error instead of empty results, at no extra round
-- trip. It reads the tenant id from the context without verifying it: the policies
-- verify every context anyway, and one without a 36-character tenant field passes here
-- to be refused by them (42501). An empty context (the admin path) passes. Owned by rowguard_admin to read
-- tenants past RLS, like the look-ups above.
CREATE OR REPLACE FUNCTION rowguard.tenant_gate(context text)
  RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  claimed pg_catalog.text := pg_catalog.split_part(context, '.', 3);
  found_status pg_catalog.text;
BEGIN
  -- A length check, not a regular expression (which would cost more than the rest):
  -- the contexts the pool signs always hold a UUID here.
  IF pg_catalog.length(claimed) OPERATOR(pg_catalog.<>) 36 THEN
    RETURN true;
  END IF;
  SELECT t.status::pg_catalog.text INTO found_status
    FROM public.tenants t
   WHERE t.id OPERATOR(pg_catalog.=) claimed::pg_catalog.uuid;
  IF found_status IS NULL THEN
    RAISE EXCEPTION 'rowguard: tenant % does not exist', claimed
      USING ERRCODE = 'RG003';
  ELSIF found_status OPERATOR(pg_catalog.=) 'suspended' THEN
    RAISE EXCEPTION 'rowguard: tenant % is suspended', claimed
      USING ERRCODE = 'RG001', HINT = 'Its data is kept; resuming the tenant admits its transactions again.';
  ELSIF found_status OPERATOR(pg_catalog.<>) 'active' THEN
    RAISE EXCEPTION 'rowguard: tenant % is %', claimed, found_status
      USING ERRCODE = 'RG002';
  END IF;
  RETURN true;
END
$$;
ALTER FUNCTION rowguard.tenant_gate(text) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.tenant_gate(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.tenant_gate(text) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.tenant_gate(text) IS 'Called by the context statement of every tenant transaction: raises RG003 for a tenant that does not exist, RG001 when it is suspended, RG002 when it is closed. Reads only the tenant id of the context; the policies verify the signature.';

-- Every tenant's row count in each embedding table, for the owner's maintenance of
-- per-tenant HNSW indexes (`rowguard indexes sync`, src/search/tenant_index.rs). The
-- owner is subject to the FORCEd policy on embedding_counts and holds no context, so it
-- reads the counts through this function. Counts only, no row data. Executable by the
-- role that ran the migrations and by rowguard_admin, never by rowguard_app.
CREATE OR REPLACE FUNCTION rowguard.embedding_tenant_rows()
  RETURNS TABLE (kind text, tenant_id uuid, tenant_rows bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    SELECT e.kind::text, e.tenant_id, e.rows
      FROM public.embedding_counts e
     WHERE e.rows > 0
  $$;
ALTER FUNCTION rowguard.embedding_tenant_rows() OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.embedding_tenant_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.embedding_tenant_rows() TO rowguard_admin;
DO $$
BEGIN
  EXECUTE format('GRANT EXECUTE ON FUNCTION rowguard.embedding_tenant_rows() TO %I', current_user);
END
$$;
COMMENT ON FUNCTION rowguard.embedding_tenant_rows() IS 'Maintenance: (kind, tenant_id, tenant_rows) of every tenant with embeddings, for building per-tenant HNSW indexes. Not executable by rowguard_app.';

-- Take back the temporary right granted above.
REVOKE CREATE ON SCHEMA rowguard FROM rowguard_admin;
-- policies/40_role_tiers.sql
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
