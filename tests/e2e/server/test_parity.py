"""What users of the upstream's `sqlrooms server` 0.1.6 expect: its path, header, Host checks,
auth deadline and per-connection bounds."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sqlrooms_jupyter import __version__
from tests.support import Client, ServerProcess, http_get

TOKEN = "parity-token"


def test_ws_duckdb_path_serves_the_protocol(server: ServerProcess) -> None:
    with server.client("/ws/duckdb") as client:
        assert client.query("select 41 + 1 as x", kind="json") == [{"x": 42}]
        table = client.query("select 'a' as s")
        assert table.column("s").to_pylist() == ["a"]
        client.send({"type": "subscribe", "channel": "c"})
        assert client.recv_json() == {"type": "subscribed", "channel": "c"}


def test_token_header_authenticates_at_the_upgrade(start_server) -> None:
    server = start_server("--auth-token", TOKEN)
    with server.client(additional_headers={"X-SQLRooms-Token": TOKEN}) as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    with server.client(additional_headers={"X-SQLRooms-Token": "wrong"}) as client:
        assert client.recv_json(5) == {"type": "error", "error": "unauthorized"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/version"])
def test_foreign_host_is_refused_on_a_loopback_bind(server: ServerProcess, path: str) -> None:
    assert http_get(server.http + path, {"Host": "evil.example"})[0] == 403
    assert http_get(server.http + path, {"Host": f"localhost:{server.port}"})[0] == 200
    assert http_get(server.http + path, {"Host": f"[::1]:{server.port}"})[0] == 200
    assert http_get(server.http + path, {"Host": "app.localhost"})[0] == 200


def connect_as(server: ServerProcess, host: str) -> Client:
    """A client that reached the server through a name resolving to it (DNS rebinding)."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    return Client(f"ws://{host}:{server.port}/", sock=sock)


def test_foreign_host_upgrade_is_refused_unless_allowed(start_server) -> None:
    server = start_server()
    with pytest.raises(InvalidStatus) as refused:
        connect_as(server, "evil.example")
    assert refused.value.response.status_code == 403
    assert "refused Host 'evil.example" in server.log()

    allowing = start_server("--allow-host", "dash.example.org")
    with connect_as(allowing, "dash.example.org") as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    with pytest.raises(InvalidStatus):
        connect_as(allowing, "evil.example")


def test_unauthenticated_connection_is_closed_after_the_deadline(start_server) -> None:
    server = start_server("--auth-token", TOKEN, "--auth-timeout", "0.5")
    with server.client() as client:
        started = time.monotonic()
        error = client.recv_json(10)
        assert error["type"] == "error" and error["error"].startswith("unauthorized")
        with pytest.raises(ConnectionClosed) as closed:
            client.ws.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert time.monotonic() - started < 8
    with server.client() as client:  # authenticating in time keeps the socket
        client.send({"type": "auth", "token": TOKEN})
        assert client.recv_json() == {"type": "authAck"}
        time.sleep(1.0)  # past the 0.5 s auth deadline: an authenticated socket is kept
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]


def test_a_thousand_queries_at_once_get_one_answer_each(server: ServerProcess) -> None:
    ids = [f"q{i}" for i in range(1000)]
    with server.client() as client:
        for query_id in ids:
            client.send({"type": "json", "sql": "select 1 as x", "queryId": query_id})
        answers: dict[str, list[dict]] = {}
        while sum(map(len, answers.values())) < len(ids):
            frame = client.recv_json(30)
            answers.setdefault(frame["queryId"], []).append(frame)
        assert sorted(answers) == sorted(ids)
        assert all(len(frames) == 1 for frames in answers.values())
        refused = [f[0] for f in answers.values() if f[0]["type"] == "error"]
        assert all("too many queries in flight" in f["error"] for f in refused)
        assert len(refused) < len(ids)
        assert client.query("select 2 as y", kind="json") == [{"y": 2}]  # socket kept


def test_names_and_subscriptions_are_bounded(server: ServerProcess) -> None:
    with server.client() as client:
        long_id = "q" * 257
        client.send({"type": "json", "sql": "select 1", "queryId": long_id})
        frame = client.recv_json()
        assert frame["type"] == "error" and frame["queryId"] == long_id
        assert "longer than 256" in frame["error"]
        client.send({"type": "subscribe", "channel": "c" * 257})
        assert "longer than 256" in client.recv_json()["error"]
        for i in range(1024):
            client.send({"type": "subscribe", "channel": f"ch{i}"})
        for _ in range(1024):
            assert client.recv_json()["type"] == "subscribed"
        client.send({"type": "subscribe", "channel": "one-too-many"})
        assert "too many subscriptions" in client.recv_json()["error"]
        client.send({"type": "subscribe", "channel": "ch0"})  # already there: fine
        assert client.recv_json() == {"type": "subscribed", "channel": "ch0"}
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]


def test_version_flag() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sqlrooms_jupyter", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and __version__ in out.stdout


def test_refused_origin_is_logged(server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus):
        Client(server.url, origin="https://evil.example")
    assert "refused a WebSocket from origin 'https://evil.example'" in server.log()


def test_token_in_the_url_never_reaches_the_log(start_server) -> None:
    server = start_server("--auth-token", TOKEN, "--log-level", "debug")
    with Client(f"{server.url}?token={TOKEN}") as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    assert TOKEN not in server.log()
