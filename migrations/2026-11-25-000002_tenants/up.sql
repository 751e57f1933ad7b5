-- Tenants group: tenants, users, sessions, invites.

CREATE TYPE tenant_status AS ENUM ('active', 'suspended', 'closed');
CREATE TYPE tenant_plan AS ENUM ('free', 'starter', 'pro', 'enterprise');
CREATE TYPE member_role AS ENUM ('owner', 'admin', 'member', 'viewer');
CREATE TYPE user_status AS ENUM ('active', 'suspended');

CREATE TABLE tenants (
  id uuid NOT NULL DEFAULT rowguard.uuid_v7() PRIMARY KEY,
  slug text NOT NULL,
  name text NOT NULL,
  status tenant_status NOT NULL DEFAULT 'active',
  plan tenant_plan NOT NULL DEFAULT 'free',
  custom_domain text,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_slug_key UNIQUE (slug),
  CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  CONSTRAINT tenants_custom_domain_lower CHECK (custom_domain = lower(custom_domain)),
  CONSTRAINT tenants_settings_object CHECK (jsonb_typeof(settings) = 'object')
);
CREATE UNIQUE INDEX tenants_custom_domain_key ON tenants (custom_domain) WHERE custom_domain IS NOT NULL;
CREATE TRIGGER set_updated_at BEFORE UPDATE ON tenants FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
COMMENT ON TABLE tenants IS 'A customer organisation. Every other table belongs to exactly one tenant; a tenant sees only its own row here.';
COMMENT ON COLUMN tenants.slug IS 'URL-safe unique handle (lowercase letters, digits, dashes), resolved before a tenant is known by rowguard.resolve_tenant_slug.';
COMMENT ON COLUMN tenants.custom_domain IS 'Optional host name (lowercase) that serves this tenant, resolved by rowguard.resolve_tenant_host.';
COMMENT ON COLUMN tenants.plan IS 'Billing plan; feature limits derive from it and from settings.';
COMMENT ON COLUMN tenants.settings IS 'Plan and feature settings as a JSON object.';

CREATE TABLE users (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  email text NOT NULL,
  display_name text NOT NULL,
  role member_role NOT NULL DEFAULT 'member',
  status user_status NOT NULL DEFAULT 'active',
  last_seen_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT users_email_format CHECK (position('@' IN email) > 1)
);
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at DESC, id DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON users FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE users IS 'A member of one tenant, with a role. The same person in two tenants is two rows.';
COMMENT ON COLUMN users.email IS 'Login e-mail; unique per tenant, case-insensitively.';
COMMENT ON COLUMN users.role IS 'owner, admin, member or viewer: role-tier policies read it through app.role.';
COMMENT ON COLUMN users.last_seen_at IS 'Last authenticated request, for idle-account reports.';

CREATE TABLE sessions (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  user_id uuid NOT NULL,
  token_hash bytea NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT sessions_token_hash_sha256 CHECK (octet_length(token_hash) = 32)
);
CREATE UNIQUE INDEX sessions_tenant_token_hash_key ON sessions (tenant_id, token_hash);
CREATE INDEX sessions_token_hash_idx ON sessions (token_hash);
CREATE INDEX sessions_tenant_user_idx ON sessions (tenant_id, user_id, created_at DESC);
CREATE INDEX sessions_tenant_created_idx ON sessions (tenant_id, created_at DESC, id DESC);
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON sessions FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE sessions IS 'A login session. Only the SHA-256 of the bearer token is stored; rowguard.resolve_session maps a token to (tenant_id, user_id).';
COMMENT ON COLUMN sessions.token_hash IS 'sha256 of the session token; the token itself is never stored.';
COMMENT ON COLUMN sessions.revoked_at IS 'Set on logout or revocation; a revoked session no longer resolves.';

CREATE TABLE invites (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  email text NOT NULL,
  role member_role NOT NULL DEFAULT 'member',
  token_hash bytea NOT NULL,
  invited_by uuid,
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, invited_by) REFERENCES users (tenant_id, id) ON DELETE SET NULL (invited_by),
  CONSTRAINT invites_token_hash_sha256 CHECK (octet_length(token_hash) = 32),
  CONSTRAINT invites_email_format CHECK (position('@' IN email) > 1)
);
CREATE UNIQUE INDEX invites_tenant_token_hash_key ON invites (tenant_id, token_hash);
CREATE UNIQUE INDEX invites_tenant_pending_email_key ON invites (tenant_id, lower(email)) WHERE accepted_at IS NULL;
CREATE INDEX invites_token_hash_idx ON invites (token_hash);
CREATE INDEX invites_tenant_invited_by_idx ON invites (tenant_id, invited_by);
CREATE INDEX invites_tenant_created_idx ON invites (tenant_id, created_at DESC, id DESC);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON invites FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON invites FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE invites IS 'An invitation to join a tenant with a role. Only the SHA-256 of the invite token is stored; rowguard.resolve_invite maps a token to (tenant_id, invite_id).';
COMMENT ON COLUMN invites.token_hash IS 'sha256 of the invite token; the token itself is never stored.';
COMMENT ON COLUMN invites.invited_by IS 'The user who sent the invite; NULL once that user is deleted.';
COMMENT ON COLUMN invites.accepted_at IS 'When the invite was accepted; NULL while pending. One pending invite per e-mail.';
