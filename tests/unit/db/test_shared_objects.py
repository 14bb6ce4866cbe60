"""shared_objects: objects a notebook shares, registered on each query's cursor on demand."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa
import pytest

from sqlrooms_jupyter.db.shared_objects import SharedObjects
from sqlrooms_jupyter.db.workers import Lane
from sqlrooms_jupyter.protocol import ProtocolError


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _lane(con: duckdb.DuckDBPyConnection) -> Lane:
    return Lane(con.cursor(), generation=0)


def test_add_remove_and_what_is_shared() -> None:
    shared = SharedObjects()
    assert not shared
    shared.add("trips", pa.table({"x": [1]}), probe=None)
    shared.add("alpha", pa.table({"y": [2]}), probe=None)
    assert shared and "trips" in shared and "other" not in shared
    assert shared.names() == ["alpha", "trips"]
    assert shared.remove("trips")
    assert not shared.remove("trips")
    assert shared.names() == ["alpha"]


def test_items_is_a_copy_that_later_changes_do_not_touch() -> None:
    shared = SharedObjects()
    table = pa.table({"x": [1]})
    shared.add("a", table, probe=None)
    snapshot = shared.items()
    shared.add("b", table, probe=None)
    shared.remove("a")
    assert list(snapshot) == ["a"] and snapshot["a"] is table


@pytest.mark.parametrize("name", ["", "1abc", "a-b", 'x"; drop table t; --', "a.b.c"])
def test_names_must_be_plain_identifiers(name: str) -> None:
    with pytest.raises(ProtocolError):
        SharedObjects().add(name, pa.table({"x": [1]}), probe=None)


def test_a_record_batch_reader_is_read_once_at_share_time(
    con: duckdb.DuckDBPyConnection,
) -> None:
    table = pa.table({"x": [1, 2, 3]})
    shared = SharedObjects()
    shared.add("r", pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), None)
    stored = shared.items()["r"]
    assert isinstance(stored, pa.Table) and stored.equals(table)
    for _ in range(2):  # readable by every query, not only the first
        lane = _lane(con)
        shared.apply(lane, "select sum(x) from r")
        assert lane.cursor.sql("select sum(x) from r").fetchall() == [(6,)]


def test_the_probe_refuses_what_duckdb_cannot_query_and_is_closed(
    con: duckdb.DuckDBPyConnection,
) -> None:
    shared = SharedObjects()
    probe = con.cursor()
    with pytest.raises(ValueError, match="cannot share int as 'n'"):
        shared.add("n", 5, probe)
    assert "n" not in shared
    with pytest.raises(duckdb.ConnectionException):
        probe.sql("select 1")
    ok_probe = con.cursor()
    shared.add("df", pd.DataFrame({"a": [1, 2]}), ok_probe)
    assert "df" in shared
    with pytest.raises(duckdb.ConnectionException):
        ok_probe.sql("select 1")


def test_apply_registers_only_the_names_a_statement_mentions(
    con: duckdb.DuckDBPyConnection,
) -> None:
    shared = SharedObjects()
    shared.add("Trips", pd.DataFrame({"n": [1, 2, 3]}), None)
    shared.add("zones", pa.table({"z": ["a"]}), None)
    lane = _lane(con)
    shared.apply(lane, "SELECT count(*) FROM TRIPS")  # names are case-insensitive in SQL
    assert lane.registered == {"Trips"}
    assert lane.cursor.sql("SELECT count(*) FROM trips").fetchall() == [(3,)]
    with pytest.raises(duckdb.CatalogException):
        lane.cursor.sql("SELECT * FROM zones")


def test_apply_does_not_register_again_on_a_lane_that_has_it(
    con: duckdb.DuckDBPyConnection,
) -> None:
    shared = SharedObjects()
    shared.add("t", pa.table({"x": [1]}), None)
    lane = _lane(con)
    shared.apply(lane, "select * from t")
    lane.cursor.unregister("t")  # were it registered again, the view would come back
    shared.apply(lane, "select * from t")
    with pytest.raises(duckdb.CatalogException):
        lane.cursor.sql("select * from t")


def test_shared_views_stay_on_their_own_cursor(con: duckdb.DuckDBPyConnection) -> None:
    shared = SharedObjects()
    shared.add("t", pa.table({"x": [7]}), None)
    lane = _lane(con)
    shared.apply(lane, "select * from t")
    with pytest.raises(duckdb.CatalogException):
        con.cursor().sql("select * from t")
