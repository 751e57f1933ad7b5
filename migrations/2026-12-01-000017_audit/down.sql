-- Undoes 2026-12-01-000017_audit: the audit triggers (on every table that has one, an
-- application's tables included), the two functions, protect_table's previous body,
-- and audit_log's foreign key, indexes and comments as 2026-11-25-000010_system made
-- them. Audit rows written meanwhile stay.

CREATE OR REPLACE FUNCTION rowguard.protect_table(tbl regclass) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER
  SET search_path = pg_catalog, pg_temp
  AS $fn$
DECLARE
  rel record;
  tid_attnum pg_catalog.int2;
  tid_type pg_catalog.oid;
  tid_type_name pg_catalog.text;
  tid_notnull pg_catalog.bool;
  problems pg_catalog.text[] := '{}';
  actions pg_catalog.text[] := '{}';
  r record;
  trg record;
  trigger_sql pg_catalog.text;
  extra pg_catalog.text;
  report pg_catalog.text;
BEGIN
  IF tbl IS NULL THEN
    RAISE EXCEPTION 'rowguard.protect_table: the table is NULL'
      USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Name the table: SELECT rowguard.protect_table(''my_table'').';
  END IF;

  SELECT c.relkind, c.relowner, c.relrowsecurity, c.relforcerowsecurity,
         pg_catalog.pg_get_userbyid(c.relowner) AS owner
    INTO rel
    FROM pg_catalog.pg_class c
   WHERE c.oid = tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'rowguard.protect_table: relation with OID % does not exist', tbl::pg_catalog.oid
      USING ERRCODE = 'undefined_table';
  END IF;
  IF rel.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION 'rowguard.protect_table: % is not a table', tbl
      USING ERRCODE = 'wrong_object_type',
            HINT = 'Only tables (plain or partitioned) hold tenant rows; a view over them needs security_invoker = true.';
  END IF;
  IF NOT pg_catalog.pg_has_role(rel.relowner, 'USAGE') THEN
    RAISE EXCEPTION 'rowguard.protect_table: must be owner of table % (owned by %, called as %)',
        tbl, rel.owner, current_user
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Call it in the migration that creates the table, as the role that owns it (the role that runs the migrations).';
  END IF;

  -- The checks and the changes see the same table: no DDL can slip in between.
  EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', tbl);

  ---------------------------------------------------------------------------
  -- Checks. Every problem is collected; nothing is changed unless there is none.

  SELECT a.attnum, a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull
    INTO tid_attnum, tid_type, tid_type_name, tid_notnull
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = tbl AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped;
  IF tid_attnum IS NULL THEN
    problems := problems || 'no tenant_id column: add `tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE`'::pg_catalog.text;
  ELSE
    IF tid_type <> 'pg_catalog.uuid'::pg_catalog.regtype THEN
      problems := problems || pg_catalog.format(
        'tenant_id is %s: declare it `tenant_id uuid NOT NULL`', tid_type_name);
    END IF;
    IF NOT tid_notnull THEN
      problems := problems || pg_catalog.format(
        'tenant_id is nullable: declare it NOT NULL (`ALTER TABLE %s ALTER COLUMN tenant_id SET NOT NULL`)', tbl);
    END IF;
    IF NOT EXISTS (
      SELECT 1
        FROM pg_catalog.pg_constraint con
        JOIN pg_catalog.pg_class p ON p.oid = con.confrelid
        JOIN pg_catalog.pg_attribute pid ON pid.attrelid = p.oid AND pid.attname = 'id'
       WHERE con.conrelid = tbl AND con.contype = 'f'
         AND p.relname = 'tenants'
         AND con.conkey = ARRAY[tid_attnum]
         AND con.confkey = ARRAY[pid.attnum]
    ) THEN
      problems := problems || 'tenant_id does not reference tenants (id): declare it `tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE`'::pg_catalog.text;
    END IF;
  END IF;

  -- Primary keys, unique constraints and unique indexes (partial ones too): some key
  -- column must mention tenant_id (as rowguard doctor reads it: a whole word of the
  -- deparsed key, outside string literals).
  FOR r IN
    SELECT ic.relname AS index_name,
           CASE WHEN i.indisprimary THEN 'primary key'
                WHEN con.oid IS NOT NULL THEN 'unique constraint'
                ELSE 'unique index' END AS kind,
           coalesce(con.conname, ic.relname) AS name,
           ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, true)
                   FROM pg_catalog.generate_series(1, i.indnkeyatts::pg_catalog.int4) AS k
                  ORDER BY k) AS key_columns
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
      LEFT JOIN pg_catalog.pg_constraint con
        ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u')
     WHERE i.indrelid = tbl AND i.indisunique
     ORDER BY i.indisprimary DESC, ic.relname
  LOOP
    IF NOT EXISTS (
      SELECT 1 FROM pg_catalog.unnest(r.key_columns) AS k(def)
       WHERE pg_catalog.regexp_replace(k.def, $re$'(?:[^']|'')*'$re$, '''''', 'g')
             OPERATOR(pg_catalog.~) '(^|[^[:alnum:]_$])tenant_id($|[^[:alnum:]_$])'
    ) THEN
      problems := problems || pg_catalog.format(
        '%s %I (%s) does not include tenant_id: put tenant_id first, (tenant_id, %s)%s',
        r.kind, r.name, pg_catalog.array_to_string(r.key_columns, ', '),
        pg_catalog.array_to_string(r.key_columns, ', '),
        CASE r.kind
          WHEN 'primary key' THEN pg_catalog.format(', as `PRIMARY KEY (tenant_id, %s)`', pg_catalog.array_to_string(r.key_columns, ', '))
          WHEN 'unique constraint' THEN pg_catalog.format(', as `UNIQUE (tenant_id, %s)`', pg_catalog.array_to_string(r.key_columns, ', '))
          ELSE '' END);
    END IF;
  END LOOP;

  -- Foreign keys to tenant tables (a table with tenant_id, or tenants itself, whose
  -- tenant key is id): one pair of the key must map tenant_id onto that tenant key.
  FOR r IN
    SELECT con.conname, con.confrelid::pg_catalog.regclass AS parent,
           pg_catalog.pg_get_constraintdef(con.oid) AS definition,
           ptid.attnum IS NOT NULL AS parent_has_tenant_id,
           coalesce(ptid.attnum, pid.attnum) AS parent_key,
           ARRAY(SELECT pg_catalog.quote_ident(a.attname)
                   FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                  ORDER BY k.ord) AS child_columns,
           ARRAY(SELECT pg_catalog.quote_ident(a.attname)
                   FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                  ORDER BY k.ord) AS parent_columns,
           con.conkey, con.confkey
      FROM pg_catalog.pg_constraint con
      JOIN pg_catalog.pg_class p ON p.oid = con.confrelid
      LEFT JOIN pg_catalog.pg_attribute ptid
        ON ptid.attrelid = p.oid AND ptid.attname = 'tenant_id' AND ptid.attnum > 0 AND NOT ptid.attisdropped
      LEFT JOIN pg_catalog.pg_attribute pid
        ON pid.attrelid = p.oid AND pid.attname = 'id' AND pid.attnum > 0 AND NOT pid.attisdropped
     WHERE con.conrelid = tbl AND con.contype = 'f'
       AND (ptid.attnum IS NOT NULL OR p.relname = 'tenants')
     ORDER BY con.conname
  LOOP
    IF NOT EXISTS (
      SELECT 1 FROM ROWS FROM (pg_catalog.unnest(r.conkey), pg_catalog.unnest(r.confkey)) AS k(child_col, parent_col)
       WHERE k.child_col = tid_attnum AND k.parent_col = r.parent_key
    ) THEN
      IF r.parent_has_tenant_id AND (tid_attnum = ANY (r.conkey) OR r.parent_key = ANY (r.confkey)) THEN
        -- tenant_id is in the key, but paired with another column.
        problems := problems || pg_catalog.format(
          'foreign key %I (%s) does not map tenant_id onto %s.tenant_id: pair them, `FOREIGN KEY (tenant_id, ...) REFERENCES %s (tenant_id, ...)`',
          r.conname, r.definition, r.parent, r.parent);
      ELSIF r.parent_has_tenant_id THEN
        problems := problems || pg_catalog.format(
          'foreign key %I (%s) does not map tenant_id onto %s.tenant_id: make it composite, `FOREIGN KEY (tenant_id, %s) REFERENCES %s (tenant_id, %s)`',
          r.conname, r.definition, r.parent,
          pg_catalog.array_to_string(r.child_columns, ', '), r.parent,
          pg_catalog.array_to_string(r.parent_columns, ', '));
      ELSE
        problems := problems || pg_catalog.format(
          'foreign key %I (%s) lets a row point at another tenant: a tenant table references %s only through its own tenant_id; drop it (or store the id without a foreign key)',
          r.conname, r.definition, r.parent);
      END IF;
    END IF;
  END LOOP;

  -- Every foreign key is served by a valid, non-partial index whose leading key
  -- columns are the foreign key's, in any order (as rowguard doctor checks).
  FOR r IN
    SELECT con.conname,
           ARRAY(SELECT pg_catalog.quote_ident(a.attname)
                   FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                  ORDER BY (a.attnum <> tid_attnum), k.ord) AS columns
      FROM pg_catalog.pg_constraint con
     WHERE con.conrelid = tbl AND con.contype = 'f'
       AND NOT EXISTS (
         SELECT 1 FROM pg_catalog.pg_index i
          WHERE i.indrelid = con.conrelid AND i.indisvalid AND i.indpred IS NULL
            AND i.indnkeyatts >= pg_catalog.cardinality(con.conkey)
            AND (i.indkey::pg_catalog.int2[])[0:pg_catalog.cardinality(con.conkey) - 1] @> con.conkey
            AND (i.indkey::pg_catalog.int2[])[0:pg_catalog.cardinality(con.conkey) - 1] <@ con.conkey)
     ORDER BY con.conname
  LOOP
    problems := problems || pg_catalog.format(
      'foreign key %I has no index led by (%s), so deleting or updating a parent row scans this table: add `CREATE INDEX ON %s (%s)`',
      r.conname, pg_catalog.array_to_string(r.columns, ', '), tbl, pg_catalog.array_to_string(r.columns, ', '));
  END LOOP;

  -- Sequences: identity columns, and defaults that call a sequence (serial).
  FOR r IN
    SELECT a.attname, pg_catalog.pg_get_serial_sequence(tbl::pg_catalog.text, a.attname) AS seq
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity <> ''
    UNION ALL
    SELECT a.attname, d.refobjid::pg_catalog.regclass::pg_catalog.text
      FROM pg_catalog.pg_attrdef ad
      JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
      JOIN pg_catalog.pg_depend d
        ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
       AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
      JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
     WHERE ad.adrelid = tbl
    ORDER BY 1
  LOOP
    problems := problems || pg_catalog.format(
      'column %I takes its values from sequence %s, which every tenant shares (its values reveal how many rows other tenants create): use `uuid NOT NULL DEFAULT rowguard.uuid_v7()`',
      r.attname, r.seq);
  END LOOP;

  FOR r IN
    SELECT pol.polname FROM pg_catalog.pg_policy pol
     WHERE pol.polrelid = tbl AND pol.polpermissive AND pol.polname <> 'tenant_isolation'
     ORDER BY pol.polname
  LOOP
    problems := problems || pg_catalog.format(
      'policy %I is PERMISSIVE, and permissive policies are OR-ed with tenant_isolation, so it can let other tenants'' rows through: recreate it `AS RESTRICTIVE`',
      r.polname);
  END LOOP;

  IF pg_catalog.pg_has_role('rowguard_app', rel.relowner, 'USAGE') THEN
    problems := problems || pg_catalog.format(
      'rowguard_app owns the table or has its owner''s rights (owner %I), and an owner can switch row-level security off: `ALTER TABLE %s OWNER TO` the role that runs the migrations',
      rel.owner, tbl);
  END IF;

  IF pg_catalog.cardinality(problems) > 0 THEN
    RAISE EXCEPTION USING
      ERRCODE = 'invalid_table_definition',
      MESSAGE = pg_catalog.format(
        E'rowguard.protect_table: %s is not tenant-safe, nothing was changed (%s problem%s):\n- %s',
        tbl, pg_catalog.cardinality(problems),
        CASE WHEN pg_catalog.cardinality(problems) = 1 THEN '' ELSE 's' END,
        pg_catalog.array_to_string(problems, E'\n- ')),
      DETAIL = 'Row-level security filters rows, but unique and foreign-key checks see every tenant''s rows: a unique key without tenant_id lets an error reveal that a value exists in another tenant, and a foreign key that does not match tenant_id lets a row point at another tenant''s row.',
      HINT = 'Change the table in the migration (CREATE TABLE, or ALTER TABLE before this call), then call rowguard.protect_table again. docs/adding-a-table.md lists the rules.';
  END IF;

  ---------------------------------------------------------------------------
  -- Changes.

  IF rel.relrowsecurity THEN
    actions := actions || 'row level security already enabled'::pg_catalog.text;
  ELSE
    EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    actions := actions || 'row level security enabled'::pg_catalog.text;
  END IF;
  IF rel.relforcerowsecurity THEN
    actions := actions || 'already forced'::pg_catalog.text;
  ELSE
    EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    actions := actions || 'forced'::pg_catalog.text;
  END IF;

  IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy pol
              WHERE pol.polrelid = tbl AND pol.polname = 'tenant_isolation') THEN
    EXECUTE pg_catalog.format('DROP POLICY tenant_isolation ON %s', tbl);
    actions := actions || 'policy tenant_isolation recreated'::pg_catalog.text;
  ELSE
    actions := actions || 'policy tenant_isolation created'::pg_catalog.text;
  END IF;
  EXECUTE pg_catalog.format(
    'CREATE POLICY tenant_isolation ON %s'
    ' USING (tenant_id = (select rowguard.current_tenant_id()))'
    ' WITH CHECK (tenant_id = (select rowguard.current_tenant_id()))', tbl);

  -- rowguard_app ends with exactly these four privileges and PUBLIC with none: any
  -- other table privilege (TRUNCATE ignores row-level security) or column privilege
  -- either holds is revoked first (REVOKE on the table takes the column ones too).
  -- When there is nothing to revoke, the ACL is left as it is.
  SELECT pg_catalog.string_agg(x.what, ', ' ORDER BY x.what) INTO extra
    FROM (SELECT DISTINCT pg_catalog.format('%s from %s', a.privilege_type,
                   CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE 'rowguard_app' END) AS what
            FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) AS a
           WHERE c.oid = tbl
             AND (a.grantee = 0
                  OR (a.grantee = 'rowguard_app'::pg_catalog.regrole
                      AND a.privilege_type NOT IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')))
          UNION
          SELECT DISTINCT pg_catalog.format('%s (%I) from %s', a.privilege_type, att.attname,
                   CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE 'rowguard_app' END)
            FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) AS a
           WHERE att.attrelid = tbl AND att.attnum > 0 AND NOT att.attisdropped
             AND (a.grantee = 0 OR a.grantee = 'rowguard_app'::pg_catalog.regrole)) AS x;
  IF extra IS NOT NULL THEN
    EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC, rowguard_app', tbl);
    actions := actions || pg_catalog.format('revoked %s', extra);
  END IF;
  EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO rowguard_app, rowguard_admin', tbl);
  actions := actions || 'SELECT, INSERT, UPDATE, DELETE granted to rowguard_app and rowguard_admin'::pg_catalog.text;

  -- tenant_id_immutable as the blueprint declares it: BEFORE UPDATE OF tenant_id, FOR
  -- EACH ROW (tgtype 1 row + 2 before + 16 update = 19), no WHEN, enabled, not a
  -- constraint trigger.
  trigger_sql := pg_catalog.format(
    'CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON %s'
    ' FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change()', tbl);
  SELECT t.tgfoid, t.tgtype, pg_catalog.array_to_string(t.tgattr::pg_catalog.int2[], ',') AS cols,
         t.tgqual, t.tgenabled, t.tgconstraint
    INTO trg
    FROM pg_catalog.pg_trigger t
   WHERE t.tgrelid = tbl AND t.tgname = 'tenant_id_immutable';
  IF NOT FOUND THEN
    EXECUTE trigger_sql;
    actions := actions || 'trigger tenant_id_immutable created'::pg_catalog.text;
  ELSIF trg.tgfoid = 'rowguard.forbid_tenant_change()'::pg_catalog.regprocedure
        AND trg.tgtype = 19 AND trg.cols = tid_attnum::pg_catalog.text AND trg.tgqual IS NULL
        AND trg.tgenabled IN ('O', 'A') AND trg.tgconstraint = 0 THEN
    actions := actions || 'trigger tenant_id_immutable already present'::pg_catalog.text;
  ELSE
    EXECUTE pg_catalog.format('DROP TRIGGER tenant_id_immutable ON %s', tbl);
    EXECUTE trigger_sql;
    actions := actions || 'trigger tenant_id_immutable recreated (it differed)'::pg_catalog.text;
  END IF;

  report := pg_catalog.format('%s: %s', tbl, pg_catalog.array_to_string(actions, '; '));

  -- A partitioned table's policy applies to statements that name it; a statement that
  -- names a partition is checked against the partition's own policies and grants.
  IF rel.relkind = 'p' THEN
    FOR r IN
      SELECT inh.inhrelid::pg_catalog.regclass AS part
        FROM pg_catalog.pg_inherits inh
       WHERE inh.inhparent = tbl
       ORDER BY inh.inhrelid::pg_catalog.regclass::pg_catalog.text
    LOOP
      report := report || E'\n' || rowguard.protect_table(r.part);
    END LOOP;
  END IF;

  RETURN report;
END
$fn$;
COMMENT ON FUNCTION rowguard.protect_table(regclass) IS 'Makes an application''s table tenant-safe like the blueprint''s: refuses it (SQLSTATE 42P16, every problem listed in the message) without tenant_id uuid NOT NULL REFERENCES tenants (id), with a key or unique index without tenant_id, a non-composite or unindexed foreign key, a sequence, another permissive policy, or rowguard_app as owner; otherwise ENABLEs and FORCEs RLS, (re)creates policy tenant_isolation, grants SELECT, INSERT, UPDATE, DELETE to rowguard_app and rowguard_admin (revoking the rest from rowguard_app and PUBLIC) and adds trigger tenant_id_immutable, partitions included. Idempotent; returns what it did. SECURITY INVOKER: the caller must own the table; not executable by PUBLIC or rowguard_app.';

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT tg.tgrelid::pg_catalog.regclass AS tbl
      FROM pg_catalog.pg_trigger tg
     WHERE tg.tgname = 'audit' AND NOT tg.tgisinternal AND tg.tgparentid = 0
       AND tg.tgfoid = 'rowguard.audit_row()'::pg_catalog.regprocedure
     ORDER BY 1
  LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER audit ON %s', t.tbl);
  END LOOP;
END
$$;
DROP FUNCTION rowguard.audit_table(regclass, text[]);
DROP FUNCTION rowguard.audit_row();

DROP INDEX audit_log_tenant_target_idx;
CREATE INDEX audit_log_tenant_target_idx ON audit_log (tenant_id, target_type, target_id, created_at DESC);
DROP INDEX audit_log_tenant_actor_idx;
CREATE INDEX audit_log_tenant_actor_idx ON audit_log (tenant_id, actor_user_id);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_tenant_id_actor_user_id_fkey
  FOREIGN KEY (tenant_id, actor_user_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (actor_user_id);

COMMENT ON TABLE audit_log IS 'Append-only record of security-relevant actions. The application and admin roles may only SELECT and INSERT here.';
COMMENT ON COLUMN audit_log.actor_user_id IS 'The user who acted, when a user did; NULL for system actors or once that user is deleted (actor keeps the description).';
COMMENT ON COLUMN audit_log.actor IS 'Who acted, as text that survives deletion: the user e-mail, "system", or "automation:" or "admin:" followed by the automation id or operator name.';
COMMENT ON COLUMN audit_log.action IS 'What was done, lowercase dotted (user.invited, integration.connected, tenant.plan_changed).';
COMMENT ON COLUMN audit_log.target_type IS 'Table (or kind) of the row acted on.';
COMMENT ON COLUMN audit_log.target_id IS 'id of the row acted on, when there is one.';
COMMENT ON COLUMN audit_log.changes IS 'JSON object of what changed, e.g. {"role": ["member", "admin"]}; never secrets.';
