-- The audit trail, kept by the database: a row trigger on every tenant table writes an
-- audit_log row for each insert, update and delete, in the same transaction
-- (README "Audit trail").
--
-- Who acted (actor_user_id, actor):
--   * a tenant transaction (app.context set): the user of the VERIFIED context,
--     `user:<uuid>`, or `service` for the tenant's service context. The trigger
--     verifies the context itself (rowguard.verified_context()), so no statement can
--     name another actor by changing app.context half-way through.
--   * no context (the admin path): only a role that bypasses row-level security can
--     have written the row then (every policy raises 42501 for the others without a
--     context). The trigger checks that the acting role (SET ROLE, else the login)
--     is such a role and raises 42501 otherwise, so a tenant transaction that clears
--     its context mid-statement cannot pose as the admin path. There, actor is
--     `admin:<reason>` when rowguard's admin path set rowguard.admin_reason
--     (AdminPool::as_admin does in every admin transaction), else
--     `db:<session user>` (the owner or a superuser in psql). Only there are two more
--     transaction-local settings honoured:
--       - rowguard.audit_bulk = <tenant uuid>: no row of that tenant is audited
--         (deleting a tenant, a bulk import);
--       - a deleted row whose tenant row is already gone (the cascade of deleting the
--         tenant) is not audited: its audit rows go with the tenant, and the insert
--         would break audit_log's foreign key to tenants. Deleting the tenants row
--         itself is therefore not audited either.
--
-- Not audited: an update of sessions that changes last_used_at only (the session
-- look-up's bookkeeping, at most once a minute per session).
--
-- What changed (changes): {"new": {...}} for an insert, {"old": {...}} for a delete,
-- and for an update only the columns whose value changed, {"old": {...}, "new": {...}}.
-- Left out: the columns named in the trigger's arguments, which rowguard.audit_table
-- computes: secrets (sessions.token_hash, invites.token_hash,
-- integrations.credentials_encrypted, and whatever a caller names), pgvector columns
-- and generated columns.
--
-- The trigger function is SECURITY DEFINER, owned by rowguard_admin (BYPASSRLS): its
-- insert into audit_log skips audit_log's own policies, which would verify the
-- signed context twice more (tenant isolation and the role tier); the tenant comes
-- from the row, which the table's own policies already checked. Fixed search_path,
-- every name schema-qualified, not executable by PUBLIC (firing a trigger checks no
-- EXECUTE privilege).

-- A non-superuser migrating owner may hand a function to rowguard_admin only while
-- rowguard_admin may create in its schema; the right is taken back at the end.
GRANT CREATE ON SCHEMA rowguard TO rowguard_admin;

CREATE FUNCTION rowguard.audit_row() RETURNS trigger
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
    -- The changed columns only, diffed and inserted in one statement.
    INSERT INTO public.audit_log (tenant_id, actor_user_id, actor, action, target_type, target_id, changes)
    SELECT tenant, who, actor, 'update', TG_TABLE_NAME,
           (full_row OPERATOR(pg_catalog.->>) 'id')::pg_catalog.uuid,
           pg_catalog.jsonb_build_object(
             'old', COALESCE(pg_catalog.jsonb_object_agg(n.key, o.value), '{}'),
             'new', COALESCE(pg_catalog.jsonb_object_agg(n.key, n.value), '{}'))
      FROM pg_catalog.jsonb_each(full_row OPERATOR(pg_catalog.-) left_out) n
      JOIN pg_catalog.jsonb_each(pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) left_out) o
        ON o.key OPERATOR(pg_catalog.=) n.key
     WHERE n.value OPERATOR(pg_catalog.<>) o.value;
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
ALTER FUNCTION rowguard.audit_row() OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.audit_row() FROM PUBLIC;
COMMENT ON FUNCTION rowguard.audit_row() IS 'Trigger (AFTER INSERT OR UPDATE OR DELETE, FOR EACH ROW, attached by rowguard.audit_table): writes the audit_log row of the change, with the verified actor (user:<uuid> or service) in a tenant transaction, admin:<reason> or db:<login> on the admin path (roles that bypass row-level security only), leaving out the columns named in its arguments.';

-- rowguard.audit_table(tbl, secret_columns): attaches the audit trigger to a tenant
-- table, idempotently. The trigger's arguments are the columns left out of `changes`:
--   * secret_columns, plus the columns the existing trigger already leaves out that
--     still exist (so calling it again never forgets a secret);
--   * every pgvector column (a type of the vector extension) and every generated
--     column, as the table has them now.
-- So the list is as current as the last call: a migration that adds a secret, vector
-- or generated column to an audited table calls it again (rowguard.protect_table
-- calls it too), naming a new secret. README "Audit trail".
-- Refused (42P16): a table without tenant_id (other than tenants), audit_log itself,
-- a table whose name audit_log.target_type cannot hold; 42703 for a secret column
-- that does not exist, or that is tenant_id or id (the row's tenant and id are always
-- recorded). A partition gets its trigger from its partitioned table.
-- SECURITY INVOKER: the caller must own the table; not executable by PUBLIC.
CREATE FUNCTION rowguard.audit_table(tbl regclass, secret_columns text[] DEFAULT '{}')
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
REVOKE ALL ON FUNCTION rowguard.audit_table(regclass, text[]) FROM PUBLIC;
COMMENT ON FUNCTION rowguard.audit_table(regclass, text[]) IS 'Attaches (or refreshes) trigger audit (rowguard.audit_row) on a tenant table, leaving out of the audit rows the named secret columns, those it already left out, and every pgvector and generated column the table has now. Idempotent; returns what it did. SECURITY INVOKER: the caller must own the table.';

