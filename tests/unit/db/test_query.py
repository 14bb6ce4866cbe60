"""query: one protocol query on a cursor — kinds, the cache, uploads, cursor hygiene."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from sqlrooms_jupyter.db import results
from sqlrooms_jupyter.db.cache import ResultCache
from sqlrooms_jupyter.db.query import Outcome, QueryRunner, Upload
from sqlrooms_jupyter.db.workers import Cancelled, Task, Workers
from sqlrooms_jupyter.protocol import Query


class Harness:
    """A runner on a real connection, counting cache invalidations."""

    def __init__(self, direct_select: bool) -> None:
        self.con = duckdb.connect()
        self.cache = ResultCache()
        self.runner = QueryRunner(
            cache=self.cache,
            direct_select=direct_select,
            batch_rows=1000,
            stream_chunk_bytes=1 << 20,
        )

    @property
    def invalidations(self) -> int:
        return self.cache.generation

    def run(
        self, kind: str, sql: str, persist: bool = False, cursor: Any = None
    ) -> tuple[Outcome, Task]:
        task = Task(kind, sql, "q")
        outcome = self.runner.run(
            cursor or self.con.cursor(), task, Query(kind, sql, "q", persist), None
        )
        return outcome, task

    def close(self) -> None:
        self.cache.close()
        self.con.close()


@pytest.fixture(params=[False, True], ids=["relation", "direct"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    h = Harness(direct_select=request.param)
    if request.param and not results.direct_select(h.con):
        h.close()
        pytest.skip("this DuckDB has no direct Arrow entry point")
    yield h
    h.close()


def _table(outcome: Outcome) -> pa.Table:
    """An Arrow outcome: unframed IPC pieces (the session frames them)."""
    assert outcome.kind == "arrow" and isinstance(outcome.payload, list)
    whole = b"".join(bytes(piece) for piece in outcome.payload)
    return pa.ipc.open_stream(pa.py_buffer(whole)).read_all()


def _records(outcome: Outcome) -> Any:
    assert outcome.kind == "json" and isinstance(outcome.payload, list)
    content = b"".join(bytes(piece) for piece in outcome.payload).decode()
    return json.loads(json.loads('"' + content + '"'))


def test_arrow_select_is_the_table_and_leaves_a_reusable_cursor(harness: Harness) -> None:
    cursor = harness.con.cursor()
    outcome, task = harness.run("arrow", "SELECT * FROM range(5000) t(i)", cursor=cursor)
    assert _table(outcome).column("i").to_pylist() == list(range(5000))
    assert task.cursor_reusable
    cursor.sql("CREATE OR REPLACE TABLE after_arrow(x INTEGER)")  # no result left open
    assert harness.invalidations == 0


def test_json_select_leaves_a_reusable_cursor(harness: Harness) -> None:
    cursor = harness.con.cursor()
    outcome, task = harness.run("json", "SELECT 1 AS a, 'x' AS b", cursor=cursor)
    assert _records(outcome) == [{"a": 1, "b": "x"}]
    assert task.cursor_reusable
    cursor.sql("CREATE OR REPLACE TABLE after_json(x INTEGER)")


@pytest.mark.parametrize("kind", ["arrow", "json", "exec"])
def test_ddl_answers_ok_and_invalidates(harness: Harness, kind: str) -> None:
    outcome, task = harness.run(kind, "CREATE TABLE t(x INTEGER)")
    assert outcome == Outcome("ok")
    assert not task.cursor_reusable
    assert harness.invalidations == 1


def test_dml_keeps_duckdbs_row_count(harness: Harness) -> None:
    harness.run("exec", "CREATE TABLE t(x INTEGER)")
    outcome, _ = harness.run("arrow", "INSERT INTO t SELECT * FROM range(3)")
    assert _table(outcome).to_pylist() == [{"Count": 3}]
    outcome, _ = harness.run("json", "DELETE FROM t WHERE x > 0")
    assert _records(outcome) == [{"Count": 2}]
    assert harness.invalidations == 3


def test_exec_of_a_select_answers_ok_and_gives_its_cursor_up(harness: Harness) -> None:
    outcome, task = harness.run("exec", "SELECT * FROM range(100000)")
    assert outcome == Outcome("ok")
    assert not task.cursor_reusable  # `execute` left the SELECT's result open on it
    assert harness.invalidations == 0


def test_exec_then_create_on_the_pool_has_no_unfinished_result(harness: Harness) -> None:
    """Defect 1 of issue 12, at the unit level: an exec'd SELECT's cursor must not serve
    the next query."""
    pool = Workers(pool_size=1)
    pool.start(harness.con)
    try:

        def run(kind: str, sql: str) -> Outcome:
            query = Query(kind, sql, "q")

            def work(cursor: duckdb.DuckDBPyConnection, task: Task) -> Outcome:
                return harness.runner.run(cursor, task, query, None)

            result = pool.submit(Task(kind, sql, "q"), work).future.result(10)
            assert isinstance(result, Outcome)
            return result

        assert run("exec", "SELECT * FROM range(100000)") == Outcome("ok")
        assert run("arrow", "CREATE OR REPLACE TABLE t(x INTEGER)") == Outcome("ok")
        assert run("arrow", "SELECT 1 AS one").kind == "arrow"
        assert run("json", "CREATE OR REPLACE TABLE t(x INTEGER)") == Outcome("ok")
    finally:
        pool.stop(timeout=2)


def test_a_statement_list_answers_for_its_last_statement(harness: Harness) -> None:
    outcome, task = harness.run(
        "arrow", "CREATE TABLE t AS SELECT 41 AS x; SELECT x + 1 AS y FROM t"
    )
    assert _table(outcome).to_pylist() == [{"y": 42}]
    assert not task.cursor_reusable
    assert harness.invalidations == 1
    outcome, _ = harness.run("json", "SELECT 1; DROP TABLE t")
    assert outcome == Outcome("ok")


def test_persisted_results_come_from_the_cache_until_a_write(harness: Harness) -> None:
    harness.run("exec", "CREATE TABLE t AS SELECT 1 AS x")
    first, _ = harness.run("arrow", "SELECT sum(x) AS s FROM t", persist=True)
    assert _table(first).to_pylist() == [{"s": 1}]
    # A change the server does not see (as a notebook cell's): the cache answers.
    harness.con.execute("INSERT INTO t VALUES (10)")
    cached, _ = harness.run("arrow", "SELECT sum(x) AS s FROM t", persist=True)
    assert _table(cached).equals(_table(first))
    # A write through the server invalidates.
    harness.run("exec", "INSERT INTO t VALUES (100)")
    fresh, _ = harness.run("arrow", "SELECT sum(x) AS s FROM t", persist=True)
    assert _table(fresh).to_pylist() == [{"s": 111}]


def test_cached_arrow_answers_are_the_same_unframed_result(harness: Harness) -> None:
    sql = "SELECT 7 AS seven"
    outcomes = [
        harness.runner.run(
            harness.con.cursor(), Task("arrow", sql, q), Query("arrow", sql, q, True)
        )
        for q in ("first", "second")
    ]
    assert [_table(o).to_pylist() for o in outcomes] == [[{"seven": 7}]] * 2
    assert harness.cache.stats()["entries"] == 1


def test_persisted_json_is_cached_too(harness: Harness) -> None:
    harness.run("exec", "CREATE TABLE t AS SELECT 1 AS x")
    first, _ = harness.run("json", "SELECT x FROM t", persist=True)
    harness.con.execute("UPDATE t SET x = 2")
    again, _ = harness.run("json", "SELECT x FROM t", persist=True)
    assert _records(first) == _records(again) == [{"x": 1}]


def test_writes_are_never_cached(harness: Harness) -> None:
    harness.run("exec", "CREATE TABLE t(x INTEGER)")
    harness.run("arrow", "INSERT INTO t VALUES (1) RETURNING x", persist=True)
    harness.run("arrow", "INSERT INTO t VALUES (1) RETURNING x", persist=True)
    assert harness.con.sql("SELECT count(*) FROM t").fetchall() == [(2,)]
    assert harness.cache.stats()["entries"] == 0


def test_a_cancelled_task_stops_before_computing(harness: Harness) -> None:
    task = Task("arrow", "SELECT 1", "q")
    task.cancelled.set()
    with pytest.raises(Cancelled):
        harness.runner.run(harness.con.cursor(), task, Query("arrow", "SELECT 1", "q"), None)


def _ipc(table: pa.Table) -> memoryview:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue().to_pybytes())


def test_upload_arrow_replaces_the_table_and_leaves_no_view(harness: Harness) -> None:
    cursor = harness.con.cursor()
    table = pa.table({"id": [1, 2, 3], "name": ["a", "b", None]})
    harness.runner.upload_arrow(cursor, Task("arrow", "", "u"), Upload("u", '"up"', _ipc(table)))
    nine = _ipc(pa.table({"id": [9]}))
    harness.runner.upload_arrow(cursor, Task("arrow", "", "u"), Upload("u", '"up"', nine))
    assert harness.con.sql("SELECT * FROM up").fetchall() == [(9,)]
    views = cursor.sql(
        "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '__sqlrooms_upload%'"
    ).fetchall()
    assert views == [(0,)]
    assert harness.invalidations == 2


def test_a_truncated_upload_fails_and_creates_nothing(harness: Harness) -> None:
    whole = bytes(_ipc(pa.table({"x": list(range(1000))})))
    with pytest.raises(pa.ArrowInvalid):
        harness.runner.upload_arrow(
            harness.con.cursor(),
            Task("arrow", "", "u"),
            Upload("u", '"bad"', memoryview(whole[:100])),
        )
    assert harness.con.sql(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'bad'"
    ).fetchall() == [(0,)]


# A text this long is not classified up front (DuckDB parses with the GIL held).
LONG_IN = ",".join(["1"] * 9_000)  # ~18 KB


@pytest.mark.parametrize("kind", ["arrow", "json"])
def test_a_long_select_runs_as_one_select(harness: Harness, kind: str) -> None:
    sql = f"SELECT 'it''s' AS s, count(*)::INT AS n FROM range(10) WHERE range IN ({LONG_IN})"
    assert len(sql) > 16 << 10
    cursor = harness.con.cursor()
    outcome, task = harness.run(kind, sql, cursor=cursor)
    rows = _table(outcome).to_pylist() if kind == "arrow" else _records(outcome)
    assert rows == [{"s": "it's", "n": 1}]
    # Known to be one SELECT although never classified: kept, nothing invalidated.
    assert task.cursor_reusable
    assert harness.invalidations == 0
    cursor.sql("CREATE OR REPLACE TABLE after_long(x INTEGER)")  # no result left open


def test_long_texts_that_are_not_one_select_run_as_before(harness: Harness) -> None:
    harness.run("exec", "CREATE TABLE t(x INTEGER)")
    insert = "INSERT INTO t VALUES " + ",".join(["(1)"] * 5_000)
    outcome, task = harness.run("arrow", insert)
    assert _table(outcome).to_pylist() == [{"Count": 5_000}]
    assert not task.cursor_reusable and harness.invalidations == 2
    # A subquery would rename the second `a` to `a_1`: such a SELECT runs as it is.
    duplicate = f"SELECT 1 AS a, 2 AS a FROM range(10) WHERE range IN ({LONG_IN})"
    outcome, _ = harness.run("arrow", duplicate)
    assert _table(outcome).column_names == ["a", "a"]
    # Two statements: the last one answers, as for a short text.
    outcome, _ = harness.run("json", f"SELECT 1 WHERE 1 IN ({LONG_IN}); SELECT 7 AS seven")
    assert _records(outcome) == [{"seven": 7}]
    with pytest.raises(duckdb.ParserException, match="syntax error"):
        harness.run("arrow", f"SELEC 1 WHERE 1 IN ({LONG_IN})")
