"""A session's outgoing side of one Tornado WebSocket: messages leave in order.

Whole messages are written at once; a `ResultStream` is written as one
fragmented binary message, chunk by chunk as the socket takes them, and later
messages wait behind it (WebSocket messages cannot interleave). Bytes count
against the connection's budget until the socket has taken them.

Messages the server pushes without waiting for the budget (notifies, CRDT
updates, acks, errors) are bounded apart: a connection holding more than
`push_limit` of them unread is closed (1008), so that a subscriber that stops
reading cannot make the server hold every message published meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import tornado.websocket
from tornado.iostream import StreamClosedError

from ..backpressure import Backpressure, Pieces, ResultStream, size_of
from ..protocol import CLOSE_POLICY_VIOLATION
from .transport import BINARY, CONTINUATION, TEXT, write_frame

log = logging.getLogger(__name__)


class TornadoConnection:
    def __init__(
        self,
        handler: tornado.websocket.WebSocketHandler,
        budget_limit: int,
        push_limit: int | None = None,
    ) -> None:
        self._handler = handler
        self.budget = Backpressure(budget_limit)
        self.push_limit = budget_limit if push_limit is None else push_limit
        # Bytes of pushed messages the socket has not taken yet (also counted in `budget`).
        self.pushed = 0
        # Called once when the connection is dropped for not reading (e.g. Session.close).
        self.on_drop: Callable[[], None] | None = None
        self._outbox: deque[Any] = deque()
        self._pumping = False
        self._pump_task: asyncio.Future[None] | None = None
        self.closed = False

    def send(
        self, data: str | bytes | bytearray | Pieces, *, binary: bool, reserved: bool = False
    ) -> None:
        payload = data.encode() if isinstance(data, str) else data
        size = size_of(payload)
        if self.closed:
            if reserved:
                self.budget.release(size)
            return
        pushed = not reserved
        if pushed:
            if self.pushed and self.pushed + size > self.push_limit:
                return self._drop(size)
            self.pushed += size
            self.budget.add(size)
        if self._pumping:
            self._outbox.append((payload, binary, pushed))
        else:
            self._write(True, BINARY if binary else TEXT, payload, pushed)

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

    def _drop(self, size: int) -> None:
        """Close a connection that leaves too much unread; nothing more is queued for it."""
        log.warning(
            "closing a connection from %s that does not read (%d bytes unread, %d more to send)",
            self._handler.request.remote_ip,
            self.pushed,
            size,
        )
        self.closed = True
        self._release_outbox()
        # The close frame waits behind the unread bytes; Tornado drops the socket if the
        # client does not answer it in time.
        self._handler.close(
            CLOSE_POLICY_VIOLATION,
            f"client not reading: over {self.push_limit >> 20} MiB of messages unread",
        )
        if self.on_drop is not None:  # soon, not from inside whatever is sending
            asyncio.get_running_loop().call_soon(self.on_drop)

    def _write(
        self, fin: bool, opcode: int, payload: bytes | bytearray | Pieces, pushed: bool = False
    ) -> asyncio.Future[None] | None:
        pieces = payload if isinstance(payload, list) else [payload]
        size = sum(map(len, pieces))
        try:
            if self.closed:
                raise StreamClosedError()
            written = write_frame(self._handler, fin, opcode, pieces)
        except StreamClosedError:
            self._release(size, pushed)
            self.closed = True
            return None
        written.add_done_callback(lambda f: self._written(f, size, pushed))
        return written

    def _written(self, future: asyncio.Future[None], size: int, pushed: bool) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.closed = True
        self._release(size, pushed)

    def _release(self, size: int, pushed: bool) -> None:
        if pushed:
            self.pushed -= size
        self.budget.release(size)

    def _release_outbox(self) -> None:
        for item in self._outbox:
            if not isinstance(item, ResultStream) and not isinstance(item[0], int):
                payload, _, pushed = item
                self._release(size_of(payload), pushed)
        self._outbox.clear()

    async def _pump(self) -> None:
        try:
            while self._outbox and not self.closed:
                item = self._outbox.popleft()
                if isinstance(item, ResultStream):
                    await self._write_stream(item)
                elif isinstance(item[0], int):
                    self._handler.close(*item)
                else:
                    payload, binary, pushed = item
                    self._write(True, BINARY if binary else TEXT, payload, pushed)
        finally:
            self._pumping = False
            if self.closed:
                self._release_outbox()

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
