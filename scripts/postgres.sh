#!/usr/bin/env bash
# A private PostgreSQL server for tests, benchmarks and the `local` stack.
#
#   scripts/postgres.sh install                      install the server binaries (Debian packages) if missing
#   scripts/postgres.sh start DATADIR PORT [DBNAME]  initdb if needed, start on 127.0.0.1:PORT, create DBNAME
#   scripts/postgres.sh stop DATADIR                 stop the server of DATADIR (no-op when not running)
#
# The server listens on loopback (password auth, scram-sha-256) and on a Unix socket inside DATADIR
# (trust auth: only users who can reach DATADIR can use it). Superuser: postgres, no password.
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
# POSTGRES_EXTRA_OPTS adds server options (the test suite passes -c fsync=off).
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
PACKAGES=("postgresql-${PG_VERSION}" "postgresql-client-${PG_VERSION}")

ROOT="$(cd "$(dirname "$0")/.." && pwd)"

die() { echo "postgres.sh: $*" >&2; exit 1; }

# Run a server-side command as the server's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd_install() {
  if [ -x "$PG_BIN/postgres" ] && command -v pg_dump >/dev/null && command -v pg_restore >/dev/null; then
    return 0
  fi
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "postgres.sh: installing ${PACKAGES[*]}" >&2
  [ -n "${TONSURANCE_APT_UPDATED:-}" ] || "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  [ -x "$PG_BIN/postgres" ] || die "installation finished but $PG_BIN/postgres is missing"
}

require_binaries() {
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL ${PG_VERSION} server binaries not found in $PG_BIN: run scripts/postgres.sh install"
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    die "running as root needs the 'postgres' system user (created by the Debian package): run scripts/postgres.sh install"
  fi
}

is_running() {
  as_owner "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

cmd_start() {
  [ $# -ge 2 ] || die "usage: postgres.sh start DATADIR PORT [DBNAME]"
  local datadir port dbname
  datadir="$(realpath -m "$1")"; port="$2"; dbname="${3:-}"
  [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
  [[ -z "$dbname" || "$dbname" =~ ^[a-z_][a-z0-9_]*$ ]] || die "DBNAME must be a lowercase identifier, got '$dbname'"
  require_binaries
  mkdir -p "$datadir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$datadir"
    runuser -u postgres -- test -x "$datadir" \
      || die "user postgres cannot reach $datadir (a parent directory is private): choose another location"
  fi
  chmod 700 "$datadir"

  if [ ! -f "$datadir/PG_VERSION" ]; then
    local log
    log="$(as_owner "$PG_BIN/initdb" -D "$datadir" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 2>&1)" || die "initdb failed: $log"
  fi

  if is_running "$datadir"; then
    local running_port
    running_port="$(sed -n 4p "$datadir/postmaster.pid")"  # line 4 of postmaster.pid is the port
    [ "$running_port" = "$port" ] || die "the server of $datadir is already running on port $running_port, not $port"
  else
    local holder
    if holder="$(PYTHONPATH="$ROOT" python3 -m localcluster.ports holder "$port")"; then
      die "port $port is taken by $holder; stop it, or start this server on another port"
    fi
    as_owner "$PG_BIN/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir ${POSTGRES_EXTRA_OPTS:-}" start >/dev/null \
      || die "server did not start, see $datadir/server.log"
  fi

  if [ -n "$dbname" ]; then
    local exists
    exists="$("$PG_BIN/psql" -h "$datadir" -p "$port" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$dbname'")"
    [ "$exists" = "1" ] || "$PG_BIN/createdb" -h "$datadir" -p "$port" -U postgres "$dbname"
  fi
}

cmd_stop() {
  [ $# -ge 1 ] || die "usage: postgres.sh stop DATADIR"
  local datadir
  datadir="$(realpath -m "$1")"
  [ -f "$datadir/PG_VERSION" ] || return 0
  require_binaries
  if is_running "$datadir"; then
    as_owner "$PG_BIN/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null
  fi
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) die "usage: postgres.sh install | start DATADIR PORT [DBNAME] | stop DATADIR" ;;
esac
