"""meta_tables: the server's own tables, in a schema or an attached --meta-db file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from sqlrooms_jupyter.db.meta_tables import MetaTables

TABLES = {"ui_state", "sync_rooms", "sync_updates"}


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _tables(con: duckdb.DuckDBPyConnection, database: str, schema: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?",
        [database, schema],
    ).fetchall()
    return {row[0] for row in rows}


def test_names_are_qualified_by_schema_or_by_catalog_and_schema() -> None:
    assert MetaTables().sync_rooms == '"__sqlrooms".sync_rooms'
    attached = MetaTables("ns", "/tmp/meta.db")
    assert attached.ui_state == '"ns".main.ui_state'
    assert attached.sync_updates == '"ns".main.sync_updates'
    assert MetaTables('we"ird').prefix == '"we""ird"'


def test_create_makes_the_schema_and_tables_and_is_idempotent(
    con: duckdb.DuckDBPyConnection,
) -> None:
    meta = MetaTables()
    meta.create(con)
    con.execute(f"INSERT INTO {meta.ui_state} (key, payload_json) VALUES ('k', '{{}}')")
    meta.create(con)  # at every start: keeps what is there
    assert _tables(con, "memory", "__sqlrooms") == TABLES
    assert con.execute(f"SELECT key FROM {meta.ui_state}").fetchall() == [("k",)]


def test_the_update_log_refuses_a_repeated_seq(con: duckdb.DuckDBPyConnection) -> None:
    meta = MetaTables()
    meta.create(con)
    con.execute(f"INSERT INTO {meta.sync_updates} (room_id, seq, data) VALUES ('r', 1, 'a')")
    with pytest.raises(duckdb.ConstraintException):
        con.execute(f"INSERT INTO {meta.sync_updates} (room_id, seq, data) VALUES ('r', 1, 'b')")


def test_meta_db_is_attached_in_a_new_directory(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "missing" / "dir" / "meta.db"
    meta = MetaTables("ns", str(path))
    meta.create(con)
    meta.create(con)  # already attached: not attached twice
    con.execute(f"INSERT INTO {meta.sync_rooms} (room_id, snapshot) VALUES ('r', 'x')")
    assert _tables(con, "ns", "main") == TABLES
    assert _tables(con, "memory", "main") == set()
    meta.detach(con)
    other = duckdb.connect(str(path))
    try:
        assert other.execute("SELECT room_id FROM sync_rooms").fetchall() == [("r",)]
    finally:
        other.close()


def test_a_main_schema_named_like_the_namespace_is_not_ambiguous(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    con.execute('CREATE SCHEMA "ns"')
    con.execute('CREATE TABLE "ns".ui_state (mine INTEGER)')  # the user's own table
    meta = MetaTables("ns", str(tmp_path / "meta.db"))
    meta.create(con)
    con.execute(f"INSERT INTO {meta.ui_state} (key, payload_json) VALUES ('k', '1')")
    assert con.execute(f"SELECT key FROM {meta.ui_state}").fetchall() == [("k",)]
    assert con.execute('SELECT count(*) FROM memory."ns".ui_state').fetchall() == [(0,)]
    assert _tables(con, "ns", "main") == TABLES


def test_detach_without_meta_db_keeps_the_schema(con: duckdb.DuckDBPyConnection) -> None:
    meta = MetaTables()
    meta.create(con)
    meta.detach(con)
    assert _tables(con, "memory", "__sqlrooms") == TABLES
