#!/usr/bin/env bash
# Run the platform on this machine: ./scripts/run.sh
#
# Creates the virtual environment on first use, installs requirements.txt, migrates the database, puts the demo
# wallets and the default zones on the ledger, collects static files, serves on http://127.0.0.1:8000 and starts
# a small fleet of simulated smart meters that stream signed readings to it, until Ctrl-C.
# With no DATABASE_URL or REDIS_URL set, everything is embedded (SQLite under var/, in-memory channels, and the
# schedule that settles readings runs inside the server).
# VENV picks another environment (default: .venv in the repository); HOST and PORT the address to serve on;
# SIM_METERS the simulated fleet's size (default 20; 0 for none); SIM_SPEED its speed-up (default 900).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VENV="${VENV:-$ROOT/.venv}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
SIM_METERS="${SIM_METERS:-20}"
SIM_SPEED="${SIM_SPEED:-900}"
cd "$ROOT"

scripts/ensure_venv.sh requirements.txt

manage() { "$VENV/bin/python" manage.py "$@"; }
manage migrate --noinput
manage seed_demo
manage collectstatic --noinput --verbosity 0

BASE="http://$HOST:$PORT"
LOG_DIR="${GRIDTOKENX_VAR_DIR:-$ROOT/var}"
mkdir -p "$LOG_DIR"
cat <<INFO

GridTokenX is starting on $BASE
  home (chain status)   $BASE/
  JSON-RPC              POST $BASE/rpc
  REST API              $BASE/api/v1/
  API docs (OpenAPI)    $BASE/api/docs/
  oracle status         $BASE/api/v1/oracle/status
  admin                 $BASE/admin/   (create a login: $VENV/bin/python manage.py createsuperuser)
The demo wallets above use public development keys.
$SIM_METERS simulated meters stream readings to the server (log: $LOG_DIR/simulator.log). Stop with Ctrl-C.

INFO
"$VENV/bin/daphne" -b "$HOST" -p "$PORT" --access-log "$LOG_DIR/access.log" gridtokenx.asgi:application &
SERVER=$!
SIMULATOR=""
stop() {
    # The simulator first, so that no request is in flight when the server stops; a server that has not exited
    # 10 s after SIGTERM (a request cut off mid-way can hold it) is killed.
    if [[ -n "$SIMULATOR" ]]; then
        kill "$SIMULATOR" 2>/dev/null || true
        wait "$SIMULATOR" 2>/dev/null || true
    fi
    kill "$SERVER" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$SERVER" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -9 "$SERVER" 2>/dev/null || true
}
trap stop EXIT
trap "exit 130" INT TERM

if [[ "$SIM_METERS" -gt 0 ]]; then
    for _ in $(seq 1 100); do  # the server answers within a few seconds
        if "$VENV/bin/python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "$BASE/api/v1/registry/zones" 2>/dev/null; then
            break
        fi
        kill -0 "$SERVER" 2>/dev/null || exit 1
        sleep 0.2
    done
    manage simulate_meters --url "$BASE" --meters "$SIM_METERS" --speed "$SIM_SPEED" --quiet \
        >> "$LOG_DIR/simulator.log" 2>&1 &
    SIMULATOR=$!
fi
wait "$SERVER"
