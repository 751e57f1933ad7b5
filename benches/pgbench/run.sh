#!/usr/bin/env bash
# Protocol-level cost of a tenant transaction, measured with pgbench (no Rust client in
# the way): a bare prepared primary-key read, against BEGIN + the context statement +
# the read + COMMIT sent one by one, the same four pipelined, those without the tenant
# gate (rowguard.tenant_gate), to show what the gate costs, and the same four pipelined
# as the superuser, where RLS and so the context's verification do not run: the floor of
# the transaction's shape, whatever a verification costs. Two more rows apportion the
# rest, on copies of tasks that only this script reads: one whose policy compares
# tenant_id with an unsigned setting (RLS, no verification), one without RLS, read with
# an explicit WHERE tenant_id (the role switch and the gate only).
#
# Usage: ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres benches/pgbench/run.sh
# (a superuser URL; the script creates and reuses the database rowguard_pgbench and the
# login role rowguard_pgbench_login). Prints transactions/s, median of 3 runs of 5 s.
set -euo pipefail
cd "$(dirname "$0")"
ADMIN_URL=${ADMIN_URL:?set ADMIN_URL to a superuser URL}
DB_URL="${ADMIN_URL%/*}/rowguard_pgbench"
psql "$ADMIN_URL" -qtc "SELECT 1 FROM pg_database WHERE datname = 'rowguard_pgbench'" | grep -q 1 \
  || psql "$ADMIN_URL" -qc "CREATE DATABASE rowguard_pgbench"
DATABASE_URL="$DB_URL" cargo run --quiet --bin rowguard -- migrate >/dev/null
psql "$DB_URL" -q <<'SQL'
INSERT INTO tenants (id, slug, name) VALUES ('11111111-1111-7111-8111-111111111111', 'pgbench', 'pgbench')
  ON CONFLICT DO NOTHING;
INSERT INTO tasks (tenant_id, id, title)
  SELECT '11111111-1111-7111-8111-111111111111', ('00000000-0000-7000-8000-' || lpad(g::text, 12, '0'))::uuid, 'task ' || g
    FROM generate_series(1, 10000) g
  ON CONFLICT DO NOTHING;
ANALYZE tasks;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rowguard_pgbench_login') THEN
    CREATE ROLE rowguard_pgbench_login LOGIN;
  END IF;
END $$;
GRANT rowguard_app TO rowguard_pgbench_login;
-- The apportioning copies (never used by rowguard itself).
DO $$ BEGIN
  IF to_regclass('pgbench_tasks_unverified') IS NULL THEN
    CREATE TABLE pgbench_tasks_unverified (LIKE tasks INCLUDING ALL);
    INSERT INTO pgbench_tasks_unverified SELECT * FROM tasks;
    ALTER TABLE pgbench_tasks_unverified ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
    CREATE POLICY unverified ON pgbench_tasks_unverified
      USING (tenant_id = (select current_setting('app.unverified_tenant', true)::uuid));
    ANALYZE pgbench_tasks_unverified;
  END IF;
  IF to_regclass('pgbench_tasks_without_rls') IS NULL THEN
    CREATE TABLE pgbench_tasks_without_rls (LIKE tasks INCLUDING ALL);
    INSERT INTO pgbench_tasks_without_rls SELECT * FROM tasks;
    ANALYZE pgbench_tasks_without_rls;
  END IF;
END $$;
GRANT SELECT ON pgbench_tasks_unverified, pgbench_tasks_without_rls TO rowguard_app;
SQL
# A signed context for the tenant, valid for an hour of transaction starts: the key
# comes from the database (a first one is made if it has none).
rowguard() { ROWGUARD_ADMIN_URL="$DB_URL" cargo run --quiet --bin rowguard -- "$@"; }
rowguard keys list | grep -q . || rowguard keys rotate >/dev/null
CTX=$(rowguard context --tenant 11111111-1111-7111-8111-111111111111 --ttl 1h)
APP_URL=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(netloc="rowguard_pgbench_login@"+p.netloc.split("@")[-1]).geturl())' "$DB_URL")
median() { sort -n | sed -n 2p; }
run() {
  local url=$1 file=$2
  for _ in 1 2 3; do
    pgbench -n -M prepared -T 5 -c 1 -D ctx="$CTX" -f "$file" "$url" 2>/dev/null | awk '/^tps/ {printf "%d\n", $3}'
  done | median
}
bare=$(run "$DB_URL" bare.sql)
seq=$(run "$APP_URL" sequential.sql)
pipe=$(run "$APP_URL" pipelined.sql)
nogate=$(run "$APP_URL" pipelined_without_gate.sql)
floor=$(run "$DB_URL" pipelined_floor.sql)
unverified=$(run "$APP_URL" pipelined_unverified.sql)
norls=$(run "$APP_URL" pipelined_without_rls.sql)
printf '| what | transactions/s (median of 3) | vs. the bare read |\n|---|---|---|\n'
printf '| bare autocommit read, prepared (superuser, WHERE tenant_id) | %s | 1.00 |\n' "$bare"
awk -v b="$bare" -v s="$seq" -v p="$pipe" -v g="$nogate" -v f="$floor" -v u="$unverified" -v r="$norls" 'BEGIN {
  printf "| BEGIN, context, read, COMMIT one by one (app role, RLS) | %d | %.2fx slower |\n", s, b / s
  printf "| the same four, pipelined | %d | %.2fx slower |\n", p, b / p
  printf "| the same, pipelined, without the tenant gate | %d | %.2fx slower |\n", g, b / g
  printf "| the same four, pipelined, as the superuser (no RLS, no verification: the floor) | %d | %.2fx slower |\n", f, b / f
  printf "| pipelined, app role, RLS comparing with an unsigned setting (no verification) | %d | %.2fx slower |\n", u, b / u
  printf "| pipelined, app role, no RLS, explicit WHERE tenant_id (role switch and gate only) | %d | %.2fx slower |\n", r, b / r }'
