"""server: the facade the doors use, on a ServerThread, seen by real WebSocket clients."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.web.server import ServerConfig, SqlroomsServer
from sqlrooms_jupyter.web.thread import ServerThread
from tests.polling import wait_until
from tests.support import Client

ENDLESS = "SELECT count(*) FROM range(1000000000000) a, range(1000) b"


@pytest.fixture
def server() -> Iterator[SqlroomsServer]:
    thread = ServerThread(ServerConfig(port=0, engine=EngineConfig(extensions=(), pool_size=2)))
    yield thread.start()
    thread.stop()
    assert not thread.running


def _subscribe(client: Client, channel: str) -> None:
    client.send({"type": "subscribe", "channel": channel})
    assert client.recv_json() == {"type": "subscribed", "channel": channel}


def test_share_replace_unshare_tell_the_table_and_catalog_channels(
    server: SqlroomsServer,
) -> None:
    with (
        Client(server.url) as table,
        Client(server.url) as catalog,
        Client(server.url) as reader,
    ):
        _subscribe(table, "table:frame")
        _subscribe(catalog, "catalog")
        assert server.share("frame", pa.table({"v": [1, 2]})) is False
        assert server.shared == ["frame"]
        total = reader.query("SELECT sum(v) AS s FROM frame", kind="json", query_id="a")
        assert total == [{"s": 3}]
        assert server.share("frame", pa.table({"v": [5]})) is True  # replaced
        assert server.unshare("frame") and not server.unshare("frame")
        assert server.shared == []
        ops = [table.recv_json()["payload"]["op"] for _ in range(3)]
        assert ops == ["create", "replace", "drop"]
        assert [catalog.recv_json()["payload"] for _ in range(3)] == [
            {"op": op, "name": "frame"} for op in ops
        ]
        gone = reader.query("SELECT * FROM frame", kind="json", query_id="b")
        assert gone["type"] == "error" and gone["queryId"] == "b"


def test_notify_counts_receivers_and_subscriptions_follow_clients(
    server: SqlroomsServer,
) -> None:
    assert server.notify("news", {"n": 0}) == 0
    with Client(server.url) as a, Client(server.url) as b:
        _subscribe(a, "news")
        _subscribe(b, "news")
        _subscribe(b, "other")
        assert server.subscriptions() == {"news": 2, "other": 1}
        assert server.status()["connections"] == 2
        assert server.notify("news", {"n": 1}) == 2
        for client in (a, b):
            assert client.recv_json() == {"type": "notify", "channel": "news", "payload": {"n": 1}}
    wait_until(lambda: server.subscriptions() == {})
    wait_until(lambda: server.status()["connections"] == 0)


def test_cancel_answers_the_query_with_an_error_and_status_lists_it(
    server: SqlroomsServer,
) -> None:
    assert server.cancel("nothing-like-it") is False
    with Client(server.url) as client:
        client.start_running({"type": "json", "sql": ENDLESS, "queryId": "long"})
        queries = server.status()["queries"]
        assert [(q["queryId"], q["type"], q["sql"]) for q in queries] == [("long", "json", ENDLESS)]
        assert server.cancel("long") is True
        frame = client.recv_json()
        assert frame["type"] == "error" and frame["queryId"] == "long"
        assert "cancel" in frame["error"].lower()
        wait_until(lambda: server.status()["queries"] == [])
        assert client.query("SELECT 1 AS one", kind="json", query_id="next") == [{"one": 1}]


def test_invalidate_cache_forgets_persisted_results(server: SqlroomsServer) -> None:
    with Client(server.url) as client:
        client.query("SELECT 42 AS x", persist=True)
        assert server.status()["cache"]["entries"] == 1
        server.invalidate_cache()
        assert server.status()["cache"]["entries"] == 0


def test_warnings_say_which_extension_is_missing() -> None:
    config = ServerConfig(port=0, engine=EngineConfig(extensions=("no_such_ext_abc",)))
    thread = ServerThread(config)
    server = thread.start()
    try:
        assert len(server.warnings) == 1 and "no_such_ext_abc" in server.warnings[0]
        assert server.status()["warnings"] == server.warnings
        server.warnings.clear()  # a copy: the server's list is not the caller's to change
        assert len(server.warnings) == 1
    finally:
        thread.stop()


def test_call_runs_on_the_loop_and_returns(server: SqlroomsServer) -> None:
    import threading

    assert server.call(threading.current_thread).name == "sqlrooms-server"
