DROP FUNCTION IF EXISTS rowguard.forbid_tenant_change();
DROP FUNCTION IF EXISTS rowguard.set_updated_at();
DROP FUNCTION IF EXISTS rowguard.uuid_v7();
DROP FUNCTION IF EXISTS rowguard.current_member_role();
DROP FUNCTION IF EXISTS rowguard.current_user_id();
DROP FUNCTION IF EXISTS rowguard.current_tenant_id();
DROP SCHEMA IF EXISTS rowguard;
-- The roles are cluster-wide and other databases may still hold grants to them:
-- drop them only when nothing anywhere depends on them.
DO $$
BEGIN
  DROP ROLE IF EXISTS rowguard_admin;
  DROP ROLE IF EXISTS rowguard_app;
EXCEPTION WHEN dependent_objects_still_exist OR object_in_use THEN
  RAISE NOTICE 'rowguard roles kept: other databases in this cluster still use them';
END
$$;
DROP EXTENSION IF EXISTS vector;
