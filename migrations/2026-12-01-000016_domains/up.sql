-- Domains: the host names a tenant is served at, each verified with a token before
-- requests to it resolve to the tenant. Replaces tenants.custom_domain (its values move
-- here, verified and primary).
--
-- Written only through the admin path (the control plane, rowguard::domains): a
-- verified host decides which tenant answers requests for it, so a tenant must not be
-- able to mark a host verified itself. The application reads its own domains.

CREATE TABLE domains (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  host text NOT NULL,
  verification_token_hash bytea NOT NULL,
  verified_at timestamptz,
  is_primary boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT domains_tenant_host_key UNIQUE (tenant_id, host),
  CONSTRAINT domains_host_format CHECK (
    length(host) <= 253
    AND host ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$'),
  CONSTRAINT domains_token_hash_sha256 CHECK (octet_length(verification_token_hash) = 32),
  CONSTRAINT domains_primary_is_verified CHECK (NOT is_primary OR verified_at IS NOT NULL)
);
CREATE UNIQUE INDEX domains_tenant_primary_key ON domains (tenant_id) WHERE is_primary;
CREATE INDEX domains_verified_host_idx ON domains (host) WHERE verified_at IS NOT NULL;
CREATE INDEX domains_tenant_created_idx ON domains (tenant_id, created_at DESC, id DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON domains FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON domains FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE domains IS 'A host name a tenant is served at. Requests to a verified host resolve to its tenant (rowguard.resolve_tenant_host); a host is verified for at most one tenant. Written by the admin path only.';
COMMENT ON COLUMN domains.host IS 'Lowercase host name without port or trailing dot (app.example.com).';
COMMENT ON COLUMN domains.verification_token_hash IS 'sha256 of the verification token handed out when the domain was added; the token itself is never stored.';
COMMENT ON COLUMN domains.verified_at IS 'When the token was shown to be published for the host; NULL while unverified (the host then resolves to nothing).';
COMMENT ON COLUMN domains.is_primary IS 'The tenant''s canonical host; at most one per tenant, and only a verified one.';

-- A host is verified for at most one tenant. A unique index on host alone would let
-- one tenant's failed insert reveal another tenant's host (the doctor refuses unique
-- keys without tenant_id), and unverified claims must not block the real owner; so
-- this trigger checks verified rows across tenants, serialised per host by an advisory
-- lock held to the end of the transaction. Owned by rowguard_admin to see every tenant.
GRANT CREATE ON SCHEMA rowguard TO rowguard_admin;
CREATE FUNCTION rowguard.domains_verified_host_unique() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF NEW.verified_at IS NULL THEN
    RETURN NEW;
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('rowguard.domains:' OPERATOR(pg_catalog.||) NEW.host, 0));
  IF EXISTS (SELECT 1 FROM public.domains d
              WHERE d.host OPERATOR(pg_catalog.=) NEW.host
                AND d.verified_at IS NOT NULL
                AND d.tenant_id OPERATOR(pg_catalog.<>) NEW.tenant_id) THEN
    RAISE EXCEPTION 'rowguard: host % is verified for another tenant', NEW.host
      USING ERRCODE = 'unique_violation', CONSTRAINT = 'domains_verified_host_key';
  END IF;
  RETURN NEW;
END
$$;
ALTER FUNCTION rowguard.domains_verified_host_unique() OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.domains_verified_host_unique() FROM PUBLIC;
REVOKE CREATE ON SCHEMA rowguard FROM rowguard_admin;
COMMENT ON FUNCTION rowguard.domains_verified_host_unique() IS 'Trigger on domains: a host is verified for at most one tenant (SQLSTATE 23505, constraint domains_verified_host_key).';
CREATE TRIGGER verified_host_unique BEFORE INSERT OR UPDATE OF host, verified_at ON domains
  FOR EACH ROW EXECUTE FUNCTION rowguard.domains_verified_host_unique();

-- tenants.custom_domain moves here: verified and primary, with a token nobody holds.
-- FORCEd RLS would filter the owner's own read of tenants (no tenant context during a
-- migration), so it is lifted for this one statement, inside the migration's
-- transaction, and put back.
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
INSERT INTO domains (tenant_id, host, verification_token_hash, verified_at, is_primary)
SELECT id, custom_domain, sha256(convert_to(gen_random_uuid()::text, 'UTF8')), now(), true
  FROM tenants
 WHERE custom_domain IS NOT NULL;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
DROP INDEX tenants_custom_domain_key;
ALTER TABLE tenants DROP COLUMN custom_domain;

-- The look-ups now take the token's hash (policies/30_lookups.sql).
COMMENT ON TABLE sessions IS 'A login session. Only the SHA-256 of the bearer token is stored; rowguard.resolve_session maps the hash to (tenant_id, user_id, member_role) while the session is live.';
COMMENT ON TABLE invites IS 'An invitation to join a tenant with a role. Only the SHA-256 of the invite token is stored; rowguard.resolve_invite maps the hash to (tenant_id, invite_id) while the invite is open.';
