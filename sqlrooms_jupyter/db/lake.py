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

from ..protocol import quote_identifier

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
    snapshots = current_snapshots(cursor, catalogs)
    return ",".join(f"{catalog}@{snapshot}" for catalog, snapshot in snapshots.items())


# How a snapshot's `changes` name what happened to a table; all else (inserts, deletes,
# alters, compactions) is a "change".
_OPS = {"tables_created": "create", "tables_dropped": "drop"}


def current_snapshots(cursor: duckdb.DuckDBPyConnection, catalogs: list[str]) -> dict[str, int]:
    snapshots = {}
    for catalog in catalogs:
        row = cursor.execute(
            f"SELECT id FROM {quote_identifier(catalog)}.current_snapshot()"
        ).fetchone()
        snapshots[catalog] = int(row[0]) if row else 0
    return snapshots


def table_changes(
    cursor: duckdb.DuckDBPyConnection, catalog: str, after: int
) -> list[tuple[str, str, int]]:
    """(table name, op, snapshot id) for every table a snapshot after `after` touched."""
    lake = quote_identifier(catalog)
    names = dict(
        cursor.execute(
            "SELECT table_id::VARCHAR, table_name FROM "
            f"{quote_identifier('__ducklake_metadata_' + catalog)}.ducklake_table"
        ).fetchall()
    )
    found = []
    for snapshot_id, changes in cursor.execute(
        f"SELECT snapshot_id, changes FROM {lake}.snapshots() WHERE snapshot_id > ? "
        "ORDER BY snapshot_id",
        [after],
    ).fetchall():
        for kind, items in (changes or {}).items():
            if not kind.startswith(("tables_", "inlined_")) or kind == "tables_renamed":
                continue
            for item in items or ():
                name = item.rsplit(".", 1)[-1] if kind == "tables_created" else names.get(item)
                if name:
                    found.append((name, _OPS.get(kind, "change"), int(snapshot_id)))
    return found
