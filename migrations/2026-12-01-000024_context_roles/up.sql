-- The verified context admits only claims the role tiers know: the tenant's service
-- context (no user and no role) or one of the roles owner, admin, member and viewer.
-- A user without a role, or a role no policy names, is refused with SQLSTATE 42501 by
-- the verification itself; before, each role-tier policy read such a context as
-- "nothing".
--
-- What that buys: a role tier that admits every role ((select
-- rowguard.current_role_in('{owner,admin,member,viewer}'))) is then true for every
-- verified context, so the policies that said it say USING (true) instead
-- (2026-12-01-000025_policies). A read of a business table verifies the context once
-- (tenant isolation) instead of twice: about 22 µs less a statement on this project's
-- machine (README "Benchmarks").
--
-- Everything else in the function is as 2026-11-25-000011_signed_context wrote it,
-- which explains it. CREATE OR REPLACE keeps the owner, the grants and the comment.

CREATE OR REPLACE FUNCTION rowguard.verified_context(OUT tenant_id uuid, OUT user_id uuid, OUT member_role text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  raw pg_catalog.text := pg_catalog.current_setting('app.context', true);
  parts pg_catalog.text[];
  pads record;
BEGIN
  IF raw IS NULL OR raw OPERATOR(pg_catalog.=) '' THEN
    RAISE EXCEPTION 'rowguard: no tenant context is set in this transaction'
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Run tenant statements through rowguard (with_tenant, fetch), or set app.context with the statement `rowguard context --sql` prints.';
  END IF;
  -- No regular expressions and no casts of unverified fields (each would cost more
  -- than the MAC, or raise something other than 42501): the key id is compared as
  -- text, the MAC as text, and the other fields are cast only once the MAC holds.
  parts := pg_catalog.string_to_array(raw, '.');
  IF pg_catalog.cardinality(parts) OPERATOR(pg_catalog.<>) 7
     OR parts[1] OPERATOR(pg_catalog.<>) 'v1' THEN
    RAISE EXCEPTION 'rowguard: the tenant context is malformed'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT k.inner_pad, k.outer_pad INTO pads
    FROM rowguard.context_keys k
   WHERE k.id::pg_catalog.text OPERATOR(pg_catalog.=) parts[2]
     AND (k.retires_at IS NULL OR k.retires_at OPERATOR(pg_catalog.>) pg_catalog.now());
  IF NOT FOUND THEN
    RAISE EXCEPTION 'rowguard: the tenant context is signed with unknown or retired key %', parts[2]
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF pg_catalog.encode(
       pg_catalog.sha256(pads.outer_pad OPERATOR(pg_catalog.||) pg_catalog.sha256(
         pads.inner_pad OPERATOR(pg_catalog.||)
         pg_catalog.convert_to(pg_catalog.left(raw, -65), 'UTF8'))),
       'hex') OPERATOR(pg_catalog.<>) parts[7] THEN
    RAISE EXCEPTION 'rowguard: the tenant context has a bad signature (forged or tampered)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Signed, so these fields are rowguard's own: well-formed.
  IF pg_catalog.to_timestamp(parts[6]::pg_catalog.float8) OPERATOR(pg_catalog.<=) pg_catalog.now() THEN
    RAISE EXCEPTION 'rowguard: the tenant context expired at %', pg_catalog.to_timestamp(parts[6]::pg_catalog.float8)
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  tenant_id := parts[3]::pg_catalog.uuid;
  user_id := NULLIF(parts[4], '')::pg_catalog.uuid;
  member_role := NULLIF(parts[5], '');
  -- Only the claims the role tiers know: the service context (no user, no role), or
  -- one of the four roles, with or without a user. Anything else (a user without a
  -- role, a role no policy names) is refused here, once, instead of reading as
  -- nothing in every policy.
  IF member_role IS NULL THEN
    IF user_id IS NOT NULL THEN
      RAISE EXCEPTION 'rowguard: the tenant context names user % without a role', user_id
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Sign a user''s context with their role (owner, admin, member or viewer), or neither user nor role for the tenant''s service context.';
    END IF;
  ELSIF member_role OPERATOR(pg_catalog.<>) ALL ('{owner,admin,member,viewer}'::pg_catalog.text[]) THEN
    RAISE EXCEPTION 'rowguard: the tenant context has unknown role %', member_role
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'The roles are owner, admin, member and viewer.';
  END IF;
END
$$;
COMMENT ON FUNCTION rowguard.verified_context() IS 'The claims of this transaction''s signed context (app.context) once its HMAC-SHA256 signature, key and expiry check out and its claims are the service context (no user, no role) or one of the roles owner, admin, member and viewer; SQLSTATE 42501 otherwise.';
