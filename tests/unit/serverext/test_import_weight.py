"""The Jupyter server's process relays frames: importing the extension loads no DuckDB,
pyarrow, diskcache or Loro (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("duckdb", "pyarrow", "diskcache", "loro")

_PROBE = f"""
import importlib, json, sys
import sqlrooms_jupyter.serverext
for name in ("extension", "app_route", "handlers", "manager", "discovery", "relay"):
    importlib.import_module("sqlrooms_jupyter.serverext." + name)
import sqlrooms_jupyter
sqlrooms_jupyter._jupyter_server_extension_points()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""


def _loaded_after(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(loaded, list)
    return loaded


def test_importing_the_server_extension_loads_no_engine_libraries() -> None:
    assert _loaded_after(_PROBE) == []


def test_the_probe_would_see_them() -> None:
    """The same probe after importing the core finds them: the check can fail."""
    loaded = _loaded_after("import sqlrooms_jupyter.db.engine\n" + _PROBE)
    assert {"duckdb", "pyarrow", "diskcache"} <= {name.split(".")[0] for name in loaded}
