"""What a hostile client could do to a shared server that the attacker's second review found
(issue 28 follow-up, findings 06-11): each against the real CLI on a loopback port."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from sqlrooms_jupyter.web import routes
from tests.e2e.server.test_query_timeout import FifoFeeder, answers, fifo_read
from tests.polling import wait_until
from tests.rawws import RawSocket
from tests.support import Client, ServerProcess, http_get, rss

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
    from sqlrooms_jupyter.web.redact import RedactedLogMixin

    for handler in (routes.QueryWebSocket, routes.HealthHandler, routes.RelayStatusHandler):
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
        fifo.drain()


# -- 11: descriptors ------------------------------------------------------------------------


def descriptor_limit(count: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))

    return limit


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_percent(server: ServerProcess, seconds: float = 2.0) -> float:
    before, started = cpu_seconds(server.proc.pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(server.proc.pid) - before) / (time.monotonic() - started)


def limited_server(tmp_path: Path, descriptors: int, *args: str) -> ServerProcess:
    return ServerProcess(*args, cwd=tmp_path, preexec_fn=descriptor_limit(descriptors))


def test_half_sent_requests_do_not_lock_token_holders_out(tmp_path: Path) -> None:
    server = limited_server(tmp_path, 256, "--auth-token", TOKEN)
    sockets = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            sockets.append(sock)
        log_before = len(server.log())
        with server.client(f"/?token={TOKEN}") as client:
            assert client.query("SELECT 1 AS a", "json") == [{"a": 1}]
        assert busy_percent(server) < 30
        assert len(server.log()) - log_before < 20_000
        assert "Too many open files" not in server.log()
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def upgrade_request(port: int) -> bytes:
    return (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def test_running_out_of_descriptors_pauses_accepting_without_spinning(tmp_path: Path) -> None:
    server = limited_server(tmp_path, 128)
    sockets = []
    try:
        for i in range(160):  # upgraded WebSockets: more than the server has descriptors for
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(upgrade_request(server.port))
            sockets.append(sock)
            if i % 10 == 9:
                time.sleep(0.05)  # not a burst: each gets upgraded
        wait_until(lambda: "cannot accept connections" in server.log(), timeout=10)
        assert busy_percent(server) < 30
        log = server.log()
        assert log.count("cannot accept connections") == 1
        assert "Traceback" not in log
        for sock in sockets:
            sock.close()
        sockets.clear()
        with server.client() as client:  # accepting resumes once descriptors are free
            assert client.query("SELECT 1 AS a", "json") == [{"a": 1}]
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def test_upgraded_connections_do_not_count_as_pending(tmp_path: Path) -> None:
    """Half the descriptors (here 128) for connections before their upgrade; WebSockets
    already upgraded are never closed to make room."""
    server = limited_server(tmp_path, 256)
    clients, sockets = [], []
    try:
        clients = [server.client() for _ in range(90)]
        for _ in range(60):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sockets.append(sock)
        with server.client() as probe:
            assert probe.query("SELECT 1 AS a", "json") == [{"a": 1}]
        for i, client in enumerate(clients):
            assert client.query(f"SELECT {i} AS a", "json") == [{"a": i}]
    finally:
        for sock in sockets:
            sock.close()
        for client in clients:
            client.close()
        server.stop()


# -- 08: results built whole ----------------------------------------------------------------

BIG = "SELECT repeat('x', 1000) AS s FROM range(200000)"  # 200 MB


def peak_growth(server: ServerProcess, run: Callable[[], object]) -> tuple[object, int]:
    """`run()`'s result and how far the server's RSS rose above where it was meanwhile."""
    base, peak, done = rss(server), [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss(server))
            done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run()
    finally:
        done.set()
        watcher.join()
    return result, peak[0] - base


def test_a_json_result_over_the_bound_is_refused_before_it_is_built(start_server) -> None:
    server = start_server("--memory-limit", "128MB")

    def two_at_once() -> list[dict]:
        with server.client() as a, server.client() as b:
            a.send({"type": "json", "sql": BIG, "queryId": "a"})
            b.send({"type": "json", "sql": BIG, "queryId": "b"})
            return [a.recv_json(120), b.recv_json(120)]

    answers_, growth = peak_growth(server, two_at_once)
    for frame in answers_:
        assert frame["type"] == "error"
        assert "JSON result over this server's limit of 67,108,864 bytes" in frame["error"]
        assert "Arrow" in frame["error"]
    assert growth < 300 << 20, f"RSS grew {growth >> 20} MB"
    with server.client() as client:  # under the bound, JSON as ever
        assert client.query("SELECT 1 AS a", "json") == [{"a": 1}]
    assert "Traceback" not in server.log()


def streamed_rows(client: Client, query_id: str) -> int:
    """The rows of an Arrow answer, read as it arrives (one message, however long)."""
    header, payload = client.recv(120)
    assert header == {"type": "arrow", "queryId": query_id}, header
    return sum(len(batch) for batch in pa.ipc.open_stream(payload))


def test_a_persisted_result_over_the_bound_is_streamed_not_held(start_server) -> None:
    server = start_server("--memory-limit", "128MB")

    def two_at_once() -> list[int]:
        with server.client() as a, server.client() as b:
            for client, query_id in ((a, "a"), (b, "b")):
                client.send({"type": "arrow", "sql": BIG, "queryId": query_id, "persist": True})
            return [streamed_rows(a, "a"), streamed_rows(b, "b")]

    rows, growth = peak_growth(server, two_at_once)
    assert rows == [200000, 200000]
    assert growth < 300 << 20, f"RSS grew {growth >> 20} MB"
    with server.client() as client:  # a small one is still cached and served again
        for _ in range(2):
            table = client.query("SELECT 42 AS a", persist=True)
            assert table.to_pylist() == [{"a": 42}]
