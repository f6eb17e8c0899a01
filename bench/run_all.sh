#!/usr/bin/env bash
# Every benchmark, one after the other; each prints its figures and its ratio against a baseline measured in the
# same run. Usage: bash bench/run_all.sh   (from the repository root, after `make setup`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
photos=$(mktemp -d)
trap 'rm -rf "$photos"' EXIT
echo "== ingest";   "$PY" bench/ingest.py --n 200 --photos "$photos"
echo "== diagnose"; "$PY" bench/diagnose.py --repeats 30
echo "== allocator"; "$PY" bench/bench_allocator.py
