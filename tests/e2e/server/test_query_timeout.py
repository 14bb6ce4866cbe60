"""--query-timeout: a query's own running time is limited; waiting is bounded apart, and
workers stuck in reads that ignore cancel do not use up the pool."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.polling import wait_until
from tests.support import Client, ServerProcess, free_port, http_get

ENDLESS = "select count(*) from range(1000000000000)"
# Holds the server between listening and ready for a few seconds (a tenth of test_startup's).
SLOW_INIT = "CREATE TABLE warmup AS SELECT max(hash(i)) AS n FROM range(500000000) t(i);\n"


def fifo_read(fifo: Path) -> str:
    return f"select * from read_text('{fifo}')"


class FifoFeeder:
    """A FIFO nobody writes until `release()`; from then on it keeps opening it for
    writing, so that every read blocked on it returns."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reader = 0.0  # when a read last opened the FIFO (monotonic)

    def release(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._feed, daemon=True)
            self._thread.start()

    def _feed(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: no reader waits right now
                assert exc.errno == errno.ENXIO
            else:
                self._last_reader = time.monotonic()
                with contextlib.suppress(OSError):
                    os.write(fd, b"x\n")
                os.close(fd)
            self._stop.wait(0.01)

    def drain(self, quiet: float = 0.2) -> None:
        """Release, and keep feeding until no read has opened the FIFO for `quiet` seconds
        (DuckDB waits for a running read when the process exits); then stop."""
        self._last_reader = time.monotonic()
        self.release()
        wait_until(
            lambda: time.monotonic() - self._last_reader > quiet,
            "the reads blocked on the FIFO to return",
            interval=0.02,
        )
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


@pytest.fixture
def fifo(tmp_path: Path, start_server: object) -> Iterator[FifoFeeder]:
    """Released at the latest before the server stops: DuckDB waits for a running read
    when the process exits."""
    feeder = FifoFeeder(tmp_path / "fifo")
    yield feeder
    feeder.drain()


def answers(client: Client, count: int, timeout: float = 30) -> dict[str, dict]:
    frames: dict[str, dict] = {}
    while len(frames) < count:
        frame = client.recv_json(timeout)
        assert frame["queryId"] not in frames, f"a second answer: {frame}"
        frames[frame["queryId"]] = frame
    return frames


def ready(server: ServerProcess) -> bool:
    return http_get(server.http + "/readyz")[0] == 200


def test_reads_that_ignore_cancel_do_not_use_up_the_pool(fifo: FifoFeeder, start_server) -> None:
    server = start_server("--query-timeout", "0.3", "--pool-size", "2")
    clients = [server.client() for _ in range(3)]
    with server.client() as other:
        for i in range(6):  # three times the pool, two from each connection
            clients[i % 3].send({"type": "json", "sql": fifo_read(fifo.path), "queryId": f"f{i}"})
        frames = [frame for c in clients for frame in answers(c, 2).values()]
        assert {f["error"] for f in frames} == {"query timed out after 0.3 s"}
        # their threads are still blocked in open(), yet anyone's query runs
        assert other.query("select 1 as x", kind="json") == [{"x": 1}]
        assert ready(server)
        fifo.release()
        assert other.query("select 3 as x", kind="json") == [{"x": 3}]
        wait_until(lambda: clients[0].query("select 2 as x", kind="json") == [{"x": 2}])
    for client in clients:
        client.close()


def test_stuck_workers_beyond_the_limit_refuse_new_work_until_they_return(
    fifo: FifoFeeder, start_server
) -> None:
    # one worker: at most 4 written off, the fifth stuck worker keeps its place
    server = start_server("--query-timeout", "0.3", "--pool-size", "1")
    out_of_workers = (
        "the server is out of workers: 5 cancelled queries are stuck in reads that do not "
        "respond to cancel"
    )
    # one query on each of six connections: one connection alone could hold only one
    clients = [server.client() for _ in range(6)]
    with server.client() as client:
        for i, sender in enumerate(clients):
            sender.send({"type": "json", "sql": fifo_read(fifo.path), "queryId": f"f{i}"})
        frames = {f"f{i}": answers(c, 1, timeout=60)[f"f{i}"] for i, c in enumerate(clients)}
        assert {frames[f"f{i}"]["error"] for i in range(5)} == {"query timed out after 0.3 s"}
        # the sixth waited for a worker that will not come back: it is answered, not kept
        assert frames["f5"]["error"].startswith(out_of_workers)
        assert not ready(server)
        refused = client.query("select 1 as x", kind="json")
        assert refused["type"] == "error"
        assert refused["error"].startswith(out_of_workers)
        fifo.release()
        # each written-off thread ends when its read returns, and gives its place back
        wait_until(lambda: ready(server), timeout=30)
        assert client.query("select 2 as x", kind="json") == [{"x": 2}]
    for sender in clients:
        sender.close()


def test_waiting_for_the_database_to_open_is_not_query_time(tmp_path: Path) -> None:
    init = tmp_path / "init.sql"
    init.write_text(SLOW_INIT)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqlrooms_jupyter",
            "--port",
            str(port),
            "--extensions",
            "",
            "--init-sql",
            str(init),
            "--query-timeout",
            "0.5",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    http = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            with contextlib.suppress(OSError):
                return http_get(http + "/healthz")[0] == 200
            return False

        wait_until(healthy, timeout=30)
        with Client(f"ws://127.0.0.1:{port}/") as client:
            sent = time.monotonic()
            client.send({"type": "json", "sql": "select 1 as x", "queryId": "first"})
            assert http_get(http + "/readyz")[0] == 503, "the test needs the startup window"
            frame = client.recv_json(120)
            waited = time.monotonic() - sent
            assert frame == {"type": "json", "queryId": "first", "data": '[{"x":1}]'}
            assert waited > 0.5, "the database opened faster than the time limit"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_a_query_right_after_a_timeout_is_not_timed_out(start_server) -> None:
    server = start_server("--query-timeout", "0.3")
    with server.client() as client:
        for i in range(20):
            frame = client.query(ENDLESS, kind="json", query_id=f"endless{i}")
            assert frame["error"] == "query timed out after 0.3 s"
            assert client.query("select 1 as x", kind="json", query_id=f"s{i}") == [{"x": 1}]


def test_a_queued_querys_clock_starts_when_it_runs(start_server) -> None:
    server = start_server("--query-timeout", "1", "--pool-size", "1")
    with server.client() as client:
        sent = time.monotonic()
        for query_id in ("first", "second"):
            client.send({"type": "json", "sql": ENDLESS, "queryId": query_id})
        client.send({"type": "json", "sql": "select 1 as x", "queryId": "third"})
        first = client.recv_json(30)
        assert first == {"type": "error", "queryId": "first", "error": "query timed out after 1 s"}
        second = client.recv_json(30)
        # it waited about a second for the worker, then ran for its own second
        assert time.monotonic() - sent >= 2
        assert second == {"type": "error", "queryId": "second", "error": first["error"]}
        assert client.recv_json(30) == {"type": "json", "queryId": "third", "data": '[{"x":1}]'}


def test_waiting_for_a_worker_is_bounded_apart_and_says_so(start_server) -> None:
    server = start_server("--query-timeout", "30", "--queue-timeout", "0.5", "--pool-size", "1")
    with server.client() as client:
        client.send({"type": "json", "sql": ENDLESS, "queryId": "busy"})
        client.send({"type": "json", "sql": "select 1 as x", "queryId": "waits"})
        assert client.recv_json(30) == {
            "type": "error",
            "queryId": "waits",
            "error": "the server is busy: waited 0.5 s for a free worker",
        }
        client.send({"type": "cancel", "queryId": "busy"})
        assert client.recv_json(30)["type"] == "cancelAck"
        assert client.recv_json(30) == {
            "type": "error",
            "queryId": "busy",
            "error": "Query was cancelled",
        }
        assert client.query("select 2 as x", kind="json") == [{"x": 2}]


def test_the_server_stops_while_reads_are_still_blocked(fifo: FifoFeeder, start_server) -> None:
    server = start_server("--query-timeout", "0.3")
    with server.client() as client:
        frame = client.query(fifo_read(fifo.path), kind="json")
        assert frame["error"] == "query timed out after 0.3 s"
    stopping = time.monotonic()
    assert server.stop(timeout=12) == 0  # not killed after the 12 s
    assert time.monotonic() - stopping < 12
    assert "still blocked in reads" in server.log_path.read_text()
