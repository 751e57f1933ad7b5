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
