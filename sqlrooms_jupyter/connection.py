"""A session's outgoing side of one Tornado WebSocket: messages leave in order.

Whole messages are written at once; a `ResultStream` is written as one
fragmented binary message, chunk by chunk as the socket takes them, and later
messages wait behind it (WebSocket messages cannot interleave). Bytes count
against the connection's budget until the socket has taken them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import tornado.websocket
from tornado.iostream import StreamClosedError

from .flow import Backpressure, Pieces, ResultStream, size_of
from .transport import BINARY, CONTINUATION, TEXT, write_frame


class TornadoConnection:
    def __init__(self, handler: tornado.websocket.WebSocketHandler, budget_limit: int) -> None:
        self._handler = handler
        self.budget = Backpressure(budget_limit)
        self._outbox: deque[Any] = deque()
        self._pumping = False
        self._pump_task: asyncio.Future[None] | None = None
        self.closed = False

    def send(
        self, data: str | bytes | bytearray | Pieces, *, binary: bool, reserved: bool = False
    ) -> None:
        payload = data.encode() if isinstance(data, str) else data
        if not reserved:
            self.budget.add(size_of(payload))
        if self.closed:
            self.budget.release(size_of(payload))
        elif self._pumping:
            self._outbox.append((payload, binary))
        else:
            self._write(True, BINARY if binary else TEXT, payload)

    def send_stream(self, stream: ResultStream) -> None:
        self._outbox.append(stream)
        if not self._pumping and not self.closed:
            self._pumping = True
            self._pump_task = asyncio.ensure_future(self._pump())

    def close(self, code: int, reason: str) -> None:
        if self._pumping:
            self._outbox.append((code, reason))
        else:
            self._handler.close(code, reason)

    def _write(
        self, fin: bool, opcode: int, payload: bytes | bytearray | Pieces
    ) -> asyncio.Future[None] | None:
        pieces = payload if isinstance(payload, list) else [payload]
        size = sum(map(len, pieces))
        try:
            if self.closed:
                raise StreamClosedError()
            written = write_frame(self._handler, fin, opcode, pieces)
        except StreamClosedError:
            self.budget.release(size)
            self.closed = True
            return None
        written.add_done_callback(lambda f: self._written(f, size))
        return written

    def _written(self, future: asyncio.Future[None], size: int) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.closed = True
        self.budget.release(size)

    async def _pump(self) -> None:
        try:
            while self._outbox and not self.closed:
                item = self._outbox.popleft()
                if isinstance(item, ResultStream):
                    await self._write_stream(item)
                elif isinstance(item[0], int):
                    self._handler.close(*item)
                else:
                    payload, binary = item
                    self._write(True, BINARY if binary else TEXT, payload)
        finally:
            self._pumping = False
            for item in self._outbox:
                if not isinstance(item, ResultStream) and not isinstance(item[0], int):
                    self.budget.release(size_of(item[0]))
            if self.closed:
                self._outbox.clear()

    async def _write_stream(self, stream: ResultStream) -> None:
        opcode = BINARY
        async for chunk, last in stream.chunks():
            written = self._write(last, opcode, chunk)
            opcode = CONTINUATION
            if written is None:
                return
            try:
                await written
            except StreamClosedError:
                return
