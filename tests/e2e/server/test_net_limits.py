"""What a client without the token, or one that stops reading, can make the server hold
(issue 28 items 4, 5, 6): real sockets against the real CLI, the server's RSS measured."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from websockets.exceptions import InvalidStatus

from tests.polling import wait_until
from tests.rawws import RawSocket, client_frame
from tests.support import ServerProcess, rss

TOKEN = "s3cret-token"
MB = 1 << 20
TEXT, BINARY, CONTINUATION = 0x1, 0x2, 0x0


def push(sock: RawSocket, total: int) -> None:
    """Send `total` bytes of payload in 1 MiB writes, stopping when the server has gone."""
    chunk = b"\0" * MB
    sent = 0
    try:
        while sent < total:
            sock.send(chunk)
            sent += len(chunk)
    except OSError:
        pass


@pytest.mark.parametrize("kind", ["binary frame", "fragmented text"])
def test_oversized_message_before_auth_is_refused_unread(start_server, kind: str) -> None:
    server = start_server("--auth-token", TOKEN)
    before = rss(server)
    sockets = [RawSocket(server.port) for _ in range(3)]
    for sock in sockets:
        assert sock.status == 101
        if kind == "binary frame":  # announces 400 MB, then streams 48 MB of it
            sock.send(client_frame(BINARY, b"", length=400 * MB))
        else:  # a small first fragment, then continuation frames of 1 MiB
            sock.send(client_frame(TEXT, b'{"type":"auth","token":"', fin=False))
            sock.send(client_frame(CONTINUATION, b"", fin=False, length=400 * MB))
    pushers = [threading.Thread(target=push, args=(sock, 48 * MB)) for sock in sockets]
    for pusher in pushers:
        pusher.start()
    for pusher in pushers:
        pusher.join(60)
    codes = [sock.close_code() for sock in sockets]
    assert codes == [1009] * 3
    # Tornado would have read each payload into memory: 3 x 48 MB.
    assert rss(server) - before < 40 * MB

    # A token holder still sends large messages, authenticated either way.
    with server.client(f"/?token={TOKEN}") as client:
        big = "x" * 900_000  # over the 4 KiB allowed before auth
        client.send({"type": "notify", "channel": "c", "payload": big})
        assert client.recv_json()["type"] == "notify"
    with server.client() as client:
        client.send({"type": "auth", "token": TOKEN})
        assert client.recv_json() == {"type": "authAck"}
        client.send({"type": "notify", "channel": "c", "payload": big})
        assert client.recv_json()["payload"] == big


def test_small_messages_before_auth_still_work(start_server) -> None:
    server = start_server("--auth-token", TOKEN)
    sock = RawSocket(server.port)
    sock.send_text(json.dumps({"type": "auth", "token": TOKEN, "pad": "p" * 3000}))
    assert json.loads(sock.recv_frame()[1]) == {"type": "authAck"}
    sock.send(
        client_frame(
            TEXT, json.dumps({"type": "notify", "channel": "c", "payload": "y" * 100_000}).encode()
        )
    )
    assert json.loads(sock.recv_frame()[1])["type"] == "notify"
    sock.close()


def test_sockets_without_the_token_cannot_lock_out_token_holders(start_server) -> None:
    server = start_server("--auth-token", TOKEN, "--max-connections", "5")
    idle = [RawSocket(server.port) for _ in range(80)]  # over the 64 waiting to authenticate
    assert all(sock.status == 101 for sock in idle)
    # The oldest ones made room for the newer ones, told why.
    assert idle[0].close_code() == 1013
    with server.client(f"/?token={TOKEN}") as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    with server.client() as client:  # authenticating with the first message
        client.send({"type": "auth", "token": TOKEN})
        assert client.recv_json() == {"type": "authAck"}
        assert client.query("select 2 as x", kind="json") == [{"x": 2}]
    for sock in idle:
        sock.close()


def test_max_connections_counts_authenticated_connections(start_server) -> None:
    server = start_server("--auth-token", TOKEN, "--max-connections", "2")
    holders = [server.client(f"/?token={TOKEN}") for _ in range(2)]
    with pytest.raises(InvalidStatus) as refused:
        server.client(f"/?token={TOKEN}")
    assert refused.value.response.status_code == 503
    holders.pop().close()
    wait_until(lambda: _connects(server))
    # A connection that authenticates by message once the server is full is told so.
    waiting = RawSocket(server.port)
    assert waiting.status == 101
    holders.append(server.client(f"/?token={TOKEN}"))
    waiting.send_text(json.dumps({"type": "auth", "token": TOKEN}))
    answer = json.loads(waiting.recv_frame()[1])
    assert answer["type"] == "error" and "too many connections" in answer["error"]
    assert waiting.close_code() == 1013
    for holder in holders:
        holder.close()


def _connects(server: ServerProcess) -> bool:
    try:
        server.client(f"/?token={TOKEN}").close()
    except InvalidStatus:
        return False
    return True


def test_subscribers_that_stop_reading_are_dropped_not_buffered(start_server) -> None:
    server = start_server()
    stalled = []
    for _ in range(10):
        sock = RawSocket(server.port, rcvbuf=4096)
        sock.send_text(json.dumps({"type": "subscribe", "channel": "c"}))
        assert json.loads(sock.recv_frame()[1])["type"] == "subscribed"
        stalled.append(sock)  # never read again
    with server.client() as reader, server.client() as publisher:
        reader.send({"type": "subscribe", "channel": "c"})
        assert reader.recv_json()["type"] == "subscribed"
        before = rss(server)
        payload = "z" * 900_000
        received: list[int] = []

        def read() -> None:
            while len(received) < 60:
                received.append(len(reader.recv_json(30)["payload"]))

        reading = threading.Thread(target=read)
        reading.start()
        for _ in range(60):
            publisher.send({"type": "notify", "channel": "c", "payload": payload})
            assert publisher.recv_json()["type"] == "notify"
            assert publisher.recv_json() == {"type": "notifyAck", "channel": "c"}
        reading.join(60)
        assert received == [900_000] * 60  # everyone else unaffected
        wait_until(lambda: server.log().count("does not read") == 10)
        assert publisher.query("select 1 as x", kind="json") == [{"x": 1}]
        # Each stalled subscriber held at most the 16 MiB bound before it was dropped
        # (unbounded, the ten would hold 540 MB).
        assert rss(server) - before < 250 * MB
    for sock in stalled:
        sock.sock.settimeout(10)  # the close frame, or the reset after it; not a timeout
        assert sock.close_code() in (1008, None)
        sock.close()
    # ... and gave it back once they were gone (unbounded, it was kept).
    assert rss(server) - before < 50 * MB


def test_http_before_the_upgrade_buffers_no_body_and_no_idle_connection(start_server) -> None:
    """No route takes a body, so a 400 MB POST is refused after its headers, not buffered;
    a TCP connection that never sends a request is closed after --auth-timeout."""
    server = start_server("--auth-token", TOKEN, "--auth-timeout", "2")
    before = rss(server)
    poster = socket.create_connection(("127.0.0.1", server.port))
    poster.sendall(
        b"POST /readyz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 400000000\r\n\r\n"
        % server.port
    )
    chunk, sent = b"x" * MB, 0
    poster.settimeout(10)
    try:
        while sent < 100 * MB:
            poster.sendall(chunk)
            sent += MB
    except OSError:
        pass
    assert sent < 100 * MB, "the server read a 100 MB body nobody asked for"
    assert rss(server) - before < 40 * MB
    idle = socket.create_connection(("127.0.0.1", server.port))
    idle.settimeout(30)
    started = time.monotonic()
    assert idle.recv(16) == b""  # closed by the server, not by our timeout
    assert time.monotonic() - started < 15
    # Token holders are unaffected.
    with server.client(f"/?token={TOKEN}") as client:
        assert client.query("select 1 as x", "json") == [{"x": 1}]
