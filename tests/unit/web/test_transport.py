"""The Tornado internals `transport` relies on: this fails loudly when an upgrade changes them."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator

import pytest
import tornado
import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web
import tornado.websocket
from websockets.sync.client import connect

from sqlrooms_jupyter.web import transport


def test_private_names_still_exist() -> None:
    hint = f"Tornado {tornado.version} changed an internal that sqlrooms_jupyter.web.transport uses"
    params = inspect.signature(tornado.websocket._WebSocketParams)
    for name in ("ping_interval", "ping_timeout", "max_message_size", "compression_options"):
        assert name in params.parameters, hint
    protocol = tornado.websocket.WebSocketProtocol13
    for name in ("_abort", "_handle_message", "_receive_frame", "_run_callback", "close"):
        assert callable(getattr(protocol, name, None)), f"{hint}: WebSocketProtocol13.{name}"
    source = inspect.getsource(protocol)
    for name in (
        "self._frame_compressed",
        "self.stream",
        "self.client_terminated",
        "self._message_bytes_in",
        "self._run_callback(self.handler.on_message, decoded)",
        "self._fragmented_message_buffer",
        "self._wire_bytes_in",
        "self.params.max_message_size",
        "await self._receive_frame()",
        "data = await self._read_bytes(2)",  # a frame is read from its first byte
    ):
        assert name in source, f"{hint}: {name}"
    # `message_limit` (small before auth) works only if Tornado compares the announced length,
    # fragments included, with `params.max_message_size` before it reads the payload.
    frame_source = inspect.getsource(protocol._receive_frame)
    check = frame_source.find("if new_len > self.params.max_message_size:")
    assert "new_len += len(self._fragmented_message_buffer)" in frame_source, hint
    assert 0 < check < frame_source.find("data = await self._read_bytes(payloadlen)"), hint
    stream_source = inspect.getsource(tornado.iostream.BaseIOStream)
    for name in ("self._read_buffer = bytearray()", "self._read_buffer_size = 0"):
        assert name in stream_source, f"{hint}: BaseIOStream {name}"
    assert list(inspect.signature(protocol._handle_message).parameters) == [
        "self",
        "opcode",
        "data",
    ], hint


class _Echo(tornado.websocket.WebSocketHandler):
    """Answers invalid UTF-8, and sends each message back as two fragments."""

    def get_websocket_protocol(self) -> tornado.websocket.WebSocketProtocol | None:
        return transport.lenient_protocol(self)

    max_text_bytes = 100_000

    def on_invalid_text(self, data: bytes) -> None:
        self.write_message(f"invalid: {len(data)} bytes")

    def on_text_too_long(self, head: bytes, tail: bytes) -> None:
        self.write_message(
            f"too long: {head[:9].decode()} {tail[-7:].decode()} {len(head) + len(tail)}"
        )

    def on_message(self, message: str | bytes) -> None:
        data = message.encode() if isinstance(message, str) else message
        half = len(data) // 2
        transport.write_frame(self, False, transport.BINARY, [data[:half]])
        transport.write_frame(self, True, transport.CONTINUATION, [memoryview(data[half:])])


@pytest.fixture
def echo_url() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", _Echo)]))
        server.add_sockets(sockets)
        loop.call_soon(started.set)
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    yield f"ws://127.0.0.1:{sockets[0].getsockname()[1]}/"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_frames_written_directly_arrive_whole(echo_url: str) -> None:
    with connect(echo_url) as ws:
        payload = bytes(range(256)) * 1000  # pieces above and below the coalescing size
        ws.send(payload)
        assert ws.recv(10) == payload
        ws.send("hello")
        assert ws.recv(10) == b"hello"


def test_invalid_utf8_is_answered_not_dropped(echo_url: str) -> None:
    with connect(echo_url) as ws:
        ws.send(b"\xff\xfe", text=True)
        assert ws.recv(10) == "invalid: 2 bytes"
        ws.send("still open")
        assert ws.recv(10) == b"still open"


def test_frame_header_sizes() -> None:
    assert transport.frame_header(True, transport.TEXT, 5) == b"\x81\x05"
    assert transport.frame_header(False, transport.BINARY, 300) == b"\x02\x7e\x01\x2c"
    assert transport.frame_header(True, transport.CONTINUATION, 1 << 16)[:2] == b"\x80\x7f"


def test_a_text_message_over_the_limit_is_read_past_not_held(echo_url: str) -> None:
    with connect(echo_url, max_size=None) as ws:
        for size in (100_001, 3_000_003):  # odd sizes: the tail is unmasked from an odd offset
            ws.send("beginning" + "x" * (size - 16) + "the end")
            assert ws.recv(10) == "too long: beginning the end 2048"
        ws.send("y" * 100_000)  # at the limit: whole
        assert ws.recv(10) == b"y" * 100_000
        ws.send(["z" * 60_000, "z" * 60_000])  # fragments: not read past
        assert ws.recv(10) == b"z" * 120_000
        ws.send(b"b" * 200_000)  # binary: not read past
        assert ws.recv(10) == b"b" * 200_000