-- Every tenant table as the catalog lists them now (tables with tenant_id, plus
-- tenants; as rowguard::catalog::TENANT_TABLES_SQL), but audit_log itself and
-- embedding_counts (kept by triggers; a count, not a record of anyone's action).
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.oid::pg_catalog.regclass AS tbl, c.relname
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
       AND (EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                       AND a.attnum > 0 AND NOT a.attisdropped)
            OR c.relname = 'tenants')
       AND c.relname NOT IN ('audit_log', 'embedding_counts')
     ORDER BY c.relname
  LOOP
    PERFORM rowguard.audit_table(t.tbl, CASE t.relname
      WHEN 'sessions' THEN '{token_hash}'
      WHEN 'invites' THEN '{token_hash}'
      WHEN 'integrations' THEN '{credentials_encrypted}'
      ELSE '{}' END::pg_catalog.text[]);
  END LOOP;
END
$$;

REVOKE CREATE ON SCHEMA rowguard FROM rowguard_admin;

-- actor_user_id keeps the id of whoever acted: no foreign key. ON DELETE SET NULL
-- rewrote append-only rows when a user was deleted, and the key made every write fail
-- in a context whose user is not (or no longer) a row of users. Indexes for the
-- query API: by actor and by target, newest first, with the keyset tie-breaker.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_tenant_id_actor_user_id_fkey;
DROP INDEX audit_log_tenant_actor_idx;
CREATE INDEX audit_log_tenant_actor_idx ON audit_log (tenant_id, actor_user_id, created_at DESC, id DESC);
DROP INDEX audit_log_tenant_target_idx;
CREATE INDEX audit_log_tenant_target_idx ON audit_log (tenant_id, target_id, created_at DESC, id DESC);

COMMENT ON TABLE audit_log IS 'Append-only record of every write to a tenant table, written by trigger audit (rowguard.audit_row) in the same transaction. The application and admin roles may only SELECT and INSERT here; only the owner may change or delete rows.';
COMMENT ON COLUMN audit_log.actor_user_id IS 'The verified user of the tenant context that wrote the row; NULL for the service context and the admin path. No foreign key: it keeps the id after the user is deleted.';
COMMENT ON COLUMN audit_log.actor IS 'Who acted, as text: user:UUID (the verified user), service (the tenant''s service context), admin:REASON (the admin path''s recorded reason) or db:LOGIN (a privileged login outside rowguard''s admin path).';
COMMENT ON COLUMN audit_log.action IS 'What was done: insert, update or delete (lowercase dotted names for actions written by the application).';
COMMENT ON COLUMN audit_log.target_type IS 'The table of the row acted on.';
COMMENT ON COLUMN audit_log.target_id IS 'id of the row acted on (for tenants, the tenant id).';
COMMENT ON COLUMN audit_log.changes IS 'JSON object: {"new": {...}} for an insert, {"old": {...}} for a delete, {"old": {...}, "new": {...}} with the changed columns for an update; never secrets, embedding vectors or generated columns.';

-- rowguard.protect_table also attaches the audit trigger, so an application's table is
-- audited like rowguard's own (README "Adding a table"). The body is 2026-11-28-000014's
-- with one step added before its report.
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

  -- The audit trigger (rowguard.audit_table, migration 2026-12-01-000017_audit), its
  -- left-out columns brought up to date with the table's pgvector and generated ones.
  actions := actions || pg_catalog.substr(rowguard.audit_table(tbl),
    pg_catalog.length(tbl::pg_catalog.text) + 3);

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
COMMENT ON FUNCTION rowguard.protect_table(regclass) IS 'Makes an application''s table tenant-safe like the blueprint''s: refuses it (SQLSTATE 42P16, every problem listed in the message) without tenant_id uuid NOT NULL REFERENCES tenants (id), with a key or unique index without tenant_id, a non-composite or unindexed foreign key, a sequence, another permissive policy, or rowguard_app as owner; otherwise ENABLEs and FORCEs RLS, (re)creates policy tenant_isolation, grants SELECT, INSERT, UPDATE, DELETE to rowguard_app and rowguard_admin (revoking the rest from rowguard_app and PUBLIC) and adds trigger tenant_id_immutable and trigger audit (rowguard.audit_table), partitions included. Idempotent; returns what it did. SECURITY INVOKER: the caller must own the table; not executable by PUBLIC or rowguard_app.';
