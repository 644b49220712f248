#!/usr/bin/env bash
# Run the test suite: ./scripts/test.sh [pytest arguments]
#
# Creates the virtual environment on first use and keeps it in step with requirements-dev.txt.
# VENV picks another environment (default: .venv in the repository).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VENV="${VENV:-$ROOT/.venv}"
cd "$ROOT"

scripts/ensure_venv.sh requirements-dev.txt
exec "$VENV/bin/python" -m pytest -q "$@"
