-- Back to 2026-12-01-000019_audit_diff's trigger (every column turned into JSON, the
-- left-out ones dropped after) and 2026-12-01-000017_audit's audit_table (arguments in
-- one group). Triggers given an empty argument are attached again without it.

CREATE OR REPLACE FUNCTION rowguard.audit_row() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $fn$
DECLARE
  raw pg_catalog.text := pg_catalog.current_setting('app.context', true);
  claims record;
  acting pg_catalog.text;
  reason pg_catalog.text;
  who pg_catalog.uuid;
  actor pg_catalog.text;
  full_row pg_catalog.jsonb;
  old_row pg_catalog.jsonb;
  tenant pg_catalog.uuid;
  -- TG_ARGV is NULL, not empty, for a trigger without arguments.
  left_out pg_catalog.text[] := COALESCE(TG_ARGV, '{}'::pg_catalog.text[]);
BEGIN
  -- One bookkeeping write is not audited: rowguard.resolve_session touching a session's
  -- last_used_at (at most once a minute, from a look-up with no tenant context, inside
  -- a SECURITY DEFINER function, so it could not name an actor anyway). Any other
  -- change to the row is audited as usual.
  IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND TG_TABLE_NAME OPERATOR(pg_catalog.=) 'sessions'
     AND (pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) 'last_used_at'::pg_catalog.text)
         OPERATOR(pg_catalog.=) (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) 'last_used_at'::pg_catalog.text) THEN
    RETURN NULL;
  END IF;
  IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
    full_row := pg_catalog.to_jsonb(OLD);
  ELSE
    full_row := pg_catalog.to_jsonb(NEW);
  END IF;
  tenant := COALESCE(full_row OPERATOR(pg_catalog.->>) 'tenant_id',
                                full_row OPERATOR(pg_catalog.->>) 'id')::pg_catalog.uuid;

  IF raw IS NOT NULL AND raw OPERATOR(pg_catalog.<>) '' THEN
    claims := rowguard.verified_context();
    who := claims.user_id;
    IF who IS NULL THEN
      actor := 'service';
    ELSE
      actor := 'user:' OPERATOR(pg_catalog.||) who::pg_catalog.text;
    END IF;
  ELSE
    acting := pg_catalog.current_setting('role');
    IF acting OPERATOR(pg_catalog.=) 'none' THEN
      acting := SESSION_USER;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                    WHERE r.rolname OPERATOR(pg_catalog.=) acting
                      AND (r.rolsuper OR r.rolbypassrls)) THEN
      RAISE EXCEPTION 'rowguard: a write without a tenant context by role %, which does not bypass row-level security', acting
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Only the admin path (roles that bypass row-level security) writes without a tenant context.';
    END IF;
    IF tenant::pg_catalog.text OPERATOR(pg_catalog.=) pg_catalog.current_setting('rowguard.audit_bulk', true) THEN
      RETURN NULL;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE'
       AND NOT EXISTS (SELECT 1 FROM public.tenants t WHERE t.id OPERATOR(pg_catalog.=) tenant) THEN
      RETURN NULL;
    END IF;
    reason := pg_catalog.current_setting('rowguard.admin_reason', true);
    IF reason IS NULL OR reason OPERATOR(pg_catalog.=) '' THEN
      actor := 'db:' OPERATOR(pg_catalog.||) SESSION_USER;
    ELSE
      actor := 'admin:' OPERATOR(pg_catalog.||) reason;
    END IF;
  END IF;

  IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
    -- The changed columns only: one pass over the new row's columns, each looked up in
    -- the old row (2026-12-01-000019; a join of two jsonb_each scans before).
    old_row := pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) left_out;
    INSERT INTO public.audit_log (tenant_id, actor_user_id, actor, action, target_type, target_id, changes)
    SELECT tenant, who, actor, 'update', TG_TABLE_NAME,
           (full_row OPERATOR(pg_catalog.->>) 'id')::pg_catalog.uuid,
           pg_catalog.jsonb_build_object(
             'old', COALESCE(pg_catalog.jsonb_object_agg(n.key, old_row OPERATOR(pg_catalog.->) n.key), '{}'),
             'new', COALESCE(pg_catalog.jsonb_object_agg(n.key, n.value), '{}'))
      FROM pg_catalog.jsonb_each(full_row OPERATOR(pg_catalog.-) left_out) n
     WHERE (old_row OPERATOR(pg_catalog.->) n.key) OPERATOR(pg_catalog.<>) n.value;
    RETURN NULL;
  END IF;

  INSERT INTO public.audit_log (tenant_id, actor_user_id, actor, action, target_type, target_id, changes)
  VALUES (tenant, who, actor, pg_catalog.lower(TG_OP), TG_TABLE_NAME,
          (full_row OPERATOR(pg_catalog.->>) 'id')::pg_catalog.uuid,
          pg_catalog.jsonb_build_object(
            CASE TG_OP WHEN 'INSERT' THEN 'new' ELSE 'old' END,
            full_row OPERATOR(pg_catalog.-) left_out));
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION rowguard.audit_table(tbl regclass, secret_columns text[] DEFAULT '{}')
  RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER
  SET search_path = pg_catalog, pg_temp
  AS $fn$
DECLARE
  rel record;
  missing pg_catalog.text;
  excluded pg_catalog.text[];
  existing record;
  args pg_catalog.text;
  trigger_sql pg_catalog.text;
