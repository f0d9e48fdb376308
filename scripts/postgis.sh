#!/usr/bin/env bash
# A throwaway PostgreSQL + PostGIS for the tests: prints its URL on stdout, nothing else.
#
#   ECOMAP_TEST_POSTGIS=$(bash scripts/postgis.sh) .venv/bin/python -m pytest
#   bash scripts/postgis.sh stop      # stop the throwaway server (rm -rf .pgdata to forget it)
#
# Installs Debian's postgresql and postgresql-<v>-postgis-3 when missing (root only),
# keeps the cluster in ./.pgdata/ (data/, sock/, log) owned by the postgres user,
# listens on a unix socket in .pgdata/sock only (no TCP port to collide with), trusts
# local connections, and creates the database ecomap_test with the postgis extension.
# Idempotent: a running cluster is reused, a stopped one started.  Prints nothing on
# stdout (and exits 0) when PostgreSQL cannot be had, so the PostGIS tests are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PGROOT=${ECOMAP_PGDATA:-$ROOT/.pgdata}
PORT=${ECOMAP_PGPORT:-5433}
DB=${ECOMAP_PGDATABASE:-ecomap_test}
say() { echo "postgis.sh: $*" >&2; }

pg_bin() {  # the newest installed server version's bin directory
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

BIN=$(pg_bin)
if [ "${1:-}" = stop ]; then
  [ -s "$PGROOT/data/PG_VERSION" ] || exit 0
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$BIN/pg_ctl" -D "$PGROOT/data" -m fast stop >&2 || true
  else "$BIN/pg_ctl" -D "$PGROOT/data" -m fast stop >&2 || true; fi
  exit 0
fi
VER=$(basename "$(dirname "${BIN:-/x/none/bin}")")
if [ -z "$BIN" ] || [ ! -e "/usr/share/postgresql/$VER/extension/postgis.control" ]; then
  if [ "$(id -u)" != 0 ]; then
    say "PostgreSQL/PostGIS missing and not root: PostGIS tests will be skipped"; exit 0
  fi
  say "installing Debian postgresql and postgis"
  pkgs="postgresql"
  [ -n "$BIN" ] && pkgs="$pkgs postgresql-$VER-postgis-3" || pkgs="$pkgs postgis"
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs) >&2; then
    say "could not install $pkgs: PostGIS tests will be skipped"; exit 0
  fi
  BIN=$(pg_bin)
  VER=$(basename "$(dirname "$BIN")")
fi

# The server refuses to run as root: everything below runs as the postgres user.
if [ "$(id -u)" = 0 ]; then
  AS=(runuser -u postgres --)
  id postgres >/dev/null 2>&1 || { say "no postgres user: PostGIS tests will be skipped"; exit 0; }
else
  AS=()
fi
mkdir -p "$PGROOT/sock"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PGROOT"
chmod 700 "$PGROOT"
DATA=$PGROOT/data
SOCK=$PGROOT/sock

if [ ! -s "$DATA/PG_VERSION" ]; then
  say "initialising a throwaway cluster in $DATA"
  "${AS[@]}" "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$PGROOT/initdb.log" 2>&1 || { cat "$PGROOT/initdb.log" >&2; exit 1; }
  cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$SOCK'
port = $PORT
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
EOF
fi

if ! "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  rm -f "$DATA/postmaster.pid" 2>/dev/null || true  # left by a killed server
  "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$PGROOT/server.log" -w -t 60 start >&2 \
    || { tail -n 20 "$PGROOT/server.log" >&2; exit 1; }
fi

export PGOPTIONS="-c client_min_messages=warning"
PSQL=("${AS[@]}" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres)
if [ -z "$("${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" >&2
fi
"${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS postgis" >&2

echo "postgresql://postgres@/$DB?host=$SOCK&port=$PORT"
