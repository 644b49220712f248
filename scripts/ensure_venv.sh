#!/usr/bin/env bash
# ensure_venv.sh REQUIREMENTS_FILE: create the virtual environment $VENV if it is missing and install the file.
#
# Installs only when the requirements changed since the last successful install into this environment, so a
# rerun needs no network. PYTHON picks the interpreter that creates the environment (default python3.11, python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUIREMENTS="$ROOT/${1:?usage: ensure_venv.sh REQUIREMENTS_FILE}"
: "${VENV:?VENV must name the virtual environment}"

if [[ ! -x "$VENV/bin/python" ]]; then
    PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
    if [[ -z "$PYTHON" ]]; then
        echo "error: GridTokenX needs Python 3.11 or newer (python3.11 or python3 on PATH, or set PYTHON)" >&2
        exit 1
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: $PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); GridTokenX needs 3.11 or newer" >&2
        exit 1
    fi
    echo "creating the virtual environment $VENV" >&2
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        echo "error: could not create $VENV (on Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

# Every requirements file counts: requirements-dev.txt includes requirements.txt.
STAMP="$VENV/.installed-$(basename "$REQUIREMENTS")"
DIGEST="$(cat "$ROOT"/requirements*.txt | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$DIGEST" ]]; then
    echo "installing $(basename "$REQUIREMENTS") into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$DIGEST" > "$STAMP"
fi
