#!/usr/bin/env bash
# A plain `pip install .` — no extras, so no pyarrow, dask, rasterio, PostGIS driver or
# web stack — must read, check, store, summarise and map a county's upload.
#
#   bash scripts/check_plain.sh          (make check-plain; .ci/run runs it)
#
# The venv is made afresh in .venv-plain (gitignored; PLAIN_VENV=DIR to put it
# elsewhere); the test files live in a temporary folder removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${PLAIN_VENV:-.venv-plain}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecomap-plain.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet .
"$VENV/bin/python" scripts/plain_check.py "$WORK/run"
