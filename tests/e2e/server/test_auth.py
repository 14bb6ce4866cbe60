"""Token auth and browser-origin checks."""

from __future__ import annotations

import socket

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support import Client, ServerProcess

TOKEN = "s3cret-token"


@pytest.fixture
def secured(start_server) -> ServerProcess:
    return start_server("--auth-token", TOKEN)


def assert_refused(client: Client, query_id: str | None = None) -> None:
    expected = {"type": "error", "error": "unauthorized"}
    if query_id is not None:
        expected["queryId"] = query_id
    assert client.recv_json(5) == expected
    with pytest.raises(ConnectionClosed) as closed:
        client.ws.recv(5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_first_message_auth(secured: ServerProcess) -> None:
    with secured.client() as client:
        client.send({"type": "auth", "token": TOKEN})
        assert client.recv_json() == {"type": "authAck"}
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
        client.send({"type": "auth", "token": TOKEN})  # repeated auth is acknowledged
        assert client.recv_json() == {"type": "authAck"}


def test_wrong_token_closes_with_policy_violation(secured: ServerProcess) -> None:
    with secured.client() as client:
        client.send({"type": "auth", "token": "wrong"})
        assert_refused(client)


@pytest.mark.parametrize(
    "first",
    [
        {"type": "exec", "sql": "create table pwned (a int)", "queryId": "x"},
        {"type": "subscribe", "channel": "c"},
        "not json",
        b"\x00\x00\x00\x02{}binary",
    ],
)
def test_anything_before_auth_is_refused_and_not_executed(
    secured: ServerProcess, first: object
) -> None:
    with secured.client() as client:
        client.send(first)
        # the official client waits on the refused message's queryId
        assert_refused(client, first.get("queryId") if isinstance(first, dict) else None)
    with secured.client() as client:
        client.send({"type": "auth", "token": TOKEN})
        client.recv_json()
        rows = client.query(
            "select count(*) as n from duckdb_tables() where table_name = 'pwned'", kind="json"
        )
        assert rows == [{"n": 0}]


def test_token_in_url_authenticates_the_upgrade(secured: ServerProcess) -> None:
    with secured.client(f"/?roomId=r&token={TOKEN}") as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]


def test_bearer_header_authenticates_the_upgrade(secured: ServerProcess) -> None:
    with secured.client(additional_headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]


def test_wrong_url_token_is_refused(secured: ServerProcess) -> None:
    with secured.client("/?token=nope") as client:
        assert_refused(client)


def test_auth_is_per_connection(secured: ServerProcess) -> None:
    with secured.client() as authed, secured.client() as stranger:
        authed.send({"type": "auth", "token": TOKEN})
        assert authed.recv_json() == {"type": "authAck"}
        stranger.send({"type": "exec", "sql": "select 1", "queryId": "s"})
        assert_refused(stranger, "s")


def test_without_a_token_auth_messages_are_acknowledged(server: ServerProcess) -> None:
    with server.client() as client:
        client.send({"type": "auth", "token": "anything"})
        assert client.recv_json() == {"type": "authAck"}


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:3000", "http://127.0.0.1:8888", "https://[::1]:1", "http://app.localhost"],
)
def test_loopback_origins_are_allowed(server: ServerProcess, origin: str) -> None:
    with server.client(origin=origin) as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]


@pytest.mark.parametrize("origin", ["https://evil.example", "http://192.168.1.10:3000", "null"])
def test_foreign_origins_are_refused(server: ServerProcess, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        server.client(origin=origin)
    assert refused.value.response.status_code == 403


def test_allowed_origin_flag(start_server) -> None:
    server = start_server("--allow-origin", "https://app.example.com")
    with server.client(origin="https://app.example.com") as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    with pytest.raises(InvalidStatus):
        server.client(origin="https://other.example.com")


def test_valid_token_at_upgrade_overrides_the_origin_check(secured: ServerProcess) -> None:
    with secured.client(f"/?token={TOKEN}", origin="https://app.example.com") as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    with pytest.raises(InvalidStatus):
        secured.client("/?token=wrong", origin="https://app.example.com")


def upgrade_status(server: ServerProcess, host: str, origin: str) -> int:
    """The status of a raw WebSocket upgrade that names its own Host (as a browser on a
    non-loopback name would)."""
    request = (
        "GET /ws/duckdb HTTP/1.1\r\n"
        f"Host: {host}\r\nOrigin: {origin}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(1024).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def test_the_servers_own_pages_may_connect_on_any_host(start_server) -> None:
    """`/app/` opened at http://data.example.com:P/ talks to ws://data.example.com:P/."""
    server = start_server("--host", "0.0.0.0")
    host = f"data.example.com:{server.port}"
    assert upgrade_status(server, host, f"http://{host}") == 101
    assert upgrade_status(server, host, f"https://{host}") == 101
    assert upgrade_status(server, host, "http://data.example.com:1") == 403
    assert upgrade_status(server, host, "https://evil.example") == 403
