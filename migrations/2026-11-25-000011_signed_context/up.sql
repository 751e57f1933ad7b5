-- Signed tenant context. The transaction's tenant, user and role arrive in one
-- setting, app.context, signed with HMAC-SHA256 under a key that the application role
-- cannot read. The policy helpers verify the signature before they answer, so SQL
-- running inside a tenant transaction (a bug, an injected statement) cannot act for
-- another tenant or raise its role by calling set_config: it holds no key.
--
-- Format (every language can produce it; README "The signed context"):
--   v1.<key id>.<tenant uuid>.<user uuid or empty>.<role or empty>.<expires, unix s>.<mac>
--   mac = lower-case hex of HMAC-SHA256(key, everything before the last '.')
-- The context is valid in a transaction that began before it expired (now() is the
-- transaction's start), under a key that is not retired.
--
-- A missing, malformed, forged, expired or unknown-key context raises SQLSTATE 42501,
-- never an empty result.

-- The keys, as HMAC-SHA256's precomputed inner and outer pads (the key, zero-padded to
-- 64 bytes, XOR 0x36 and XOR 0x5c): verifying then costs two sha256() calls, the
-- built-in, so no pgcrypto is needed. Readable by the owner and rowguard_admin only.
CREATE TABLE rowguard.context_keys (
  id integer PRIMARY KEY CHECK (id > 0),
  inner_pad bytea NOT NULL CHECK (octet_length(inner_pad) = 64),
  outer_pad bytea NOT NULL CHECK (octet_length(outer_pad) = 64),
  created_at timestamptz NOT NULL DEFAULT now(),
  retires_at timestamptz
);
COMMENT ON TABLE rowguard.context_keys IS 'Keys that sign tenant contexts (app.context), as HMAC-SHA256 pads. Never readable by rowguard_app. `rowguard keys rotate` adds one and retires the others after a grace period.';
COMMENT ON COLUMN rowguard.context_keys.inner_pad IS 'The key zero-padded to 64 bytes, XOR 0x36.';
COMMENT ON COLUMN rowguard.context_keys.outer_pad IS 'The key zero-padded to 64 bytes, XOR 0x5c.';
COMMENT ON COLUMN rowguard.context_keys.retires_at IS 'From this time on, contexts signed with the key are refused; NULL: valid until rotated out.';
REVOKE ALL ON rowguard.context_keys FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON rowguard.context_keys TO rowguard_admin;

-- Verifies app.context and returns its claims. SECURITY DEFINER, to read the keys,
-- with a fixed search_path; every function, type, operator and table is
-- schema-qualified besides, so nothing a caller can name stands in for them.
CREATE FUNCTION rowguard.verified_context(OUT tenant_id uuid, OUT user_id uuid, OUT member_role text)
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
REVOKE ALL ON FUNCTION rowguard.verified_context() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.verified_context() TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.verified_context() IS 'The claims of this transaction''s signed context (app.context) once its HMAC-SHA256 signature, key and expiry check out; SQLSTATE 42501 otherwise.';

-- The readers the policies call, now answering only from a verified context. SQL
-- wrappers, inlined into the calling query, so each costs one verification.
CREATE OR REPLACE FUNCTION rowguard.current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT (rowguard.verified_context()).tenant_id $$;
COMMENT ON FUNCTION rowguard.current_tenant_id() IS 'The tenant of this transaction''s verified context; SQLSTATE 42501 when the context is missing or not genuine. Policies call it as (select rowguard.current_tenant_id()) so it runs once per statement.';

CREATE OR REPLACE FUNCTION rowguard.current_user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT (rowguard.verified_context()).user_id $$;
COMMENT ON FUNCTION rowguard.current_user_id() IS 'The user of this transaction''s verified context, NULL for the tenant''s service context; SQLSTATE 42501 when the context is missing or not genuine.';

-- The role tiers' one question, answered from one verification: may this context act
-- with one of `roles`? True for the tenant's service context (no user and no role),
-- and for a context whose role is in `roles`; false otherwise (a user without a role,
-- an unknown role). Policies call it as (select rowguard.current_role_in('{...}')).
CREATE FUNCTION rowguard.current_role_in(roles text[]) RETURNS boolean
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  AS $$
DECLARE
  c record := rowguard.verified_context();
BEGIN
  RETURN (c.member_role IS NULL AND c.user_id IS NULL)
      OR coalesce(c.member_role OPERATOR(pg_catalog.=) ANY (roles), false);
END
$$;
REVOKE ALL ON FUNCTION rowguard.current_role_in(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.current_role_in(text[]) TO rowguard_app, rowguard_admin;
COMMENT ON FUNCTION rowguard.current_role_in(text[]) IS 'True for the service context (no user, no role) or when the verified context''s role is one of roles; one verification. SQLSTATE 42501 when the context is missing or not genuine.';

CREATE OR REPLACE FUNCTION rowguard.current_member_role() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT (rowguard.verified_context()).member_role $$;
COMMENT ON FUNCTION rowguard.current_member_role() IS 'The member role (owner, admin, member, viewer) of this transaction''s verified context, NULL for the service context; SQLSTATE 42501 when the context is missing or not genuine.';
