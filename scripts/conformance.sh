#!/usr/bin/env bash
# InterUSS's DSS prober (PyPI interuss-monitoring 0.37.0) against our /dss/v1 front.
#
# Sets up .venv-prober (Python 3.13, from pyenv when it is not on the PATH), copies in the data
# files the package leaves out, starts `deconfliction serve` on 127.0.0.1 with a fresh database
# and the prober's public key, runs the prober's scd tests and exits with pytest's status.
#
#   scripts/conformance.sh                 # SQLite
#   scripts/conformance.sh --postgres      # PostgreSQL (scripts/postgres.sh starts one)
#   PROBER_ARGS='-k subscription' scripts/conformance.sh
#
# The data files (Apache-2.0, from interuss/monitoring) are found in $DECONFLICTION_PROBER_DATA,
# or in shared/data/interuss-prober/ beside the repository (or beside its worktree folder).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="$root/.venv-prober"
backend=sqlite
[ "${1:-}" = "--postgres" ] && backend=postgres

data="${DECONFLICTION_PROBER_DATA:-}"
if [ -z "$data" ]; then
    for candidate in "$root/../shared/data/interuss-prober" "$root/../../shared/data/interuss-prober"; do
        if [ -d "$candidate/scd-resources" ]; then data="$candidate"; break; fi
    done
fi
if [ -z "$data" ] || [ ! -f "$data/test-certs/auth2.pem" ]; then
    echo "conformance: prober data not found (set DECONFLICTION_PROBER_DATA)" >&2
    exit 2
fi

find_python() {
    # A pyenv shim is on the PATH whether or not that version is selected: ask it to run.
    if python3.13 -c pass >/dev/null 2>&1; then command -v python3.13; return; fi
    local pyenv_root
    pyenv_root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for p in "$pyenv_root"/versions/3.13*/bin/python3.13; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
    return 1
}

if [ ! -f "$venv/.installed" ]; then
    py="$(find_python)" || { echo "conformance: Python 3.13 not found (pyenv install 3.13)" >&2; exit 2; }
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip 2>"$root/.venv-prober.log"
    "$venv/bin/pip" install --quiet "interuss-monitoring==0.37.0" 2>>"$root/.venv-prober.log"
    touch "$venv/.installed"
fi
prober="$("$venv/bin/python" -c 'import monitoring.prober, os; print(os.path.dirname(monitoring.prober.__file__))')"
mkdir -p "$prober/scd/resources"
cp -f "$data"/scd-resources/* "$prober/scd/resources/"

[ -x .venv/bin/deconfliction ] || make install >/dev/null
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$backend" = postgres ]; then
    base="$(scripts/postgres.sh)"
    db="conformance_$$"
    .venv/bin/python - "$base" "$db" <<'EOF'
import sys, psycopg
base, db = sys.argv[1], sys.argv[2]
with psycopg.connect(base.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
    c.execute(f'DROP DATABASE IF EXISTS "{db}"')
    c.execute(f'CREATE DATABASE "{db}"')
EOF
    url="${base%/*}/$db"
else
    url="sqlite:///$work/dss.db"
fi

port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DECONFLICTION_DATABASE_URL="$url" DECONFLICTION_SERVER_KEY="$work/server.key" \
DECONFLICTION_DSS_PUBLIC_KEYS="$data/test-certs/auth2.pem" DECONFLICTION_DSS_AUDIENCE="127.0.0.1" \
    .venv/bin/deconfliction serve --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
    if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz')" 2>/dev/null; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 2; }
    sleep 0.2
done

status=0
# Its own (empty) configuration: ours, found above the venv, sets options its pytest lacks.
printf '[pytest]\n' >"$work/pytest.ini"
(cd "$prober" && "$venv/bin/python" -m pytest -c "$work/pytest.ini" --rootdir "$prober" \
    -q -p no:cacheprovider \
    --dss-endpoint "http://127.0.0.1:$port" \
    --scd-auth1 "NoAuth(sub=uss1)" --scd-auth2 "NoAuth(sub=uss2)" \
    --junitxml "$work/junit.xml" ${PROBER_ARGS:-} scd) || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- server log (last 40 lines) ---" >&2
    tail -n 40 "$work/server.log" >&2
fi
if [ "$backend" = postgres ]; then
    .venv/bin/python - "$base" "$db" <<'EOF' || true
import sys, psycopg
base, db = sys.argv[1], sys.argv[2]
with psycopg.connect(base.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
    c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
EOF
fi
exit "$status"
