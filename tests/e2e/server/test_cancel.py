"""Cancellation: one query stops, everything else keeps going."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest

from tests.support import ServerProcess, arrow_table

LONG = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"


def test_cancel_long_query_leaves_other_queries_alone(server: ServerProcess) -> None:
    with server.client() as client, server.client() as other:
        client.start_running({"type": "arrow", "sql": LONG, "queryId": "long"})
        other.start_running({"type": "arrow", "sql": LONG, "queryId": "other-long"})
        client.send({"type": "cancel", "queryId": "long"})
        assert client.recv_json(5) == {"type": "cancelAck", "queryId": "long", "cancelled": True}
        frame = client.recv_json(5)
        assert frame == {"type": "error", "queryId": "long", "error": "Query was cancelled"}
        # the same socket and the other client are unaffected
        assert client.query("select 1 as x", query_id="after").to_pylist() == [{"x": 1}]
        assert other.query("select 2 as y", query_id="o2").to_pylist() == [{"y": 2}]
        other.send({"type": "cancel", "queryId": "other-long"})
        assert other.recv_json(5)["cancelled"] is True
        assert other.recv_json(5)["queryId"] == "other-long"


def test_cancel_unknown_or_finished_query_is_not_cancelled(server: ServerProcess) -> None:
    with server.client() as client:
        client.send({"type": "cancel", "queryId": "nope"})
        assert client.recv_json() == {"type": "cancelAck", "queryId": "nope", "cancelled": False}
        client.query("select 1", query_id="done")
        client.send({"type": "cancel", "queryId": "done"})
        assert client.recv_json()["cancelled"] is False


def test_cancel_of_queued_query_removes_it_before_it_runs(start_server) -> None:
    server = start_server("--pool-size", "1")
    with server.client() as client:
        client.start_running({"type": "exec", "sql": LONG, "queryId": "blocker"})
        client.send({"type": "exec", "sql": "create table never_ran (a int)", "queryId": "queued"})
        client.send({"type": "cancel", "queryId": "queued"})
        assert client.recv_json(5) == {"type": "cancelAck", "queryId": "queued", "cancelled": True}
        assert client.recv_json(5)["error"] == "Query was cancelled"
        client.send({"type": "cancel", "queryId": "blocker"})
        assert client.recv_json(5)["cancelled"] is True
        assert client.recv_json(5)["queryId"] == "blocker"
        rows = client.query(
            "select count(*) as n from duckdb_tables() where table_name = 'never_ran'", kind="json"
        )
        assert rows == [{"n": 0}]


def test_closing_a_socket_cancels_its_queries(start_server) -> None:
    server = start_server("--pool-size", "1")
    with server.client() as client:
        client.start_running({"type": "exec", "sql": LONG, "queryId": "orphan"})
    # with one pool thread, this only answers once the orphan was interrupted
    with server.client() as client:
        started = time.monotonic()
        assert client.query("select 3 as x", kind="json") == [{"x": 3}]
        assert time.monotonic() - started < 10


def test_cancel_during_a_streamed_result_never_yields_a_truncated_table(
    server: ServerProcess,
) -> None:
    big = "select range a, range * 2 b, range::double / 3 c from range(10000000)"
    with server.client() as client:
        client.send({"type": "arrow", "sql": big, "queryId": "big"})
        time.sleep(0.3)  # a race by design: the cancel lands mid-stream or after; both are checked
        client.send({"type": "cancel", "queryId": "big"})
        binary, texts = [], []
        while not any(t["type"] == "cancelAck" for t in texts) or (
            texts[-1]["type"] == "cancelAck" and texts[-1]["cancelled"]
        ):
            frame = client.recv(30)
            (binary if isinstance(frame, tuple) else texts).append(frame)
        ack = next(t for t in texts if t["type"] == "cancelAck")
        if ack["cancelled"]:
            assert texts[-1] == {"type": "error", "queryId": "big", "error": "Query was cancelled"}
            for _, payload in binary:  # a stream cut short must not parse as a table
                with pytest.raises(pa.ArrowInvalid):
                    arrow_table(payload)
        else:
            assert len(binary) == 1 and arrow_table(binary[0][1]).num_rows == 10_000_000
        assert client.query("select 5 as x", query_id="next").to_pylist() == [{"x": 5}]
