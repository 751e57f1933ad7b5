-- Foundation: extensions, the rowguard helper schema, and the two roles every
-- policy and grant refers to. Tables come in the per-group migrations that follow;
-- RLS policies and grants come from policies/ in the last migration.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE SCHEMA IF NOT EXISTS rowguard;
COMMENT ON SCHEMA rowguard IS 'rowguard helper functions: tenant context readers, triggers, id generation and pre-tenant look-ups.';

-- Roles are cluster-wide, so creating them must tolerate a second database
-- (another test database, another environment) having created them already.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rowguard_app') THEN
    CREATE ROLE rowguard_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rowguard_admin') THEN
    CREATE ROLE rowguard_admin NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  -- Two databases migrating at once raced on the cluster-wide catalog; the role exists.
  NULL;
END
$$;
COMMENT ON ROLE rowguard_app IS 'What applications act as: every tenant table is filtered by RLS on app.tenant_id.';
COMMENT ON ROLE rowguard_admin IS 'Control plane and cross-tenant workers: BYPASSRLS, reached only through rowguard''s explicit admin API.';

-- The tenant of the current transaction, or NULL when none is set. `nullif` matters:
-- after one SET LOCAL a pooled connection reads '' rather than NULL.
CREATE FUNCTION rowguard.current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
COMMENT ON FUNCTION rowguard.current_tenant_id() IS 'app.tenant_id of this transaction, NULL when unset. Policies call it as (select rowguard.current_tenant_id()) so it runs once per statement.';

CREATE FUNCTION rowguard.current_user_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
COMMENT ON FUNCTION rowguard.current_user_id() IS 'app.user_id of this transaction, NULL when unset.';

CREATE FUNCTION rowguard.current_member_role() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.role', true), '') $$;
COMMENT ON FUNCTION rowguard.current_member_role() IS 'app.role (owner, admin, member, viewer) of this transaction, NULL when unset.';

-- UUID version 7 (time-ordered, for index locality). PostgreSQL 15 has no built-in;
-- the library generates v7 ids itself, and this default serves hand-written SQL.
-- A v4 uuid's random bytes, the first 48 bits replaced by the Unix time in ms,
-- and the version nibble turned from 4 (0100) into 7 (0111).
CREATE FUNCTION rowguard.uuid_v7() RETURNS uuid
  LANGUAGE sql VOLATILE PARALLEL SAFE
  AS $$
    SELECT encode(
      set_bit(set_bit(
        overlay(uuid_send(gen_random_uuid())
                PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                FROM 1 FOR 6),
        52, 1), 53, 1),
      'hex')::uuid
  $$;
COMMENT ON FUNCTION rowguard.uuid_v7() IS 'A time-ordered UUID (version 7), the default for every id column.';

CREATE FUNCTION rowguard.set_updated_at() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF NEW IS DISTINCT FROM OLD THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION rowguard.set_updated_at() IS 'BEFORE UPDATE trigger: keeps updated_at current whenever a row really changes.';

-- RLS's WITH CHECK already stops the application role from moving a row to another
-- tenant; this trigger also stops the BYPASSRLS admin role and the owner.
CREATE FUNCTION rowguard.forbid_tenant_change() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
    RAISE EXCEPTION 'tenant_id of %.% cannot change', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_id_immutable';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION rowguard.forbid_tenant_change() IS 'BEFORE UPDATE trigger on every tenant table: tenant_id is immutable.';
