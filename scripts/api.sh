#!/usr/bin/env bash
# The optional third command of the quickstart: installs what is missing, then serves
# the example API (examples/api) on the demo data at http://127.0.0.1:3000 (requests to
# <tenant>.demo.localhost:3000 are for that tenant). With DATABASE_URL unset it runs on
# a private throwaway PostgreSQL, removed when the service stops (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo run --quiet -p rowguard-example-api -- "$@"
