"""relay: a browser socket bridged to a kernel's server on its Unix socket, frame by frame.

The kernel's server is an in-process ServerThread on a Unix socket with a relay secret; the
browser side is a small Tornado handler built on `Relay` and `FrameWriter` as the extension's
handler is (without Jupyter's auth), read by a real WebSocket client."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.serverext import kernel_link
from sqlrooms_jupyter.serverext.relay import (
    CLOSE_KERNEL_SERVER_LOST,
    CLOSE_REASONS,
    FrameWriter,
    Relay,
    passable,
)
from sqlrooms_jupyter.web.server import ServerConfig, SqlroomsServer
from sqlrooms_jupyter.web.thread import ServerThread
from tests.polling import wait_until
from tests.support import Client, answer


def test_passable_close_codes() -> None:
    assert passable(None) is None
    assert passable(Close(1005, "")) == (1000, "")  # a close frame without a code
    assert passable(Close(1001, "server shutting down")) == (1001, "server shutting down")
    assert passable(Close(4999, "x")) == (4999, "x")
    for code in (1004, 1006, 1015, 999, 5000):
        assert passable(Close(code, "")) is None


class Kernel:
    """The kernel's server, reachable only on its Unix socket with the secret."""

    def __init__(self, directory: Path) -> None:
        self.socket = str(directory / "k.sock")
        self.secret = "relay-secret"
        config = ServerConfig(
            port=0,
            unix_socket=self.socket,
            relay_secret=self.secret,
            engine=EngineConfig(extensions=()),
        )
        self.thread = ServerThread(config)
        self.server: SqlroomsServer = self.thread.start()


class Bridge:
    """A Tornado server on a loop of its own relaying each browser socket to the kernel."""

    def __init__(self, kernel: Kernel, limit: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.writers: list[FrameWriter] = []
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.url = f"ws://127.0.0.1:{sockets[0].getsockname()[1]}/"
        writers = self.writers

        class Handler(tornado.websocket.WebSocketHandler):
            relay: Relay | None = None
            tasks: set[asyncio.Future[None]] = set()  # referenced until done

            async def open(self, *args: str, **kwargs: str) -> None:
                try:
                    upstream = await kernel_link.connect(kernel.socket, kernel.secret, 5)
                except Exception:
                    self.close(CLOSE_KERNEL_SERVER_LOST, CLOSE_REASONS[CLOSE_KERNEL_SERVER_LOST])
                    return
                writer = FrameWriter(self, limit)
                writers.append(writer)
                self.relay = Relay(upstream, writer)
                self._keep(asyncio.ensure_future(self._to_browser(self.relay)))

            def _keep(self, task: asyncio.Future[None]) -> None:
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

            async def _to_browser(self, relay: Relay) -> None:
                try:
                    close = await relay.to_browser()
                except Exception:
                    await relay.close()
                    return
                code, reason = passable(close) or (
                    CLOSE_KERNEL_SERVER_LOST,
                    CLOSE_REASONS[CLOSE_KERNEL_SERVER_LOST],
                )
                self.close(code, reason)

            async def on_message(self, message: str | bytes) -> None:
                if self.relay is not None:
                    await self.relay.to_kernel(message)

            def on_close(self) -> None:
                if self.relay is not None:
                    self._keep(asyncio.ensure_future(self.relay.close()))

        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Handler)]))
            server.add_sockets(sockets)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    directory = Path(tempfile.mkdtemp(prefix="relay-"))  # short: a Unix socket path is bounded
    k = Kernel(directory)
    yield k
    k.thread.stop()
    shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _bridge(kernel: Kernel, limit: int = 1 << 20) -> Iterator[Bridge]:
    bridge = Bridge(kernel, limit)
    try:
        yield bridge
    finally:
        bridge.stop()


@pytest.fixture
def bridge(kernel: Kernel) -> Iterator[Bridge]:
    with _bridge(kernel) as bridge:
        yield bridge


def test_queries_and_notifies_cross_the_relay(kernel: Kernel, bridge: Bridge) -> None:
    with Client(bridge.url) as browser, Client(bridge.url) as other:
        assert browser.query("SELECT 42 AS x", kind="json") == [{"x": 42}]
        table = browser.query("SELECT range AS i FROM range(100000)", query_id="big")
        assert table.column("i").to_pylist() == list(range(100000))
        other.send({"type": "subscribe", "channel": "c"})
        assert other.recv_json()["type"] == "subscribed"
        browser.send({"type": "notify", "channel": "c", "payload": {"n": 1}})
        assert other.recv_json() == {"type": "notify", "channel": "c", "payload": {"n": 1}}
        assert kernel.server.status()["connections"] == 2


def test_a_large_result_arrives_whole_through_a_small_buffer(kernel: Kernel) -> None:
    with _bridge(kernel, limit=16 << 10) as bridge:
        with Client(bridge.url) as browser:
            sql = "SELECT range AS i, repeat('x', 50) AS s FROM range(300000)"
            browser.send({"type": "arrow", "sql": sql, "queryId": "large"})
            # The kernel sends all of it at once: without the pause, the relay would hold
            # what the browser's socket has not taken yet.
            wait_until(lambda: kernel.server.status()["queries"] == [])
            table = answer(browser.recv(), "large")
            assert table.num_rows == 300000
            assert table.column("i").to_pylist()[-1] == 299999
        writer = bridge.writers[0]
        assert writer.largest_write <= 256 << 10  # forwarded as received, never assembled
        assert writer.peak <= writer.limit + (256 << 10)


def test_the_kernel_servers_close_code_reaches_the_browser(kernel: Kernel, bridge: Bridge) -> None:
    with Client(bridge.url) as browser:
        assert browser.query("SELECT 1 AS one", kind="json") == [{"one": 1}]
        kernel.thread.stop()
        with pytest.raises(ConnectionClosed) as closed:
            browser.recv(10)
    rcvd: Any = closed.value.rcvd
    assert (rcvd.code, rcvd.reason) == (1001, "server shutting down")


def test_no_kernel_server_is_explained(kernel: Kernel, bridge: Bridge) -> None:
    kernel.thread.stop()
    with Client(bridge.url) as browser, pytest.raises(ConnectionClosed) as closed:
        browser.recv(10)
    rcvd: Any = closed.value.rcvd
    assert (rcvd.code, rcvd.reason) == (4003, "lost the kernel's SQLRooms server")
