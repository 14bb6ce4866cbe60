"""DuckLake support in the engine: extensions shipped as Python packages, the default
catalog for query cursors, and the lake's snapshot as a version for cached results.

A cursor is a connection of its own, so a `USE lake` in `--init-sql` does not
carry to the cursors queries run on: the engine repeats it on each new cursor.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import duckdb

from .protocol import quote_identifier

log = logging.getLogger(__name__)

# PyPI packages named duckdb-extension-<name> carry the extension binary for one DuckDB version.
PACKAGED = ("ducklake", "postgres", "httpfs")


def packaged_extension(name: str) -> Path | None:
    """The extension file shipped by the `duckdb-extension-<name>` package, if installed."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    version = duckdb.__version__
    for root in spec.submodule_search_locations:
        for path in Path(root).glob(f"extensions/v{version}/*.duckdb_extension"):
            return path
    return None


def install_packaged_extensions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Install (not load) every packaged extension DuckDB does not have yet, so that a plain
    `INSTALL ducklake; LOAD ducklake` works with no network. Returns the names installed."""
    installed = {
        name
        for name, done in con.execute(
            "SELECT extension_name, installed FROM duckdb_extensions()"
        ).fetchall()
        if done
    }
    names = []
    for name in PACKAGED:
        path = packaged_extension(name)
        canonical = "postgres_scanner" if name == "postgres" else name
        if path is None or canonical in installed:
            continue
        literal = str(path).replace("'", "''")
        con.execute(f"INSTALL '{literal}'")
        names.append(name)
    return names


def cursor_setup(con: duckdb.DuckDBPyConnection) -> str | None:
    """`USE catalog.schema` for new cursors when set-up SQL moved the connection's default
    away from where a fresh cursor starts; None when there is nothing to repeat."""
    fresh = con.cursor()
    try:
        start = fresh.execute("SELECT current_database(), current_schema()").fetchone()
    finally:
        fresh.close()
    now = con.execute("SELECT current_database(), current_schema()").fetchone()
    if now is None or now == start:
        return None
    return f"USE {quote_identifier(now[0])}.{quote_identifier(now[1])}"


def ducklake_catalogs(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT database_name FROM duckdb_databases() WHERE type = 'ducklake' ORDER BY 1"
    ).fetchall()
    return [row[0] for row in rows]


def snapshot_version(cursor: duckdb.DuckDBPyConnection, catalogs: list[str]) -> str:
    """The current snapshot id of each lake: a result computed at one version is valid for
    every replica that reads the same version."""
    parts = []
    for catalog in catalogs:
        row = cursor.execute(
            f"SELECT id FROM {quote_identifier(catalog)}.current_snapshot()"
        ).fetchone()
        parts.append(f"{catalog}@{row[0] if row else ''}")
    return ",".join(parts)
