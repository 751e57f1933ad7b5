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
--   * return ids only, never rows, and only for a full match on a secret (token
--     hash) or public handle (slug, host) of an active tenant;
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

-- Take back the temporary right granted above.
REVOKE CREATE ON SCHEMA rowguard FROM rowguard_admin;
