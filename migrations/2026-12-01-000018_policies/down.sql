-- Undoes what this policies migration added to the previous one (written by hand; up.sql
-- is generated from policies/ by scripts/sync-policies): the look-ups by token hash go
-- back to taking the token as text, and host resolution back to tenants.custom_domain,
-- which the domains migration's down.sql restores after this runs (so the function body
-- is not checked here); the admin role no longer reads diesel's migration table. The domains table's policies and grants go with the table.
SET LOCAL check_function_bodies = off;
DROP FUNCTION IF EXISTS rowguard.resolve_session(bytea);
DROP FUNCTION IF EXISTS rowguard.resolve_invite(bytea);
GRANT CREATE ON SCHEMA rowguard TO rowguard_admin;

-- (tenant_id, user_id) of a live session: token unrevoked and unexpired, user and
-- tenant active. No row for anything else.
CREATE OR REPLACE FUNCTION rowguard.resolve_session(token text)
  RETURNS TABLE (tenant_id uuid, user_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    SELECT s.tenant_id, s.user_id
      FROM public.sessions s
      JOIN public.users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
      JOIN public.tenants t ON t.id = s.tenant_id
     WHERE s.token_hash = sha256(convert_to(resolve_session.token, 'UTF8'))
       AND s.revoked_at IS NULL
       AND s.expires_at > now()
       AND u.status = 'active'
       AND t.status = 'active'
  $$;
ALTER FUNCTION rowguard.resolve_session(text) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.resolve_session(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.resolve_session(text) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.resolve_session(text) IS 'Pre-tenant look-up: (tenant_id, user_id) of an unrevoked, unexpired session of an active user in an active tenant, by its bearer token (hashed with sha256 here). Returns ids only.';

-- (tenant_id, invite_id) of a pending invite: not accepted, unexpired, tenant active.
CREATE OR REPLACE FUNCTION rowguard.resolve_invite(token text)
  RETURNS TABLE (tenant_id uuid, invite_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    SELECT i.tenant_id, i.id
      FROM public.invites i
      JOIN public.tenants t ON t.id = i.tenant_id
     WHERE i.token_hash = sha256(convert_to(resolve_invite.token, 'UTF8'))
       AND i.accepted_at IS NULL
       AND i.expires_at > now()
       AND t.status = 'active'
  $$;
ALTER FUNCTION rowguard.resolve_invite(text) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.resolve_invite(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.resolve_invite(text) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.resolve_invite(text) IS 'Pre-tenant look-up: (tenant_id, invite_id) of a pending, unexpired invite in an active tenant, by its token (hashed with sha256 here). Returns ids only.';

-- id of the active tenant served at this host (custom_domain, stored lowercase), or
-- NULL. The caller strips any port first.
CREATE OR REPLACE FUNCTION rowguard.resolve_tenant_host(host text)
  RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    SELECT t.id
      FROM public.tenants t
     WHERE t.custom_domain = lower(resolve_tenant_host.host)
       AND t.status = 'active'
  $$;
ALTER FUNCTION rowguard.resolve_tenant_host(text) OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.resolve_tenant_host(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.resolve_tenant_host(text) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.resolve_tenant_host(text) IS 'Pre-tenant look-up: id of the active tenant whose custom_domain is lower(host), NULL when none.';

REVOKE CREATE ON SCHEMA rowguard FROM rowguard_admin;
REVOKE SELECT ON public.__diesel_schema_migrations FROM rowguard_admin;
