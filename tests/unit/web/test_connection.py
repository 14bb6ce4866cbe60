"""connection: a socket's ordered outgoing side, its budget, streams and close, on a real
in-process Tornado WebSocket read by a real client."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from sqlrooms_jupyter.backpressure import ResultStream
from sqlrooms_jupyter.protocol import CLOSE_POLICY_VIOLATION
from sqlrooms_jupyter.web.connection import TornadoConnection
from tests.polling import wait_until

T = TypeVar("T")


class Server:
    """A Tornado server on a loop of its own whose handlers each expose a TornadoConnection."""

    def __init__(self, budget_limit: int, push_limit: int | None) -> None:
        self.loop = asyncio.new_event_loop()
        self.opened: queue.Queue[TornadoConnection] = queue.Queue()
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.url = f"ws://127.0.0.1:{sockets[0].getsockname()[1]}/"
        opened = self.opened

        class Handler(tornado.websocket.WebSocketHandler):
            def open(self, *args: str, **kwargs: str) -> None:
                opened.put(TornadoConnection(self, budget_limit, push_limit))

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

    def on_loop(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop and return what it returned."""

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def client(self, **options: Any) -> tuple[ClientConnection, TornadoConnection]:
        ws = connect(self.url, **options)
        return ws, self.opened.get(timeout=10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(budget_limit=64 << 20, push_limit=None)
    yield srv
    srv.stop()


def test_messages_arrive_in_the_order_sent_with_their_type(server: Server) -> None:
    ws, conn = server.client()
    with ws:

        def send_all() -> None:
            for i in range(200):
                if i % 2:
                    conn.send(f"text {i}", binary=False)
                else:
                    conn.send([b"bin ", str(i).encode()], binary=True)

        server.on_loop(send_all)
        for i in range(200):
            message = ws.recv(10)
            assert message == (f"text {i}" if i % 2 else f"bin {i}".encode())


def test_pushed_bytes_count_until_the_socket_takes_them(server: Server) -> None:
    ws, conn = server.client(max_size=None)
    size = 16 << 20  # more than loopback socket buffers take at once
    with ws:
        pending = server.on_loop(
            lambda: (conn.send(b"x" * size, binary=True), conn.budget.pending, conn.pushed)[1:]
        )
        assert pending[0] > 0 and pending[1] == size
        assert len(ws.recv(10)) == size
        wait_until(lambda: conn.budget.pending == 0 and conn.pushed == 0)


def test_reserved_bytes_are_released_once_written_not_counted_as_pushed(server: Server) -> None:
    ws, conn = server.client()
    with ws:

        def send_reserved() -> None:
            conn.budget.add(5)  # what a worker's `reserve` counted
            conn.send(b"12345", binary=True, reserved=True)
            assert conn.pushed == 0

        server.on_loop(send_reserved)
        assert ws.recv(10) == b"12345"
        wait_until(lambda: conn.budget.pending == 0)


def test_a_stream_is_one_message_and_later_messages_wait_behind_it(server: Server) -> None:
    ws, conn = server.client()
    with ws:
        stream = ResultStream()

        def start() -> None:
            conn.send("before", binary=False)
            conn.send_stream(stream)
            conn.send("after", binary=False)  # must not land between the stream's frames
            conn.send([b"also ", b"after"], binary=True)
            conn.budget.add(5)  # a stream's chunks are reserved by the worker (StreamSender)
            stream.push([b"one, "])

        server.on_loop(start)
        assert ws.recv(10) == "before"
        with pytest.raises(TimeoutError):
            ws.recv(0.3)  # nothing whole yet: the stream is open, "after" waits

        def finish() -> None:
            conn.budget.add(10)
            stream.push([b"two, ", memoryview(b"three")], last=True)

        server.on_loop(finish)
        assert ws.recv(10) == b"one, two, three"
        assert ws.recv(10) == "after"
        assert ws.recv(10) == b"also after"
        wait_until(lambda: conn.budget.pending == 0 and conn.pushed == 0)


def test_streams_follow_each_other_in_order(server: Server) -> None:
    ws, conn = server.client()
    with ws:
        first, second = ResultStream(), ResultStream()

        def start() -> None:
            conn.send_stream(first)
            conn.send_stream(second)
            second.push([b"second"], last=True)  # ready first, sent second
            first.push([b"fir"])

        server.on_loop(start)
        server.on_loop(lambda: first.push([b"st"], last=True))
        assert ws.recv(10) == b"first"
        assert ws.recv(10) == b"second"


def test_close_waits_behind_an_open_stream(server: Server) -> None:
    ws, conn = server.client()
    stream = ResultStream()

    def start() -> None:
        conn.send_stream(stream)
        conn.close(4000, "bye")

    with ws:
        server.on_loop(start)
        server.on_loop(lambda: stream.push([b"all of it"], last=True))
        assert ws.recv(10) == b"all of it"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye")


def test_close_when_idle_is_immediate(server: Server) -> None:
    ws, conn = server.client()
    with ws:
        server.on_loop(lambda: conn.close(4001, "done"))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


def test_sends_after_the_client_left_release_their_bytes(server: Server) -> None:
    ws, conn = server.client()
    with ws:
        pass  # the client leaves

    def send_until_closed() -> bool:
        conn.send(b"x" * 1000, binary=True)
        return conn.closed

    wait_until(lambda: server.on_loop(send_until_closed))

    def send_reserved_after() -> int:
        conn.budget.add(7)
        conn.send(b"reserve", binary=True, reserved=True)
        return conn.pushed

    assert server.on_loop(send_reserved_after) == 0
    wait_until(lambda: conn.budget.pending == 0)


def test_a_client_that_does_not_read_is_dropped_with_a_policy_violation() -> None:
    srv = Server(budget_limit=64 << 20, push_limit=1 << 20)
    try:
        ws, conn = srv.client(max_size=None)
        dropped = threading.Event()
        srv.on_loop(lambda: setattr(conn, "on_drop", dropped.set))
        chunk = b"n" * (512 << 10)
        # Pushed messages pile up unread (the client does not read) until the limit.
        wait_until(lambda: srv.on_loop(lambda: (conn.send(chunk, binary=True), conn.closed)[1]))
        assert dropped.wait(10)
        assert srv.on_loop(lambda: conn.send(b"later", binary=True)) is None  # ignored
        received = 0
        with ws, pytest.raises(ConnectionClosed) as closed:
            while True:
                message = ws.recv(10)
                assert message == chunk  # only whole messages, never "later"
                received += 1
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CLOSE_POLICY_VIOLATION
        assert "not reading" in closed.value.rcvd.reason
        assert received >= 1
        wait_until(lambda: conn.budget.pending == 0 and conn.pushed == 0)
    finally:
        srv.stop()
