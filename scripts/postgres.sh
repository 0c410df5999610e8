#!/usr/bin/env bash
# A private PostgreSQL server for tests and trials, with no manual step.
#
#   scripts/postgres.sh [start]   install PostgreSQL if missing (Debian), create the cluster if
#                                 missing, start it, create the database; print its URL
#   scripts/postgres.sh stop      stop the server
#   scripts/postgres.sh url       print the URL of a running server
#   scripts/postgres.sh install   only install PostgreSQL if it is missing
#
# The cluster lives in $DECONFLICTION_PGDATA (default: .pgdata/ in the project). It listens on
# 127.0.0.1 only (no Unix socket), on $DECONFLICTION_PG_PORT or a free port, with fsync=on, and
# asks for a password (generated once, kept in the state folder, mode 0600). Run as root, the
# server runs as the `postgres` user, since PostgreSQL refuses to run as root.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${DECONFLICTION_PGDATA:-$root/.pgdata}"
user=deconfliction
db=deconfliction

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
  fi
  # Debian keeps the server programs out of the PATH, one folder per major version.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
  done
  d="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
  if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
  return 1
}

install_postgres() {
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get"
  [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed; run as root to install it"
  echo "postgres.sh: installing PostgreSQL (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

# Run a command as the cluster's owner.
as_owner() {
  if [[ "$(id -u)" == 0 ]] && command -v runuser >/dev/null 2>&1; then
    runuser -u postgres -- "$@"
  elif [[ "$(id -u)" == 0 ]]; then
    su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

# Any Python will do; a fresh machine may have only the project's.
py="$(command -v python3 || echo "$root/.venv/bin/python")"

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_free() {
  "$py" -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

url() {
  local port password
  port="$(cat "$state/port")"
  password="$(cat "$state/password")"
  echo "postgresql+psycopg://$user:$password@127.0.0.1:$port/$db"
}

running() {
  [[ -d "$state/cluster" ]] && as_owner "$bin/pg_ctl" -D "$state/cluster" status >/dev/null 2>&1
}

init_cluster() {
  mkdir -p "$state"
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no postgres user to run the server as"
    chown postgres: "$state"
    # The server must reach its folder, through every parent.
    if ! as_owner test -w "$state"; then
      die "user postgres cannot write $state; set DECONFLICTION_PGDATA to a folder it can reach"
    fi
  fi
  chmod 700 "$state"
  umask 077
  "$py" -c 'import secrets; print(secrets.token_hex(16))' > "$state/password"
  if [[ "$(id -u)" == 0 ]]; then chown postgres: "$state/password"; fi
  as_owner "$bin/initdb" -D "$state/cluster" -U "$user" --pwfile="$state/password" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
    || { cat "$state/initdb.log" >&2; die "initdb failed"; }
  cat >>"$state/cluster/postgresql.conf" <<'EOF'

# deconfliction test server: loopback only, durable commits.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
EOF
}

start() {
  if ! bin="$(find_bin)"; then
    install_postgres
    bin="$(find_bin)" || die "PostgreSQL installed, but no initdb/pg_ctl found"
  fi
  if running; then url; return 0; fi
  [[ -f "$state/cluster/PG_VERSION" ]] || init_cluster
  local port="${DECONFLICTION_PG_PORT:-}"
  if [[ -z "$port" ]]; then
    port="$(cat "$state/port" 2>/dev/null || true)"
    if [[ -z "$port" ]] || ! port_free "$port"; then port="$(free_port)"; fi
  fi
  echo "$port" > "$state/port"
  as_owner "$bin/pg_ctl" -D "$state/cluster" -l "$state/server.log" -w -t 60 \
    -o "-p $port" start >/dev/null \
    || { tail -n 20 "$state/server.log" >&2; die "the server did not start"; }
  export PGPASSWORD
  PGPASSWORD="$(cat "$state/password")"
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$db"
  fi
  url
}

stop() {
  bin="$(find_bin)" || return 0
  if running; then
    as_owner "$bin/pg_ctl" -D "$state/cluster" -m fast -w stop >/dev/null
  fi
}

install() {
  if ! find_bin >/dev/null; then
    install_postgres
    find_bin >/dev/null || die "PostgreSQL installed, but no initdb/pg_ctl found"
  fi
}

case "${1:-start}" in
  start) start ;;
  install) install ;;
  stop) stop ;;
  url) bin="$(find_bin)" || die "PostgreSQL is not installed"; running || die "not running"; url ;;
  *) die "usage: $0 [start|stop|url|install]" ;;
esac
