"""engine: open/close on a file or a lent connection, `run` for every kind, shared objects,
extensions that fail to load."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from sqlrooms_jupyter.backpressure import Pieces
from sqlrooms_jupyter.db.engine import Engine, EngineConfig, Task, Unavailable, Upload
from sqlrooms_jupyter.protocol import Export, Query


class RecordingSink:
    """The session's framing, reduced to a record of what the engine handed over."""

    def __init__(self) -> None:
        self.wholes: list[bytes] = []
        self.chunks: list[tuple[bytes, bool]] = []
        self.aborted = 0

    def whole(self, payload: Pieces) -> Pieces:
        self.wholes.append(b"".join(bytes(piece) for piece in payload))
        return payload

    def chunk(self, pieces: Pieces, last: bool) -> None:
        self.chunks.append((b"".join(bytes(piece) for piece in pieces), last))

    def abort(self) -> None:
        self.aborted += 1


def _config(**overrides: Any) -> EngineConfig:
    overrides.setdefault("extensions", ())
    overrides.setdefault("pool_size", 2)
    return EngineConfig(**overrides)


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(_config())
    eng.open()
    yield eng
    eng.close()


def run(
    engine: Engine, request: Query | Export | Upload, sink: RecordingSink | None = None
) -> tuple[Task, RecordingSink]:
    """One request through `Engine.run`, its `then` called on a real event loop."""
    sink = sink or RecordingSink()
    kind = request.kind if isinstance(request, Query) else "export"
    task = Task(kind, getattr(request, "sql", ""), request.query_id)

    async def go() -> Task:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Task] = loop.create_future()
        engine.run(task, request, sink, done.set_result, loop)
        return await asyncio.wait_for(done, 10)

    assert asyncio.run(go()) is task
    assert task.future.done()
    return task, sink


def _arrow(payload: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(payload)).read_all()


def _json(payload: bytes) -> Any:
    # A JSON result is the records' JSON as the content of a JSON string (unframed).
    return json.loads(json.loads('"' + payload.decode() + '"'))


def test_arrow_query_goes_whole_through_the_sink(engine: Engine) -> None:
    task, sink = run(engine, Query("arrow", "SELECT range AS i FROM range(3)", "q1"))
    outcome = task.future.result()
    assert outcome.kind == "arrow"
    assert len(sink.wholes) == 1 and sink.chunks == [] and sink.aborted == 0
    assert _arrow(sink.wholes[0]).column("i").to_pylist() == [0, 1, 2]


def test_json_query_goes_whole_through_the_sink(engine: Engine) -> None:
    task, sink = run(engine, Query("json", "SELECT 1 AS a, 'x' AS b", "q2"))
    assert task.future.result().kind == "json"
    assert _json(sink.wholes[0]) == [{"a": 1, "b": "x"}]


def test_exec_changes_the_database_and_answers_ok(engine: Engine) -> None:
    task, sink = run(engine, Query("exec", "CREATE TABLE t AS SELECT 42 AS x", "q3"))
    assert task.future.result().kind == "ok"
    assert sink.wholes == []
    _, sink = run(engine, Query("json", "SELECT x FROM t", "q4"))
    assert _json(sink.wholes[0]) == [{"x": 42}]


def test_a_failing_query_aborts_the_sink_and_fails_the_future(engine: Engine) -> None:
    task, sink = run(engine, Query("arrow", "SELECT * FROM no_such_table", "q5"))
    with pytest.raises(duckdb.CatalogException):
        task.future.result()
    assert sink.aborted == 1 and sink.wholes == []


def test_export_streams_a_csv_file_through_chunks(engine: Engine) -> None:
    task, sink = run(engine, Export("SELECT range AS i FROM range(5)", "csv", "e1"))
    exported = task.future.result()
    assert exported.rows == 5
    data = b"".join(chunk for chunk, _ in sink.chunks)
    assert exported.size == len(data)
    assert all(not last for _, last in sink.chunks)  # the session sends the last marker
    table = pa_csv.read_csv(io.BytesIO(data))
    assert table.column("i").to_pylist() == [0, 1, 2, 3, 4]


def test_export_refuses_anything_but_one_select(engine: Engine) -> None:
    task, sink = run(engine, Export("CREATE TABLE x(i INT)", "csv", "e2"))
    with pytest.raises(Exception, match="only a single SELECT"):
        task.future.result()
    assert sink.chunks == []


def test_upload_creates_the_table(engine: Engine) -> None:
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    stream = pa.BufferOutputStream()
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table)
    data = memoryview(stream.getvalue().to_pybytes())
    task, _ = run(engine, Upload("u1", '"uploaded"', data))
    assert task.future.result() is None
    _, sink = run(engine, Query("json", "SELECT * FROM uploaded ORDER BY a", "q6"))
    assert _json(sink.wholes[0]) == table.to_pylist()


