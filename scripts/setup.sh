#!/usr/bin/env bash
# Installs everything rowguard's demo, tests and benches need on a Debian machine,
# idempotently: PostgreSQL server and headers, libpq, pgvector (built from Debian's
# source package of the next release when this release does not package it),
# PgBouncer for the pooler test, and diesel_cli for operators and the schema-drift test.
#
# Safe to run again: every step first checks whether its work is already done.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { log "run as root or install sudo"; exit 1; }
  SUDO="sudo"
fi

apt_updated=0
apt_update() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq
    apt_updated=1
  fi
}

missing=()
for pkg in postgresql postgresql-contrib libpq-dev build-essential dpkg-dev pgbouncer; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update
  log "installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The server major version the `postgresql` metapackage brought in.
PG_MAJOR=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
if ! dpkg-query -W -f='${Status}' "postgresql-server-dev-$PG_MAJOR" 2>/dev/null | grep -q 'install ok installed'; then
  apt_update
  log "installing postgresql-server-dev-$PG_MAJOR"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "postgresql-server-dev-$PG_MAJOR"
fi

EXT_DIR=$("$PG_BIN/pg_config" --sharedir)/extension
if [ ! -f "$EXT_DIR/vector.control" ]; then
  apt_update
  if apt-cache show "postgresql-$PG_MAJOR-pgvector" >/dev/null 2>&1; then
    log "installing postgresql-$PG_MAJOR-pgvector"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_MAJOR-pgvector"
  else
    # Not packaged for this release: build it from the next release's source package.
    . /etc/os-release
    case "${VERSION_CODENAME:-}" in
      bullseye) NEXT=bookworm ;;
      bookworm) NEXT=trixie ;;
      trixie) NEXT=forky ;;
      *) log "unknown Debian release '${VERSION_CODENAME:-}'; cannot pick a source release for pgvector"; exit 1 ;;
    esac
    SRC_LIST=/etc/apt/sources.list.d/rowguard-pgvector-src.sources
    if [ ! -f "$SRC_LIST" ]; then
      # Reuse the mirror this machine already uses for Debian; never name a host here.
      MIRROR=$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 | awk '{print $2}')
      if [ -z "$MIRROR" ]; then
        MIRROR=$(grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+/debian/?[[:space:]]' /etc/apt/sources.list 2>/dev/null | head -n 1 | awk '{print $NF}')
      fi
      [ -n "$MIRROR" ] || { log "no Debian mirror found in the apt sources"; exit 1; }
      log "adding deb-src for $NEXT from $MIRROR"
      printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$MIRROR" "$NEXT" | $SUDO tee "$SRC_LIST" >/dev/null
      apt_updated=0
      apt_update
    fi
    BUILD=$(mktemp -d /tmp/rowguard-pgvector.XXXXXX)
    trap 'rm -rf "$BUILD"' EXIT
    log "building pgvector from $NEXT's source package in $BUILD"
    (cd "$BUILD" && apt-get source -qq pgvector >/dev/null 2>&1 || { cd "$BUILD" && apt-get source pgvector; })
    SRC=$(find "$BUILD" -maxdepth 1 -mindepth 1 -type d -name 'pgvector-*' | head -n 1)
    [ -n "$SRC" ] || { log "apt-get source pgvector produced no source tree"; exit 1; }
    make -s -C "$SRC" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" >/dev/null
    $SUDO make -s -C "$SRC" PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
  fi
fi
log "pgvector: $(grep default_version "$EXT_DIR/vector.control" | tr -d "'" )"

if ! command -v diesel >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/diesel" ]; then
  log "installing diesel_cli (postgres only); this compiles for a few minutes once"
  cargo install diesel_cli --version '~2.3' --no-default-features --features postgres --locked -q
fi
log "ready: PostgreSQL $PG_MAJOR at $PG_BIN"
