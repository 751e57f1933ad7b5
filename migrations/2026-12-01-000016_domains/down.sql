ALTER TABLE tenants ADD COLUMN custom_domain text;
ALTER TABLE tenants ADD CONSTRAINT tenants_custom_domain_lower CHECK (custom_domain = lower(custom_domain));
CREATE UNIQUE INDEX tenants_custom_domain_key ON tenants (custom_domain) WHERE custom_domain IS NOT NULL;
COMMENT ON COLUMN tenants.custom_domain IS 'Optional host name (lowercase) that serves this tenant, resolved by rowguard.resolve_tenant_host.';
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE domains NO FORCE ROW LEVEL SECURITY;
UPDATE tenants t SET custom_domain = d.host
  FROM domains d
 WHERE d.tenant_id = t.id AND d.is_primary;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
DROP TABLE domains;
DROP FUNCTION rowguard.domains_verified_host_unique();
COMMENT ON TABLE sessions IS 'A login session. Only the SHA-256 of the bearer token is stored; rowguard.resolve_session maps a token to (tenant_id, user_id).';
COMMENT ON TABLE invites IS 'An invitation to join a tenant with a role. Only the SHA-256 of the invite token is stored; rowguard.resolve_invite maps a token to (tenant_id, invite_id).';
