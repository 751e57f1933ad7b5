-- Per-tenant row counts of the three embedding tables, which the vector search reads
-- to choose its strategy (exact scan for small tenants, HNSW for large ones; see
-- src/search). Kept exact by statement-level triggers with transition tables: one
-- upsert per statement and tenant, however many rows the statement wrote.
-- RLS, the policy and the grants of embedding_counts come from policies/ (applied by
-- the policies migration that follows this one).

CREATE TYPE embedding_kind AS ENUM ('documents', 'deals', 'meetings');

CREATE TABLE embedding_counts (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id uuid NOT NULL DEFAULT rowguard.uuid_v7(),
  kind embedding_kind NOT NULL,
  rows bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT embedding_counts_tenant_kind_key UNIQUE (tenant_id, kind),
  CONSTRAINT embedding_counts_rows_nonnegative CHECK (rows >= 0)
);
-- The unique key (tenant_id, kind) serves the foreign key, every read and the triggers' upserts.
CREATE TRIGGER set_updated_at BEFORE UPDATE ON embedding_counts FOR EACH ROW EXECUTE FUNCTION rowguard.set_updated_at();
CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON embedding_counts FOR EACH ROW EXECUTE FUNCTION rowguard.forbid_tenant_change();
COMMENT ON TABLE embedding_counts IS 'How many embedding rows each tenant has per embedding table, kept by triggers on the embedding tables; the search strategy reads it. Written only by those triggers (rowguard_app may read its own rows).';
COMMENT ON COLUMN embedding_counts.kind IS 'Which embedding table: documents (document_embeddings), deals (deal_activity_embeddings) or meetings (meeting_embeddings).';
COMMENT ON COLUMN embedding_counts.rows IS 'Number of the tenant''s rows in that table, as of the last committed statement.';

-- The triggers' function. SECURITY DEFINER, owned by rowguard_admin (BYPASSRLS), so
-- that rowguard_app needs no write grant on embedding_counts (it cannot falsify its
-- counts) and so that writes by the admin role, which carry no tenant context, are
-- counted too. Fixed search_path, not executable by PUBLIC (a trigger function is
-- never called directly; firing it checks no EXECUTE privilege).
-- TG_ARGV[0] is the embedding_kind of the table the trigger is on.
CREATE FUNCTION rowguard.count_embeddings() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO public.embedding_counts AS c (tenant_id, kind, rows)
      SELECT n.tenant_id, TG_ARGV[0]::public.embedding_kind, count(*)
        FROM new_rows n
       GROUP BY n.tenant_id
       ORDER BY n.tenant_id -- one lock order for concurrent statements
      ON CONFLICT (tenant_id, kind) DO UPDATE SET rows = c.rows + excluded.rows;
    ELSIF TG_OP = 'DELETE' THEN
      UPDATE public.embedding_counts c
         SET rows = c.rows - d.n
        FROM (SELECT o.tenant_id, count(*) AS n FROM old_rows o GROUP BY o.tenant_id) d
       WHERE c.tenant_id = d.tenant_id AND c.kind = TG_ARGV[0]::public.embedding_kind;
    ELSIF TG_OP = 'TRUNCATE' THEN
      DELETE FROM public.embedding_counts WHERE kind = TG_ARGV[0]::public.embedding_kind;
    END IF;
    RETURN NULL;
  END
  $$;
-- A non-superuser migrating owner may hand a function to rowguard_admin only while
-- rowguard_admin may create in its schema; the right is taken back below.
GRANT CREATE ON SCHEMA rowguard TO rowguard_admin;
ALTER FUNCTION rowguard.count_embeddings() OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.count_embeddings() FROM PUBLIC;
COMMENT ON FUNCTION rowguard.count_embeddings() IS 'Trigger: keeps embedding_counts for the embedding table named by TG_ARGV[0] (statement level, transition tables new_rows / old_rows).';

-- Recounts every tenant's rows from the tables: for repair, and to fill the table
-- when this migration runs on a database that already holds embeddings.
CREATE FUNCTION rowguard.refresh_embedding_counts() RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    DELETE FROM public.embedding_counts;
    INSERT INTO public.embedding_counts (tenant_id, kind, rows)
    SELECT tenant_id, 'documents'::public.embedding_kind, count(*) FROM public.document_embeddings GROUP BY tenant_id
    UNION ALL
    SELECT tenant_id, 'deals'::public.embedding_kind, count(*) FROM public.deal_activity_embeddings GROUP BY tenant_id
    UNION ALL
    SELECT tenant_id, 'meetings'::public.embedding_kind, count(*) FROM public.meeting_embeddings GROUP BY tenant_id;
  $$;
ALTER FUNCTION rowguard.refresh_embedding_counts() OWNER TO rowguard_admin;
REVOKE ALL ON FUNCTION rowguard.refresh_embedding_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rowguard.refresh_embedding_counts() TO rowguard_admin;
REVOKE CREATE ON SCHEMA rowguard FROM rowguard_admin;
COMMENT ON FUNCTION rowguard.refresh_embedding_counts() IS 'Recounts embedding_counts from the three embedding tables (control plane only: executable by rowguard_admin).';

-- The functions above run as rowguard_admin, which needs these rights now, for the
-- recount below (policies/20_grants.sql grants the same, and more, in the policies
-- migration that follows; granting twice is a no-op).
GRANT SELECT, INSERT, UPDATE, DELETE ON embedding_counts TO rowguard_admin;
GRANT SELECT ON document_embeddings, deal_activity_embeddings, meeting_embeddings TO rowguard_admin;

CREATE TRIGGER count_rows_insert AFTER INSERT ON document_embeddings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('documents');
CREATE TRIGGER count_rows_delete AFTER DELETE ON document_embeddings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('documents');
CREATE TRIGGER count_rows_truncate AFTER TRUNCATE ON document_embeddings
  FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('documents');

CREATE TRIGGER count_rows_insert AFTER INSERT ON deal_activity_embeddings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('deals');
CREATE TRIGGER count_rows_delete AFTER DELETE ON deal_activity_embeddings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('deals');
CREATE TRIGGER count_rows_truncate AFTER TRUNCATE ON deal_activity_embeddings
  FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('deals');

CREATE TRIGGER count_rows_insert AFTER INSERT ON meeting_embeddings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('meetings');
CREATE TRIGGER count_rows_delete AFTER DELETE ON meeting_embeddings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('meetings');
CREATE TRIGGER count_rows_truncate AFTER TRUNCATE ON meeting_embeddings
  FOR EACH STATEMENT EXECUTE FUNCTION rowguard.count_embeddings('meetings');

SELECT rowguard.refresh_embedding_counts();
