"""Start, readiness, shutdown and durability of the real CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from sqlrooms_jupyter import __version__
from tests.support import ServerProcess, free_port, http_get

LONG = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"


def test_health_ready_and_version(server: ServerProcess) -> None:
    assert http_get(server.http + "/healthz") == (200, "ok")
    assert http_get(server.http + "/readyz") == (200, "ok")
    status, body = http_get(server.http + "/version")
    info = json.loads(body)
    assert status == 200 and info["version"] == __version__
    assert info["duckdb"] and info["python"].count(".") == 2


def test_sigterm_keeps_committed_data_and_leaves_no_wal(start_server, tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dir" / "data.db"  # the missing parent is created
    server = start_server("--db-path", str(db))
    with server.client() as client:
        client.query("create table kept as select range as v from range(1000)", kind="exec")
        client.query("insert into kept values (1000)", kind="exec")
    assert server.stop(signal.SIGTERM) == 0
    assert db.exists() and not Path(str(db) + ".wal").exists()
    again = start_server("--db-path", str(db))
    with again.client() as client:
        assert client.query("select count(*) n, max(v) m from kept", kind="json") == [
            {"n": 1001, "m": 1000}
        ]


def test_shutdown_answers_in_flight_queries_and_exits_promptly(start_server) -> None:
    server = start_server()
    with server.client() as client:
        client.start_running({"type": "exec", "sql": LONG, "queryId": "inflight"})
        started = time.monotonic()
        server.proc.send_signal(signal.SIGINT)
        answer = client.recv_json(10)
        assert answer["type"] == "error" and answer["queryId"] == "inflight"
        assert "shutting down" in answer["error"]
        with pytest.raises(ConnectionClosed) as closed:
            client.ws.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert server.proc.wait(10) == 0
        assert time.monotonic() - started < 5


def test_port_in_use_is_a_clear_error(server: ServerProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(server.port), "--extensions", ""],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr


def test_locked_database_is_a_clear_error(start_server, tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    start_server("--db-path", str(db))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqlrooms_jupyter",
            "--port",
            str(free_port()),
            "--extensions",
            "",
            "--db-path",
            str(db),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cannot start" in result.stderr and "lock" in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unavailable_extension_is_a_warning_not_a_failure(start_server) -> None:
    server = start_server(extensions="no_such_extension_xyz")
    with server.client() as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    assert "no_such_extension_xyz" in server.log() and "WARNING" in server.log()


def test_empty_file_is_treated_as_a_new_database(start_server, tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    db.touch()
    server = start_server("--db-path", str(db))
    with server.client() as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]


def test_cli_help_lists_the_published_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sqlrooms_jupyter", "--help"], capture_output=True, text=True
    )
    for flag in (
        "--db-path",
        "--port",
        "--extensions",
        "--auth-token",
        "--sync",
        "--meta-namespace",
        "--meta-db",
        "--host",
        "--cache-dir",
        "--log-level",
    ):
        assert flag in result.stdout