def test_shared_object_is_visible_to_the_next_query_then_gone(engine: Engine) -> None:
    engine.share("shared_tbl", pa.table({"v": [7, 8]}))
    assert engine.status()["shared"] == ["shared_tbl"]
    _, sink = run(engine, Query("json", "SELECT sum(v) AS s FROM shared_tbl", "s1"))
    assert _json(sink.wholes[0]) == [{"s": 15}]
    assert engine.unshare("shared_tbl")
    assert not engine.unshare("shared_tbl")
    task, _ = run(engine, Query("json", "SELECT sum(v) AS s FROM shared_tbl", "s2"))
    with pytest.raises(duckdb.CatalogException):
        task.future.result()


def test_sharing_replaces_what_a_reused_cursor_sees(engine: Engine) -> None:
    engine.share("frame", pa.table({"v": [1]}))
    for _ in range(3):  # warm every lane with the old object
        _, sink = run(engine, Query("json", "SELECT v FROM frame", "r"))
        assert _json(sink.wholes[0]) == [{"v": 1}]
    engine.share("frame", pa.table({"v": [2]}))
    _, sink = run(engine, Query("json", "SELECT v FROM frame", "r2"))
    assert _json(sink.wholes[0]) == [{"v": 2}]


def test_share_and_unshare_clear_the_cache(engine: Engine) -> None:
    assert engine.cache is not None
    persisted = Query("arrow", "SELECT 1 AS one", "c1", persist=True)
    run(engine, persisted)
    assert engine.cache.stats()["entries"] == 1
    engine.share("t", pa.table({"v": [1]}))
    assert engine.cache.stats()["entries"] == 0
    run(engine, persisted)
    assert engine.cache.stats()["entries"] == 1
    engine.unshare("t")
    assert engine.cache.stats()["entries"] == 0


def test_an_extension_that_fails_to_load_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    eng = Engine(_config(extensions=("no_such_extension_xyz",)))
    eng.open()
    try:
        assert len(eng.warnings) == 1
        assert "no_such_extension_xyz" in eng.warnings[0]
        assert eng.status()["warnings"] == eng.warnings
        assert eng.warnings[0] in caplog.text
        _, sink = run(eng, Query("json", "SELECT 1 AS a", "w"))  # it still serves
        assert _json(sink.wholes[0]) == [{"a": 1}]
    finally:
        eng.close()


def test_close_releases_the_file_and_another_engine_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "data.duckdb"
    first = Engine(_config(db_path=str(path)))
    first.open()
    task, _ = run(first, Query("exec", "CREATE TABLE kept AS SELECT 5 AS x", "k"))
    task.future.result()
    first.close()
    assert not first.ready
    with pytest.raises(RuntimeError):
        first.connection  # noqa: B018
    # Closed for real: DuckDB refuses a read-only connection to a file still open read-write.
    reader = duckdb.connect(str(path), read_only=True)
    assert reader.execute("SELECT x FROM kept").fetchall() == [(5,)]
    reader.close()
    second = Engine(_config(db_path=str(path)))
    second.open()
    try:
        _, sink = run(second, Query("json", "SELECT x FROM kept", "k2"))
        assert _json(sink.wholes[0]) == [{"x": 5}]
    finally:
        second.close()
    first.close()  # a second close is harmless


def test_an_empty_file_is_replaced_by_a_database(tmp_path: Path) -> None:
    path = tmp_path / "made-by-mktemp.db"
    path.touch()
    eng = Engine(_config(db_path=str(path)))
    eng.open()
    eng.close()
    assert path.stat().st_size > 0


def test_a_lent_connection_is_left_open(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "lent.duckdb"))
    con.execute("CREATE TABLE mine AS SELECT 3 AS x")
    eng = Engine(_config(), connection=con)
    eng.open()
    assert eng.connection is con
    _, sink = run(eng, Query("json", "SELECT x FROM mine", "l"))
    assert _json(sink.wholes[0]) == [{"x": 3}]
    eng.close()
    assert con.execute("SELECT x FROM mine").fetchall() == [(3,)]
    con.close()


def test_run_before_open_is_unavailable() -> None:
    eng = Engine(_config())
    task, sink = run(eng, Query("json", "SELECT 1", "n"))
    with pytest.raises(Unavailable):
        task.future.result()
    assert sink.wholes == []


def test_read_only_in_memory_is_refused() -> None:
    from sqlrooms_jupyter.db.sandbox import Sandbox

    eng = Engine(_config(sandbox=Sandbox(read_only=True)))
    with pytest.raises(ValueError, match="--read-only needs a database file"):
        eng.open()
