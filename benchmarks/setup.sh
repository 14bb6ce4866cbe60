#!/usr/bin/env bash
# Create one venv per server under benchmarks/ (git-ignored), all on the same DuckDB:
#   .venv-ours       this checkout (editable), ipykernel for the Jupyter workloads, py-spy,
#                    numpy (the verification pass reads the 10M-row table with it)
#   .venv-published  sqlrooms-server 0.1.2 from PyPI (socketify)
#   .venv-mosaic     Mosaic's duckdb-server 0.31.0 from PyPI (socketify), its last
#                    WebSocket release; mosaic_server.py starts it on a given port
# DuckDB: sqlrooms-server 0.1.2 allows >=1.5.3,<1.6, duckdb-server 0.31.0 >=1.5.2, this
# project >=1.4,<3, so every venv gets DuckDB 1.5.6 (the newest release all three allow).
# Idempotent: an existing venv with the right DuckDB is left alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
python="${PYTHON:-python3}"
DUCKDB_VERSION="1.5.6"

make_venv() {  # name, check module, packages...
  local venv="$here/.venv-$1" module="$2"
  shift 2
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "
import duckdb, $module, sys
sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; then
    return
  fi
  echo "creating $venv" >&2
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "duckdb==$DUCKDB_VERSION" "$@"
}

make_venv ours "sqlrooms_jupyter, ipykernel, jupyter_client, numpy" -e "$repo" ipykernel jupyter_client py-spy numpy
make_venv published "sqlrooms.server, socketify" "sqlrooms-server==0.1.2"
make_venv mosaic "pkg.server, socketify" "duckdb-server==0.31.0"

for name in ours published mosaic; do
  "$here/.venv-$name/bin/python" -c "import duckdb; print('$name: DuckDB', duckdb.__version__)"
done
