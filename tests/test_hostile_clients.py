"""What a hostile client could do to a shared server that the attacker's second review found
(issue 28 follow-up, findings 06-11): each against the real CLI on a loopback port."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from sqlrooms_jupyter import handlers

from .rawws import RawSocket
from .support import ServerProcess, http_get
from .test_query_timeout import FifoFeeder, answers, fifo_read

TOKEN = "hostile-secret-token"


# -- 07: deeply nested JSON ---------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_json_before_auth_is_refused_without_a_traceback(start_server) -> None:
    server = start_server("--auth-token", TOKEN)
    for _ in range(5):
        sock = RawSocket(server.port)
        sock.send_text('{"type":"auth","token":' + nested(1900) + "}")
        opcode, payload = sock.recv_frame()
        assert opcode == 0x1 and json.loads(payload)["error"] == "unauthorized"
        assert sock.close_code() == 1008
        sock.close()
    with server.client(f"/?token={TOKEN}") as client:
        assert client.query("SELECT 1 AS a", "json") == [{"a": 1}]
    log = server.log()
    assert "Traceback" not in log and "RecursionError" not in log


def test_deeply_nested_json_is_a_clean_error_and_the_token_stays_out_of_the_log(
    start_server,
) -> None:
    server = start_server("--auth-token", TOKEN)
    with server.client(f"/?token={TOKEN}") as client:
        client.send('{"type":"json","queryId":"deep","sql":"SELECT 1","x":' + nested(5000) + "}")
        error = client.recv_json()
        assert error["type"] == "error" and error["queryId"] == "deep"
        assert "nested too deeply" in error["error"]
        # a binary frame whose header is nested as deeply
        header = ('{"type":"uploadArrow","x":' + nested(5000) + "}").encode()
        client.send(len(header).to_bytes(4, "big") + header)
        assert client.recv_json()["type"] == "error"
        assert client.query("SELECT 2 AS a", "json") == [{"a": 2}]  # still served
    log = server.log()
    assert TOKEN not in log
    assert "Traceback" not in log and "RecursionError" not in log


def test_every_route_of_the_server_redacts_its_request_line() -> None:
    """Tornado's uncaught-exception line names the request URL (with `?token=`)."""
    from sqlrooms_jupyter.redact import RedactedLogMixin

    for handler in (handlers.QueryWebSocket, handlers.HealthHandler, handlers.RelayStatusHandler):
        assert issubclass(handler, RedactedLogMixin)
        assert handler.log_exception is RedactedLogMixin.log_exception


# -- 10: the server's own channels ---------------------------------------------------------


@pytest.mark.parametrize("read_only", [False, True])
def test_clients_may_not_publish_on_the_servers_channels(
    start_server, tmp_path: Path, read_only: bool
) -> None:
    db = tmp_path / "shared.db"
    duckdb.connect(str(db)).close()
    server = start_server("--db-path", str(db), *(["--read-only"] if read_only else []))
    with server.client() as victim, server.client() as attacker:
        for channel in ("catalog", "table:trips", "other"):
            victim.send({"type": "subscribe", "channel": channel})
            assert victim.recv_json() == {"type": "subscribed", "channel": channel}
        for channel in ("catalog", "table:trips"):
            attacker.send(
                {"type": "notify", "channel": channel, "payload": {"op": "drop", "name": "trips"}}
            )
            error = attacker.recv_json()
            assert error["type"] == "error"
            assert f"channel '{channel}' is the server's own" in error["error"]
            assert "subscribe" in error["error"]
        attacker.send({"type": "notify", "channel": "other", "payload": 1})
        assert attacker.recv_json()["type"] == "notify"  # the sender's own copy
        assert attacker.recv_json() == {"type": "notifyAck", "channel": "other"}
        # the victim's next frame is the allowed notify: nothing forged came before it
        assert victim.recv_json() == {"type": "notify", "channel": "other", "payload": 1}


# -- 09: compressed uploads ---------------------------------------------------------------


def rss(server: ServerProcess) -> int:
    with open(f"/proc/{server.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def compressed_upload(rows: int, table: str, query_id: str) -> bytes:
    batch = pa.record_batch([pa.array(np.zeros(rows, dtype=np.int64))], names=["z"])
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    header = json.dumps({"type": "uploadArrow", "tableName": table, "queryId": query_id}).encode()
    return len(header).to_bytes(4, "big") + header + sink.getvalue().to_pybytes()


def test_a_compressed_upload_is_bounded_by_its_decompressed_size(start_server) -> None:
    server = start_server("--memory-limit", "128MB", "--max-message-size", "64K")
    bomb = compressed_upload(32 << 20, "bomb", "up")  # 256 MB of zeros in ~10 KB
    assert len(bomb) < 64 << 10
    before = rss(server)
    with server.client() as client:
        client.send(bomb)
        error = client.recv_json(60)
        assert error["type"] == "error" and error["queryId"] == "up"
        assert "65,536 bytes once decompressed" in error["error"]
        assert rss(server) - before < 64 << 20
        # nothing half-created; a small compressed upload still works
        answer = client.query("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'bomb'")
        assert answer.to_pylist() == [{"n": 0}]
        client.send(compressed_upload(1000, "small", "up2"))
        assert client.recv_json() == {"type": "uploadAck", "queryId": "up2"}
        assert client.query("SELECT count(*) AS n FROM small").to_pylist() == [{"n": 1000}]
    assert "Traceback" not in server.log()


# -- 06: reads that never return ----------------------------------------------------------


def test_the_servers_stdin_is_not_there_to_block_a_read(tmp_path: Path) -> None:
    """Run from a shell or a supervisor, stdin is a terminal or a pipe nobody writes."""
    server = ServerProcess("--query-timeout", "5", cwd=tmp_path, stdin=subprocess.PIPE)
    try:
        with server.client() as client:
            started = time.monotonic()
            rows = client.query("SELECT content FROM read_text('/dev/stdin')", "json")
            assert rows == [{"content": ""}]
            assert time.monotonic() - started < 4
    finally:
        server.stop()


def test_one_connection_cannot_use_up_the_written_off_workers(tmp_path: Path, start_server) -> None:
    fifo = FifoFeeder(tmp_path / "fifo")
    # 4 workers: at most 16 written off, 4 of them for one connection's queries
    server = start_server("--query-timeout", "0.5", "--pool-size", "4")
    try:
        with server.client() as attacker, server.client() as victim:
            for i in range(40):
                attacker.send({"type": "json", "queryId": f"f{i}", "sql": fifo_read(fifo.path)})
            errors = [frame["error"] for frame in answers(attacker, 40, timeout=90).values()]
            stuck = "this connection has 4 cancelled queries stuck in reads that do not respond"
            assert all(e == "query timed out after 0.5 s" or e.startswith(stuck) for e in errors)
            assert sum(e.startswith(stuck) for e in errors) >= 30
            refused = attacker.query("SELECT 1 AS x", "json")
            assert refused["type"] == "error" and refused["error"].startswith(stuck)
            # everyone else is served, and the server is ready
            assert victim.query("SELECT 1 AS x", "json") == [{"x": 1}]
            assert http_get(server.http + "/readyz")[0] == 200
    finally:
        fifo.release()
        time.sleep(0.5)
        fifo.close()
