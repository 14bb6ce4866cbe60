"""Every use of Tornado's private WebSocket API, in one place.

Two things Tornado does not offer publicly: writing a frame straight to the
socket's stream (its own writer copies the payload once more, and cannot send
a message as fragments produced later), and a protocol that answers invalid
UTF-8 and oversized messages instead of dropping the socket. Imports neither
DuckDB nor pyarrow: the Jupyter server's relay uses it too.
`tests/unit/web/test_transport.py` fails loudly when a Tornado upgrade changes what this
module relies on.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import Any

import tornado.util
import tornado.websocket
from tornado.iostream import StreamClosedError

from ..protocol import CLOSE_TOO_BIG

TEXT, BINARY, CONTINUATION = 0x1, 0x2, 0x0
_DRAIN_SECONDS = 5.0
# A text message too long to act on is read past in slices of this size, keeping this much
# of each end.
READ_SLICE_BYTES = 64 << 10
_KEEP_BYTES = 1 << 10

Buffer = bytes | bytearray | memoryview


def frame_header(fin: bool, opcode: int, size: int) -> bytes:
    """An unmasked (server to client) WebSocket frame header, RFC 6455 section 5.2."""
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        return struct.pack("!BB", first, size)
    if size <= 0xFFFF:
        return struct.pack("!BBH", first, 126, size)
    return struct.pack("!BBQ", first, 127, size)


def write_frame(
    handler: tornado.websocket.WebSocketHandler, fin: bool, opcode: int, pieces: Sequence[Buffer]
) -> asyncio.Future[None]:
    """Write one frame of `pieces` to the handler's stream, without copying large pieces.

    Returns the future of the last write (resolved once the socket took every
    byte); raises StreamClosedError when the socket is gone.
    """
    connection = handler.ws_connection
    stream = getattr(connection, "stream", None)
    if connection is None or connection.is_closing() or stream is None:
        raise StreamClosedError()
    written: Any = None
    for piece in _coalesced(frame_header(fin, opcode, sum(map(len, pieces))), pieces):
        written = stream.write(piece)
    return written  # type: ignore[no-any-return]


# Pieces smaller than this are copied into one write with their neighbours: each
# `IOStream.write` is a send(2) and, with TCP_NODELAY, a packet.
_COALESCE_BELOW = 64 << 10


def _coalesced(header: bytes, pieces: Sequence[Buffer]) -> list[bytes | memoryview]:
    out: list[bytes | memoryview] = []
    small = bytearray(header)
    for piece in pieces:
        if len(piece) < _COALESCE_BELOW:
            small += piece
            continue
        if small:
            out.append(memoryview(small))
            small = bytearray()
        out.append(piece if isinstance(piece, (bytes, memoryview)) else memoryview(piece))
    if small:
        out.append(memoryview(small))
    return out


class _LenientProtocol(tornado.websocket.WebSocketProtocol13):
    """Tornado's protocol with four changes: invalid UTF-8 text goes to the handler's
    `on_invalid_text` instead of dropping the socket, an oversized message ends in a
    close frame the client can actually read, text is decoded once, not twice, and the
    handler's `message_limit` (if it has one) is the size limit of each next frame.
    """

    _draining: asyncio.Task[None] | None = None
    _too_big = False

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if code == CLOSE_TOO_BIG and not self.server_terminated:
            self._too_big = True
        super().close(code, reason)

    def _abort(self) -> None:
        # Tornado drops the socket right after its 1009 close frame, while the client
        # is still sending the oversized message: the reset that follows can destroy
        # the close frame before the client reads it. Discard its bytes until it closes.
        if self._too_big and self.stream is not None and not self.stream.closed():
            if self._draining is None:
                self.client_terminated = self.server_terminated = True
                self._draining = asyncio.ensure_future(self._drain())
            return
        super()._abort()

    async def _drain(self) -> None:
        stream = self.stream
        deadline = asyncio.get_running_loop().call_later(_DRAIN_SECONDS, stream.close)
        try:
            while True:
                await stream.read_bytes(1 << 16, partial=True)
        except StreamClosedError:
            pass
        finally:
            deadline.cancel()
            self._too_big = False
            super()._abort()

    async def _receive_frame(self) -> None:
        # Tornado compares each frame's announced length (plus the fragments so far) with
        # this before it reads the payload: a handler's `message_limit` may change it
        # between messages (e.g. small until a connection authenticates).
        message_limit: int | None = getattr(self.handler, "message_limit", None)
        if message_limit is not None:
            self.params.max_message_size = message_limit
        limit: int | None = getattr(self.handler, "max_text_bytes", None)
        if limit is not None and self._fragmented_message_buffer is None:
            mask = await self._long_text_mask(limit)
            if mask is not None:
                return await self._skip_text(*mask)
        await super()._receive_frame()

    async def _long_text_mask(self, limit: int) -> tuple[int, bytes] | None:
        """The length and masking key of the next frame if it is a whole, uncompressed,
        masked text message over `limit` bytes (its header then consumed); otherwise None,
        and the stream as it was."""
        stream = self.stream
        head = await stream.read_bytes(2)
        if head[0] != 0x80 | TEXT or head[1] & 0x7F < 126 or not head[1] & 0x80:
            _unread(stream, head)
            return None
        rest = await stream.read_bytes((2 if head[1] & 0x7F == 126 else 8) + 4)
        size = int.from_bytes(rest[:-4], "big")
        if not limit < size <= self.params.max_message_size:
            _unread(stream, head + rest)
            return None
        self._wire_bytes_in += len(head) + len(rest)
        return size, rest[-4:]

    async def _skip_text(self, size: int, mask: bytes) -> None:
        """Read a text message too long to act on past, keeping only its first and last
        KiB (where a client puts its queryId) for the handler's `on_text_too_long`: the
        event loop, which every client shares, never holds the whole of it."""
        stream = self.stream
        head, tail = bytearray(), bytearray()
        done = 0
        while done < size:
            chunk = await stream.read_bytes(min(size - done, READ_SLICE_BYTES), partial=True)
            if done < _KEEP_BYTES:
                head += chunk[: _KEEP_BYTES - done]
            tail = (
                (tail + chunk)[-_KEEP_BYTES:]
                if len(chunk) < _KEEP_BYTES
                else bytearray(chunk[-_KEEP_BYTES:])
            )
            done += len(chunk)
            self._wire_bytes_in += len(chunk)
            if done % (4 * READ_SLICE_BYTES) < len(chunk):
                await asyncio.sleep(0)  # let other sockets' messages in
        on_text_too_long = self.handler.on_text_too_long  # type: ignore[attr-defined]
        on_text_too_long(_unmasked(mask, 0, head), _unmasked(mask, size - len(tail), tail))

    def _handle_message(self, opcode: int, data: bytes) -> Any:
        if opcode == TEXT and not self.client_terminated and not self._frame_compressed:
            # Decoded once here (Tornado would decode it again): a megabyte-sized text
            # costs the event loop, and so every other client, each pass over it.
            self._message_bytes_in += len(data)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                # Awaited like on_message's result, so the next message waits for it.
                return self.handler.on_invalid_text(data)  # type: ignore[attr-defined]
            return self._run_callback(self.handler.on_message, text)
        return super()._handle_message(opcode, data)


def _unread(stream: Any, data: bytes) -> None:
    """Put bytes just read back at the front of a Tornado stream's read buffer."""
    stream._read_buffer[:0] = data
    stream._read_buffer_size += len(data)


