#!/usr/bin/env bash
# The test command of the quickstart: installs what is missing, then runs every test
# against a real PostgreSQL with pgvector. With DATABASE_URL unset the tests start a
# private throwaway server; set it to use yours (its role must create databases and roles).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo test "$@"
