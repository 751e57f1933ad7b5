-- Undoes 2026-11-28-000014_protect_table. Tables it protected stay as they are: their
-- RLS, policy, grants and trigger belong to the migrations that called it.
DROP FUNCTION IF EXISTS rowguard.protect_table(regclass);
