#!/usr/bin/env bash
# The load run of the example API (examples/api), not part of CI: starts the service
# (release build) on the demo data on a private PostgreSQL, signs in as the owner of
# each demo tenant, and drives it with wrk from a second process on loopback:
#   1. GET /documents (a list) for DURATION;
#   2. GET /search (hybrid search) for DURATION;
#   3. a mix for DURATION: 40 % document lists, 30 % searches, 15 % task lists,
#      15 % task creations, as all three tenants at random.
# Then it checks isolation and counts over the API: every task the mix created is
# listed in its own tenant only, and their number equals the 201s wrk counted.
# Prints one RESULT line per run (requests/s, p50 and p99 latency).
#
#   ./scripts/load.sh                 # 20 s per run, 32 connections, 2 threads
#   DURATION=60s CONNECTIONS=64 ./scripts/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-3099}
BASE_DOMAIN=demo.localhost
bash scripts/setup.sh
command -v wrk >/dev/null || { echo "[load] installing wrk" >&2; ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet -p rowguard-example-api
log=$(mktemp)
./target/release/rowguard-example-api --listen "127.0.0.1:$PORT" --base-domain "$BASE_DOMAIN" --pool-size 16 >"$log" 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null; wait "$service" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 120); do grep -q Listening "$log" && break; kill -0 "$service" || { cat "$log"; exit 1; }; sleep 1; done
grep -q Listening "$log" || { cat "$log"; echo "[load] the service did not start" >&2; exit 1; }

export BASE_DOMAIN PORT CONNECTIONS
TENANTS=$(python3 scripts/load/check.py sign-in) || exit 1
export TENANTS
echo "[load] $(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; service and PostgreSQL on this machine"
for mix in list search mixed; do
  MIX=$mix wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/load/mixed.lua "http://127.0.0.1:$PORT" | tee "/tmp/rowguard-load-$mix.txt" | grep '^RESULT'
done
created=$(sed -n 's/.*created=\([0-9]*\).*/\1/p' /tmp/rowguard-load-mixed.txt)
python3 scripts/load/check.py check "$created"
