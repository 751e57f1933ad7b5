-- Back to the unsigned readers of the foundation migration.
CREATE OR REPLACE FUNCTION rowguard.current_member_role() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.role', true), '') $$;
COMMENT ON FUNCTION rowguard.current_member_role() IS 'app.role (owner, admin, member, viewer) of this transaction, NULL when unset.';

CREATE OR REPLACE FUNCTION rowguard.current_user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
COMMENT ON FUNCTION rowguard.current_user_id() IS 'app.user_id of this transaction, NULL when unset.';

CREATE OR REPLACE FUNCTION rowguard.current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
COMMENT ON FUNCTION rowguard.current_tenant_id() IS 'app.tenant_id of this transaction, NULL when unset. Policies call it as (select rowguard.current_tenant_id()) so it runs once per statement.';

DROP FUNCTION rowguard.current_role_in(text[]);
DROP FUNCTION rowguard.verified_context();
DROP TABLE rowguard.context_keys;
