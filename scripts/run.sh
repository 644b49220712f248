#!/usr/bin/env bash
# Run the platform on this machine: ./scripts/run.sh
#
# Creates the virtual environment on first use, installs requirements.txt, migrates the database, puts the demo
# wallets on the ledger, collects static files and serves on http://127.0.0.1:8000 until Ctrl-C.
# With no DATABASE_URL or REDIS_URL set, everything is embedded (SQLite under var/, in-memory channels).
# VENV picks another environment (default: .venv in the repository); HOST and PORT the address to serve on.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VENV="${VENV:-$ROOT/.venv}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
cd "$ROOT"

scripts/ensure_venv.sh requirements.txt

manage() { "$VENV/bin/python" manage.py "$@"; }
manage migrate --noinput
manage seed_demo
manage collectstatic --noinput --verbosity 0

BASE="http://$HOST:$PORT"
cat <<INFO

GridTokenX is starting on $BASE
  home (chain status)   $BASE/
  JSON-RPC              POST $BASE/rpc
  REST API              $BASE/api/v1/
  API docs (OpenAPI)    $BASE/api/docs/
  admin                 $BASE/admin/   (create a login: $VENV/bin/python manage.py createsuperuser)
The demo wallets above use public development keys. Stop with Ctrl-C.

INFO
exec "$VENV/bin/daphne" -b "$HOST" -p "$PORT" gridtokenx.asgi:application
