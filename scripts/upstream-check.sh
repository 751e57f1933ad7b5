#!/usr/bin/env bash
# Runs the pool's tests against the newest releases of diesel, diesel-async,
# tokio-postgres and postgres-protocol that Cargo.toml's `~` requirements allow: the
# pool relies on behaviour of theirs that they do not document
# (docs/upstream-behaviour.md), and this is where a patch release that changes it shows.
# Cargo.lock is put back afterwards. Run after scripts/test.sh (which installs what the
# tests need).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
saved=$(mktemp)
cp Cargo.lock "$saved"
trap 'cp "$saved" Cargo.lock; rm -f "$saved"' EXIT
cargo update -p diesel -p diesel-async -p tokio-postgres -p postgres-protocol
echo "[upstream-check] testing the pool against:"
for crate in diesel diesel-async tokio-postgres postgres-protocol; do
  grep -A1 "^name = \"$crate\"$" Cargo.lock | sed -n 2p | sed "s/^/  $crate /"
done
cargo test -p rowguard --test it -- pool:: boundary:: failure:: tls:: held_tx:: search::searches_plan_from_a_short_lived_copy_and_stay_prepared
