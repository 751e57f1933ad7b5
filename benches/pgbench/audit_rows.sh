#!/usr/bin/env bash
# What the audit trigger costs per row of an embedding table, on the server alone: a DO
# loop that inserts 1,000 rows with a 1536-d embedding into a copy of
# document_embeddings (without its HNSW and GIN indexes, whose cost would drown the
# trigger's), then one UPDATE of a text column on all of them, in a transaction that
# rolls back. Three variants in alternating rounds: the trigger as migrated, the
# trigger as it was before 2026-12-01-000026_audit_wide_columns (its down.sql, applied
# for that round only), and the trigger disabled. Prints each round's milliseconds.
#
# Usage: ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres benches/pgbench/audit_rows.sh
# (a superuser URL: the loop runs as the superuser, on the trigger's admin path; the
# script creates and reuses the database rowguard_audit_rows).
set -euo pipefail
cd "$(dirname "$0")/../.."
ADMIN_URL=${ADMIN_URL:?set ADMIN_URL to a superuser URL}
DB_URL="${ADMIN_URL%/*}/rowguard_audit_rows"
M=migrations/2026-12-01-000026_audit_wide_columns
ROUNDS=${ROUNDS:-4}
psql "$ADMIN_URL" -qtc "SELECT 1 FROM pg_database WHERE datname = 'rowguard_audit_rows'" | grep -q 1 \
  || psql "$ADMIN_URL" -qc "CREATE DATABASE rowguard_audit_rows"
DATABASE_URL="$DB_URL" cargo run --quiet --bin rowguard -- migrate >/dev/null
psql "$DB_URL" -q -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO tenants (id, slug, name) VALUES ('11111111-1111-7111-8111-111111111111', 'audit-rows', 'audit rows')
  ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS audit_rows_embeddings (LIKE document_embeddings INCLUDING DEFAULTS INCLUDING GENERATED);
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'audit_rows_embeddings'::regclass AND contype = 'p') THEN
    ALTER TABLE audit_rows_embeddings ADD PRIMARY KEY (tenant_id, id);
  END IF;
END $$;
SELECT rowguard.audit_table('audit_rows_embeddings') \g /dev/null
SQL
loop() {
  psql "$DB_URL" -q -v ON_ERROR_STOP=1 <<'SQL' | awk '/^Time/ {printf " %s", $2}'
BEGIN;
\timing on
DO $$ DECLARE e vector := (SELECT array_agg(random())::vector(1536) FROM generate_series(1, 1536)); BEGIN
  FOR i IN 1..1000 LOOP
    INSERT INTO audit_rows_embeddings (tenant_id, document_id, chunk_index, chunk, model, embedding)
    VALUES ('11111111-1111-7111-8111-111111111111', '44444444-4444-7444-8444-444444444444', i, 'chunk text ' || i, 'm', e);
  END LOOP;
END $$;
UPDATE audit_rows_embeddings SET model = 'm2';
\timing off
ROLLBACK;
SQL
}
restore() { psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$M/up.sql" -c "ALTER TABLE audit_rows_embeddings ENABLE TRIGGER audit"; }
trap restore EXIT
echo "ms for 1,000 inserts, then for the update of 1,000 rows"
for _ in $(seq "$ROUNDS"); do
  printf 'audited:                  '; loop; echo
  psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$M/down.sql"
  printf 'audited, before 000026:   '; loop; echo
  restore
  psql "$DB_URL" -qc "ALTER TABLE audit_rows_embeddings DISABLE TRIGGER audit"
  printf 'unaudited:                '; loop; echo
  restore
done