def _unmasked(mask: bytes, offset: int, data: bytearray) -> bytes:
    """`data`, found at `offset` in a masked payload, unmasked."""
    turn = offset % 4
    return mask_payload(mask[turn:] + mask[:turn], bytes(data))


def lenient_protocol(
    handler: tornado.websocket.WebSocketHandler,
) -> tornado.websocket.WebSocketProtocol | None:
    """For `WebSocketHandler.get_websocket_protocol`; the handler must define
    `on_invalid_text(data)`."""
    if handler.request.headers.get("Sec-WebSocket-Version") != "13":
        return None
    params = tornado.websocket._WebSocketParams(
        ping_interval=handler.ping_interval,
        ping_timeout=handler.ping_timeout,
        max_message_size=handler.max_message_size,
        compression_options=handler.get_compression_options(),
    )
    return _LenientProtocol(handler, False, params)


def write_raw(handler: tornado.websocket.WebSocketHandler, data: Buffer) -> asyncio.Future[None]:
    """Write bytes that already are whole or partial WebSocket frames (the relay's
    pass-through); raises StreamClosedError when the socket is gone."""
    connection = handler.ws_connection
    stream = getattr(connection, "stream", None)
    if connection is None or connection.is_closing() or stream is None:
        raise StreamClosedError()
    return stream.write(data)  # type: ignore[no-any-return]


def mask_payload(key: bytes, payload: bytes) -> bytes:
    """A client frame's payload XOR its 4-byte masking key (Tornado's C speedup if built)."""
    return tornado.util._websocket_mask(key, payload)


def drop_connection(handler: tornado.websocket.WebSocketHandler) -> None:
    """Close the socket without a close frame (e.g. in the middle of a relayed frame)."""
    stream = getattr(handler.ws_connection, "stream", None)
    if stream is not None:
        stream.close()
