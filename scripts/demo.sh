#!/usr/bin/env bash
# The demo command of the quickstart: installs what is missing, then runs `rowguard demo`
# (migrate, seed, and two tenants side by side). With DATABASE_URL unset it runs on a
# private throwaway PostgreSQL that is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo run --quiet --bin rowguard -- demo "$@"
