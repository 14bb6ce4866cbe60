"""The server as a Python object: several per process, stop and start again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.web.server import ServerConfig, SqlroomsServer
from sqlrooms_jupyter.web.thread import ServerThread
from tests.support import Client


@contextmanager
def running(config: ServerConfig) -> Iterator[SqlroomsServer]:
    """Run a server on its own thread and event loop, as the kernel will."""
    thread = ServerThread(config)
    server = thread.start()
    try:
        yield server
    finally:
        thread.stop()


def config(db: str = ":memory:") -> ServerConfig:
    return ServerConfig(port=0, engine=EngineConfig(db_path=db, extensions=()))


def test_two_servers_in_one_process_are_independent() -> None:
    with running(config()) as first, running(config()) as second:
        assert first.port != second.port
        with Client(first.url) as a, Client(second.url) as b:
            a.query("create table only_here (x int)", kind="exec")
            assert b.query(
                "select count(*) n from duckdb_tables() where table_name = 'only_here'", kind="json"
            ) == [{"n": 0}]
            assert first.status()["connections"] == 1


def test_stop_then_start_again_on_the_same_file(tmp_path: Path) -> None:
    db = str(tmp_path / "again.db")
    with running(config(db)) as server, Client(server.url) as client:
        client.query("create table t as select 1 as v", kind="exec")
    threads_before = threading.active_count()
    with running(config(db)) as server, Client(server.url) as client:
        assert client.query("select v from t", kind="json") == [{"v": 1}]
    assert threading.active_count() <= threads_before + 1


def test_shared_objects_are_queryable_from_every_cursor() -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    with running(config()) as server, Client(server.url) as client:
        server.share("trips", pd.DataFrame({"id": [1, 2, 3], "km": [1.5, 2.5, None]}))
        server.share("cities", pl.DataFrame({"name": ["Oslo", "Lima"]}))
        batches = pa.table({"v": [7, 8]}).to_batches()
        server.share("stream", pa.RecordBatchReader.from_batches(batches[0].schema, batches))
        assert client.query("select sum(km) s, count(*) n from trips", kind="json") == [
            {"s": 4.0, "n": 3}
        ]
        assert client.query("select name from cities order by 1").column("name").to_pylist() == [
            "Lima",
            "Oslo",
        ]
        for _ in range(2):  # a reader is read once at share time, then reusable
            assert client.query("select sum(v) s from stream", kind="json") == [{"s": 15}]
        assert server.share("trips", pd.DataFrame({"id": [9]}))  # replace
        assert client.query("select id from trips", kind="json", persist=True) == [{"id": 9}]
        assert server.unshare("trips") and not server.unshare("trips")
        frame = client.query("select * from trips", kind="json")
        assert frame["type"] == "error" and "trips" in frame["error"]


def test_notify_from_python_reaches_subscribers() -> None:
    thread = ServerThread(config())
    server = thread.start()
    try:
        with Client(server.url) as client:
            client.send({"type": "subscribe", "channel": "table:trips"})
            client.recv_json()
            delivered = server.notify("table:trips", {"op": "replace"})
            assert delivered == 1
            assert client.recv_json() == {
                "type": "notify",
                "channel": "table:trips",
                "payload": {"op": "replace"},
            }
    finally:
        thread.stop()
    assert not thread.running


def test_start_failure_leaves_no_thread_behind() -> None:
    with running(config()) as busy:
        taken = ServerConfig(port=busy.port, engine=EngineConfig(extensions=()))
        before = threading.active_count()
        with pytest.raises(OSError):
            ServerThread(taken).start()
        assert threading.active_count() == before
