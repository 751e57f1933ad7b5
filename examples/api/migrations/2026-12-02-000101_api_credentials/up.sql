-- api_credentials: the example service's passwords, one per user, as Argon2id PHC
-- strings. rowguard checks no passwords; the application does, and keeps its hashes
-- in a table of its own that follows rowguard's rules (docs/adding-a-table.md).
CREATE TABLE api_credentials (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  user_id uuid NOT NULL,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT api_credentials_one_per_user UNIQUE (tenant_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT api_credentials_phc CHECK (password_hash LIKE '$argon2id$%')
);
CREATE TRIGGER set_updated_at BEFORE UPDATE ON api_credentials FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
COMMENT ON TABLE api_credentials IS 'A user''s password for the example API service, as an Argon2id PHC string.';

SELECT rowguard.protect_table('api_credentials');
-- Audited like every tenant table, the hash left out of the logged changes.
SELECT rowguard.audit_table('api_credentials', '{password_hash}');

-- Only the tenant's service context (the sign-in handler, a password reset) reads or
-- writes hashes: no signed-in user, owners included, can read one.
CREATE POLICY service_only ON api_credentials AS RESTRICTIVE FOR ALL
  USING ((select rowguard.current_role_in('{}')))
  WITH CHECK ((select rowguard.current_role_in('{}')));
