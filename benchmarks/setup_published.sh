#!/usr/bin/env bash
# Install the published sqlrooms-server 0.1.2 (socketify, DuckDB 1.5.x) into its own venv,
# benchmarks/.venv-published (git-ignored), for run.py to compare against.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-published"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/sqlrooms-server" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "sqlrooms-server==0.1.2"
fi
"$venv/bin/python" -c "import duckdb, socketify; print('published server venv: DuckDB', duckdb.__version__)"