BEGIN
  SELECT c.relname, c.relkind, c.relispartition,
         EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                    AND a.attnum > 0 AND NOT a.attisdropped) AS has_tenant_id
    INTO rel
    FROM pg_catalog.pg_class c
   WHERE c.oid = tbl;
  IF NOT FOUND OR rel.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION 'rowguard.audit_table: % is not a table', tbl
      USING ERRCODE = 'wrong_object_type';
  END IF;
  IF rel.relispartition THEN
    RETURN pg_catalog.format('%s: audited through its partitioned table', tbl);
  END IF;
  IF NOT rel.has_tenant_id AND rel.relname <> 'tenants' THEN
    RAISE EXCEPTION 'rowguard.audit_table: % has no tenant_id column', tbl
      USING ERRCODE = 'invalid_table_definition';
  END IF;
  IF rel.relname = 'audit_log' THEN
    RAISE EXCEPTION 'rowguard.audit_table: the audit log does not audit itself'
      USING ERRCODE = 'invalid_table_definition';
  END IF;
  IF rel.relname !~ '^[a-z][a-z0-9_]{0,63}$' THEN
    RAISE EXCEPTION 'rowguard.audit_table: audit_log.target_type cannot hold the table name %', tbl
      USING ERRCODE = 'invalid_table_definition',
            HINT = 'Name the table in lower case letters, digits and underscores.';
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(s.name), ', ') INTO missing
    FROM pg_catalog.unnest(coalesce(secret_columns, '{}')) AS s(name)
   WHERE s.name IN ('tenant_id', 'id')
      OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = tbl AND a.attname = s.name
                        AND a.attnum > 0 AND NOT a.attisdropped);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'rowguard.audit_table: % cannot leave out %', tbl, missing
      USING ERRCODE = 'undefined_column',
            HINT = 'Name existing columns other than tenant_id and id.';
  END IF;

  SELECT t.oid, t.tgfoid, t.tgtype, t.tgenabled, t.tgqual, t.tgattr,
         -- tgargs: each argument followed by a zero byte.
         ARRAY(SELECT pg_catalog.convert_from(pg_catalog.decode(x.arg, 'escape'), 'UTF8')
                 FROM pg_catalog.unnest(pg_catalog.string_to_array(
                        pg_catalog.encode(t.tgargs, 'escape'), '\000')) WITH ORDINALITY AS x(arg, i)
                WHERE x.i <= t.tgnargs
                ORDER BY x.i) AS args
    INTO existing
    FROM pg_catalog.pg_trigger t
   WHERE t.tgrelid = tbl AND t.tgname = 'audit' AND NOT t.tgisinternal;

  -- The columns to leave out, in name order (the trigger definition is deterministic).
  SELECT coalesce(pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attname), '{}')
    INTO excluded
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attname NOT IN ('tenant_id', 'id')
     AND (a.attname = ANY (coalesce(secret_columns, '{}'))
          OR a.attname = ANY (coalesce(existing.args, '{}'))
          OR a.attgenerated <> ''
          OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                       JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                      WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
                        AND d.objid = a.atttypid
                        AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                        AND d.deptype = 'e' AND e.extname = 'vector'));

  SELECT pg_catalog.string_agg(pg_catalog.quote_literal(x), ', ') INTO args
    FROM pg_catalog.unnest(excluded) AS x;
  trigger_sql := pg_catalog.format(
    'CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s'
    ' FOR EACH ROW EXECUTE FUNCTION rowguard.audit_row(%s)', tbl, coalesce(args, ''));

  -- AFTER INSERT OR UPDATE OR DELETE, FOR EACH ROW: tgtype 1 row + 4 insert + 8 delete
  -- + 16 update = 29; no column list, no WHEN, enabled.
  IF existing.oid IS NOT NULL
     AND existing.tgfoid = 'rowguard.audit_row()'::pg_catalog.regprocedure
     AND existing.tgtype = 29 AND existing.tgenabled IN ('O', 'A') AND existing.tgqual IS NULL
     AND pg_catalog.cardinality(existing.tgattr::pg_catalog.int2[]) = 0
     AND existing.args = excluded THEN
    RETURN pg_catalog.format('%s: trigger audit already present (leaves out: %s)', tbl,
      coalesce(pg_catalog.array_to_string(excluded, ', '), ''));
  END IF;
  IF existing.oid IS NOT NULL THEN
    EXECUTE pg_catalog.format('DROP TRIGGER audit ON %s', tbl);
  END IF;
  EXECUTE trigger_sql;
  RETURN pg_catalog.format('%s: trigger audit %s (leaves out: %s)', tbl,
    CASE WHEN existing.oid IS NULL THEN 'created' ELSE 'recreated' END,
    coalesce(pg_catalog.array_to_string(excluded, ', '), ''));
END
$fn$;

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT tg.tgrelid::pg_catalog.regclass AS tbl
      FROM pg_catalog.pg_trigger tg
     WHERE tg.tgname = 'audit' AND NOT tg.tgisinternal
       AND tg.tgfoid = 'rowguard.audit_row()'::pg_catalog.regprocedure
       -- tgargs: each argument followed by a zero byte, so the split ends in one more ''.
       AND '' = ANY ((pg_catalog.string_to_array(pg_catalog.encode(tg.tgargs, 'escape'), '\000'))[1:tg.tgnargs])
  LOOP
    PERFORM rowguard.audit_table(t.tbl);
  END LOOP;
END
$$;
