\set n random(1, 10000)
\startpipeline
BEGIN;
SELECT set_config('role', 'rowguard_app', true), rowguard.tenant_gate(set_config('app.context', :ctx, true)), set_config('app.unverified_tenant', '11111111-1111-7111-8111-111111111111', true), set_config('statement_timeout', '30000ms', true), set_config('idle_in_transaction_session_timeout', '60000ms', true);
SELECT * FROM pgbench_tasks_unverified WHERE id = ('00000000-0000-7000-8000-' || lpad(:n::text, 12, '0'))::uuid;
COMMIT;
\endpipeline
