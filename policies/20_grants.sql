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
