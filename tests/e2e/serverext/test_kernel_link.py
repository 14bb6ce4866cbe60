"""The relay's raw leg to a kernel's server (`serverext.kernel_link`), against a real server
on its private Unix socket: handshake, pass-through of frames as sent, pings, close codes."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.serverext import kernel_link
from sqlrooms_jupyter.web.server import ServerConfig, SqlroomsServer
from sqlrooms_jupyter.web.thread import ServerThread
from tests.polling import wait_until_async
from tests.support import arrow_table

PING_INTERVAL = 0.5  # Tornado drops a client that has not answered a ping within this


@pytest.fixture
def relay_server(tmp_path: Path) -> Iterator[tuple[SqlroomsServer, str, str]]:
    socket = str(tmp_path / "k.sock")
    secret = secrets.token_hex(16)
    config = ServerConfig(
        port=0,
        unix_socket=socket,
        relay_secret=secret,
        ping_interval=PING_INTERVAL,
        engine=EngineConfig(extensions=()),
    )
    thread = ServerThread(config)
    server = thread.start()
    try:
        yield server, socket, secret
    finally:
        thread.stop()


class Browser:
    """Stands in for the browser's socket: collects what the link hands on, parses frames."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.writes = 0
        self._pos, self._first, self._parts = 0, 0, bytearray()
        self._messages: list[tuple[int, bytes]] = []

    def forward(self, data: memoryview) -> asyncio.Future[Any] | None:
        self.received += data
        self.writes += 1
        return None

    def messages(self) -> list[tuple[int, bytes]]:
        """Whole messages (opcode of the first frame, payload) in what arrived so far."""
        data = self.received
        while self._pos + 2 <= len(data):
            pos = self._pos
            fin, opcode, size, header = data[pos] & 0x80, data[pos] & 0x0F, data[pos + 1], 2
            assert data[pos + 1] & 0x80 == 0, "a server frame is never masked"
            if size == 126:
                size, header = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif size == 127:
                size, header = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            if pos + header + size > len(data):
                break
            assert opcode < 8, "control frames are not handed on"
            if opcode:
                self._first = opcode
            self._parts += data[pos + header : pos + header + size]
            self._pos = pos + header + size
            if fin:
                self._messages.append((self._first, bytes(self._parts)))
                self._parts = bytearray()
        return self._messages


async def wait_for_messages(browser: Browser, count: int, timeout: float = 30) -> None:
    await wait_until_async(
        lambda: len(browser.messages()) >= count,
        f"{count} messages",
        timeout=timeout,
        detail=browser.messages,
    )


def test_wrong_secret_is_refused(relay_server: tuple[SqlroomsServer, str, str]) -> None:
    _, socket, _ = relay_server

    async def body() -> None:
        with pytest.raises(kernel_link.HandshakeError, match="403"):
            await kernel_link.connect(socket, "not-the-secret", 5)

    asyncio.run(body())


def test_frames_pass_through_and_pings_are_answered(
    relay_server: tuple[SqlroomsServer, str, str],
) -> None:
    server, socket, secret = relay_server

    async def body() -> None:
        link = await kernel_link.connect(socket, secret, 5)
        browser = Browser()
        link.forward = browser.forward
        await link.send(json.dumps({"type": "json", "sql": "select 42 as a", "queryId": "q"}))
        await wait_for_messages(browser, 1)
        # Idle for several ping intervals: an unanswered ping would have closed the socket.
        await asyncio.sleep(4 * PING_INTERVAL)
        assert not link.done.done()
        sql = "select range as v from range(3000000)"  # ~24 MB: several chunks and buffers
        await link.send(json.dumps({"type": "arrow", "sql": sql, "queryId": "big"}))
        await link.send(b'{"type":"json","sql":"select \xff"}', text=True)
        await wait_for_messages(browser, 3)
        # The two queries run concurrently: their answers may come in either order.
        (text, small), *rest = browser.messages()
        [big] = [payload for opcode, payload in rest if opcode == 0x2]
        [invalid] = [payload for opcode, payload in rest if opcode == 0x1]
        assert text == 0x1 and json.loads(small) == {
            "type": "json",
            "queryId": "q",
            "data": '[{"a":42}]',
        }
        length = int.from_bytes(big[:4], "big")
        assert json.loads(big[4 : 4 + length])["queryId"] == "big"
        table = arrow_table(big[4 + length :])
        assert table.num_rows == 3_000_000
        assert table.column("v").to_pylist()[-1] == 2_999_999
        assert "UTF-8" in json.loads(invalid)["error"]
        assert server.status()["connections"] == 1
        await link.close()
        assert (await link.done) == kernel_link.Close(1000, "")

    asyncio.run(body())


def test_the_kernel_servers_close_code_is_returned(
    relay_server: tuple[SqlroomsServer, str, str],
) -> None:
    server, socket, secret = relay_server

    async def body() -> None:
        link = await kernel_link.connect(socket, secret, 5)
        link.forward = Browser().forward
        stopping = asyncio.get_running_loop().run_in_executor(
            None, server.call, server.stop, "going away now"
        )
        close = await asyncio.wait_for(link.done, 20)
        assert (close.code, close.reason) == (1001, "going away now")
        assert not link.mid_frame
        await stopping

    asyncio.run(body())
