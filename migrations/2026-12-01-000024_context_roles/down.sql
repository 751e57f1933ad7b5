-- Back to the verification of 2026-11-25-000011_signed_context, which admits any role
-- claim and leaves a user without a role to the role-tier policies.

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
END
$$;
COMMENT ON FUNCTION rowguard.verified_context() IS 'The claims of this transaction''s signed context (app.context) once its HMAC-SHA256 signature, key and expiry check out; SQLSTATE 42501 otherwise.';
