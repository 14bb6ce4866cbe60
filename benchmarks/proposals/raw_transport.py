#!/usr/bin/env python
"""Prototype: the standalone door on a plain asyncio protocol instead of Tornado.

    python benchmarks/proposals/raw_transport.py --db benchmarks/.work/ours.duckdb PORT_T PORT_R

Starts one `SqlroomsServer` (its Tornado door on PORT_T) and, on the same loop,
engine and sessions, a second door on PORT_R: a hand-written WebSocket server on
`asyncio.BufferedProtocol` (HTTP upgrade parsed by hand, frames parsed from one
buffer, unmasked with Tornado's C helper, answers written with one
`transport.write`). Nothing of the session or engine changes: the prototype is a
`Connection` for `Session`. `proposals/bench_raw_transport.py` drives both doors
alternately. NOT production code: no Host/Origin/token checks, no fragmented or
oversized client messages, budget released at write time, no ping.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sys
from collections.abc import Callable
from typing import Any

from tornado.util import _websocket_mask

from sqlrooms_jupyter.engine import EngineConfig
from sqlrooms_jupyter.flow import Backpressure, Pieces, ResultStream, size_of
from sqlrooms_jupyter.server import ServerConfig, SqlroomsServer
from sqlrooms_jupyter.session import Session
from sqlrooms_jupyter.transport import frame_header

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class RawConnection:
    """`session.Connection` on an asyncio transport."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.budget = Backpressure(64 << 20)
        self.closed = False
        self._streaming = False
        self._later: list[Callable[[], None]] = []

    def send(self, data: Any, *, binary: bool, reserved: bool = False) -> None:
        payload = data.encode() if isinstance(data, str) else data
        size = size_of(payload)
        if self.closed:
            if reserved:
                self.budget.release(size)
            return
        if self._streaming:
            self._later.append(lambda: self.send(payload, binary=binary, reserved=reserved))
            return
        pieces = payload if isinstance(payload, list) else [payload]
        self.transport.writelines([frame_header(True, 2 if binary else 1, size), *pieces])
        if reserved:
            self.budget.release(size)

    def send_stream(self, stream: ResultStream) -> None:
        self._streaming = True
        self._pumping = asyncio.ensure_future(self._pump(stream))

    async def _pump(self, stream: ResultStream) -> None:
        opcode = 2
        async for chunk, last in stream.chunks():
            chunk_pieces: Pieces = chunk
            size = size_of(chunk_pieces)
            if not self.closed:
                self.transport.writelines([frame_header(last, opcode, size), *chunk_pieces])
            self.budget.release(size)
            opcode = 0
        self._streaming = False
        later, self._later = self._later, []
        for fn in later:
            fn()

    def close(self, code: int, reason: str) -> None:
        if not self.closed:
            body = code.to_bytes(2, "big") + reason.encode()
            self.transport.write(frame_header(True, 0x8, len(body)) + body)
            self.transport.close()


class RawWebSocket(asyncio.BufferedProtocol):
    def __init__(self, server: SqlroomsServer) -> None:
        self.server = server
        self.buf = bytearray(1 << 16)
        self.end = 0
        self.open = False
        self.session: Session | None = None
        self.connection: RawConnection | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if len(self.buf) - self.end < 4096:
            self.buf = self.buf + bytes(len(self.buf))  # a new buffer: the old one is lent out
        return memoryview(self.buf)[self.end :]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        start = 0
        if not self.open:
            cut = self.buf.find(b"\r\n\r\n", 0, self.end)
            if cut < 0:
                return
            self._upgrade(bytes(self.buf[:cut]))
            start = cut + 4
        start = self._frames(start)
        if start:
            rest = self.end - start
            self.buf[:rest] = bytes(self.buf[start : self.end])  # same size: no resize
            self.end = rest

    def _upgrade(self, head: bytes) -> None:
        assert self.transport is not None
        key = b""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        sock = self.transport.get_extra_info("socket")
        import socket

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.open = True
        self.connection = RawConnection(self.transport)
        self.session = self.server.open_session(self.connection, authenticated=True, peer="raw")

    def _frames(self, pos: int) -> int:
        buf, end = self.buf, self.end
        while end - pos >= 6:
            first, second = buf[pos], buf[pos + 1]
            size, header = second & 0x7F, 2
            if size == 126:
                header = 4
            elif size == 127:
                header = 10
            if end - pos < header + 4:
                break
            if header > 2:
                size = int.from_bytes(buf[pos + 2 : pos + header], "big")
            if end - pos < header + 4 + size:
                break
            key = bytes(buf[pos + header : pos + header + 4])
            body = pos + header + 4
            payload = _websocket_mask(key, bytes(buf[body : body + size]))
            pos = body + size
            opcode = first & 0x0F
            assert self.session is not None and self.connection is not None
            if opcode == 1:
                self.session.receive_text(payload.decode())
            elif opcode == 2:
                self.session.receive_binary(payload)
            elif opcode == 8:
                self.connection.close(1000, "")
        return pos

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is not None:
            self.connection.closed = True
            self.connection.budget.close()
        if self.session is not None:
            self.session.close()


async def main(db: str, tornado_port: int, raw_port: int) -> None:
    config = ServerConfig(
        port=tornado_port, engine=EngineConfig(db_path=db, extensions=()), ping_interval=0
    )
    server = SqlroomsServer(config)
    await server.start()
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: RawWebSocket(server), "127.0.0.1", raw_port, backlog=1024)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    args = sys.argv[1:]
    db = args[args.index("--db") + 1] if "--db" in args else ":memory:"
    ports = [a for a in args if a.isdigit()]
    asyncio.run(main(db, int(ports[0]), int(ports[1])))
