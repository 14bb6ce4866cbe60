"""Every answer to a request, framed in one place: the session's side of the engine's `Sink`.

A request's `Reply` is made on the event loop and handed to the engine with the
request: the worker computing the result frames it here (the Arrow queryId
prefix, the JSON envelope, an export chunk's prefix) and waits for the
connection's room; `deliver` sends the outcome on the loop. Whole and streamed
results take the same way: whatever the runner produces goes through `whole`
or `chunk`, never around the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import protocol
from ..backpressure import Flag, Pieces, Scheduler, StreamSender, size_of
from ..protocol import Export, Query

if TYPE_CHECKING:
    from ..db.query import Outcome
    from .connection import Connection


class Reply:
    """Base: a request with no result of its own (an upload), acknowledged when done."""

    def __init__(
        self, query_id: str, connection: Connection, send_text: Callable[[str], None]
    ) -> None:
        self.query_id = query_id
        self._connection = connection
        self._send_text = send_text
        # Set on the loop once the request is answered (or withdrawn): late chunks are dropped.
        self.answered = False

    @property
    def finished(self) -> bool:
        """Its result is wholly sent: too late to cancel."""
        return False

    # -- the worker's side (the engine's Sink) --------------------------------

    def whole(self, payload: Pieces) -> Pieces:
        return payload

    def chunk(self, pieces: Pieces, last: bool) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        pass

    # -- the loop's side -------------------------------------------------------

    def deliver(self, result: Any) -> None:
        self._send_text(protocol.dumps({"type": "uploadAck", "queryId": self.query_id}))


class QueryReply(Reply):
    """An arrow, json or exec query: `ok`, one whole message, or an Arrow result streamed
    as one fragmented message (its first chunk carries the prefix)."""

    def __init__(
        self,
        query: Query,
        connection: Connection,
        send_text: Callable[[str], None],
        inbox: Scheduler,
        cancelled: Flag,
    ) -> None:
        super().__init__(query.query_id, connection, send_text)
        self._kind = query.kind
        self._cancelled = cancelled
        self._stream: StreamSender | None = None
        if query.kind == "arrow":  # a persist result too, when too large to keep whole
            self._stream = StreamSender(inbox, connection.budget, cancelled, connection.send_stream)

    @property
    def finished(self) -> bool:
        return self._stream is not None and self._stream.finished

    def whole(self, payload: Pieces) -> Pieces:
        if self._kind == "json":
            framed = protocol.json_result(self.query_id, payload)
        else:
            framed = [protocol.arrow_prefix(self.query_id), *payload]
        self._connection.budget.reserve(size_of(framed), self._cancelled)
        return framed

    def chunk(self, pieces: Pieces, last: bool) -> None:
        assert self._stream is not None, "only Arrow results are streamed"
        if not self._stream.started:
            pieces = [protocol.arrow_prefix(self.query_id), *pieces]
        self._stream.send(pieces, last)

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.abort()

    def deliver(self, result: Outcome) -> None:
        if result.kind == "ok":
            self._send_text(protocol.ok(self.query_id))
        elif result.payload is not None:
            binary = result.kind == "arrow"
            self._connection.send(result.payload, binary=binary, reserved=True)
        # else: an Arrow result already sent as a stream


class ExportReply(Reply):
    """An export: the file in binary messages, each with the export prefix, then `ok`."""

    def __init__(
        self,
        request: Export,
        connection: Connection,
        send_text: Callable[[str], None],
        inbox: Scheduler,
        cancelled: Flag,
    ) -> None:
        super().__init__(request.query_id, connection, send_text)
        self._format = request.format
        self._prefix = protocol.export_prefix(request.query_id, request.format)
        self._inbox = inbox
        self._cancelled = cancelled

    def chunk(self, pieces: Pieces, last: bool) -> None:
        size = len(self._prefix) + size_of(pieces)
        self._connection.budget.reserve(size, self._cancelled)
        self._inbox.call_soon_threadsafe(self._send_chunk, [self._prefix, *pieces], size)

    def _send_chunk(self, chunk: Pieces, size: int) -> None:
        """One chunk of the file, unless the export was answered meanwhile (cancelled)."""
        if self.answered:
            self._connection.budget.release(size)
        else:
            self._connection.send(chunk, binary=True, reserved=True)

    def deliver(self, result: Any) -> None:
        self._send_text(protocol.export_done(self.query_id, self._format, result.rows, result.size))
