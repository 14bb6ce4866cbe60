"""The relay's leg to the kernel's server: a small WebSocket client on its Unix socket.

Frames from the kernel are not decoded. They are received into large buffers and
every run of data frames (headers and payload, as the kernel sent them) goes to
the browser as a view of the buffer it was received into, so relaying costs one
`recv` and one `send` per byte and a small answer leaves in one write. Only
frame headers are read: to find control frames, which are taken out (a ping is
answered, a close ends the link), and to know where a frame ends.

A buffer is reused once the browser's socket took every byte that was handed out
of it. Frames to the kernel are masked, as RFC 6455 asks of a client.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.frames import Close

from ..web.transport import BINARY, TEXT, mask_payload

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CLOSE, _PING, _PONG = 0x8, 0x9, 0xA
_BUFFER = 2 << 20
# One read at most: a run forwarded to the browser is never larger, which bounds what a
# slow browser leaves buffered (FrameWriter's limit plus one run).
_MAX_READ = 256 << 10
_MIN_FREE = _MAX_READ  # a fresh buffer is taken when a whole read no longer fits
_MAX_HANDSHAKE = 64 << 10
_CLOSE_WAIT = 5.0

# Hands one run of data frames to the browser; returns the future of that write (done
# once the browser's socket took those bytes), or None when nothing is pending.
Forward = Callable[[memoryview], "asyncio.Future[Any] | None"]


class HandshakeError(Exception):
    """The kernel's server did not accept the WebSocket."""


class KernelLink(asyncio.BufferedProtocol):
    """One relayed connection's socket to the kernel's server."""

    def __init__(self, request: bytes, expected_accept: str) -> None:
        self._request = request
        self._accept = expected_accept
        self.forward: Forward | None = None
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        # The kernel's close frame (None if the connection ended without one); or the
        # exception that stopped forwarding.
        self.done: asyncio.Future[Close | None] = loop.create_future()
        self._buf = bytearray(_BUFFER)
        self._view = memoryview(self._buf)
        self._retired: deque[tuple[bytearray, asyncio.Future[Any] | None]] = deque()
        self._last_write: asyncio.Future[Any] | None = None
        self._start = 0  # first byte not yet handed on
        self._pos = 0  # where parsing stands (_start <= _pos <= _end)
        self._end = 0  # end of received bytes
        self._remaining = 0  # payload bytes of the current data frame still to come
        self._close: Close | None = None
        self._close_sent = False
        self._writable: asyncio.Future[None] | None = None

    # -- asyncio protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def get_buffer(self, sizehint: int) -> memoryview:
        if len(self._buf) - self._end < _MIN_FREE:
            self._next_buffer()
        return self._view[self._end : self._end + _MAX_READ]

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes
        try:
            if not self.opened.done():
                self._read_handshake()
                if not self.opened.done():
                    return
            self._parse()
        except Exception as exc:
            self.fail(exc)

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or HandshakeError("connection closed"))
        if not self.done.done():
            self.done.set_result(self._close)
        self.resume_writing()

    # -- state ---------------------------------------------------------------

    @property
    def mid_frame(self) -> bool:
        """Part of a data frame went to the browser and the rest has not arrived."""
        return self._remaining > 0

    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def fail(self, exc: BaseException) -> None:
        """Stop: `opened` (during the handshake) or `done` raises `exc`; the socket is dropped."""
        if not self.opened.done():
            self.opened.set_exception(exc)
        elif not self.done.done():
            self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # -- receiving -------------------------------------------------------------

    def _next_buffer(self) -> None:
        tail = bytes(self._view[self._start : self._end])
        self._retired.append((self._buf, self._last_write))
        self._last_write = None
        oldest, written = self._retired[0]
        if written is None or written.done():
            self._retired.popleft()
            self._buf = oldest
        else:
            self._buf = bytearray(_BUFFER)
        self._view = memoryview(self._buf)
        # Only a part of a header or control frame, or of the handshake, is left unsent.
        self._view[: len(tail)] = tail
        self._pos -= self._start
        self._end = len(tail)
        self._start = 0

    def _read_handshake(self) -> None:
        head = bytes(self._view[self._start : self._end])
        cut = head.find(b"\r\n\r\n")
        if cut < 0:
            if len(head) > _MAX_HANDSHAKE:
                raise HandshakeError("handshake response too long")
            return
        lines = head[:cut].decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            raise HandshakeError(f"server answered {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != self._accept:
            raise HandshakeError("wrong Sec-WebSocket-Accept")
        self._start = self._pos = self._start + cut + 4
        self.opened.set_result(None)

    def _parse(self) -> None:
        buf, end = self._buf, self._end
        pos = self._pos
        while pos < end and not self.done.done():
            if self._remaining:
                take = min(self._remaining, end - pos)
                pos += take
                self._remaining -= take
                continue
            if end - pos < 2:
                break
            first, second = buf[pos], buf[pos + 1]
            if second & 0x80 or first & 0x70:
                raise ConnectionError("masked or compressed frame from the kernel's server")
            size, header = second & 0x7F, 2
            if size == 126:
                header = 4
            elif size == 127:
                header = 10
            if end - pos < header:
                break
            if header > 2:
                size = int.from_bytes(buf[pos + 2 : pos + header], "big")
            opcode = first & 0x0F
            if opcode < _CLOSE:  # data: handed on with the frames around it
                pos += header
                self._remaining = size
                continue
            if end - pos < header + size:
                break
            self._pos = pos
            self._flush()
            payload = bytes(buf[pos + header : pos + header + size])
            pos += header + size
            self._start = self._pos = pos
            self._control(opcode, payload)
        self._pos = pos
        self._flush()

    def flush(self) -> None:
        """Hand on what arrived before `forward` was set."""
        if self.opened.done() and not self.done.done():
            self._flush()

    def _flush(self) -> None:
        if self._pos > self._start and self.forward is not None:
            self._last_write = self.forward(self._view[self._start : self._pos])
            self._start = self._pos

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == _PING:
            self._send_frame(_PONG, payload)
        elif opcode == _CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._close = Close(code, payload[2:].decode("utf-8", "replace"))
            if not self._close_sent:
                self._send_frame(_CLOSE, payload[:2])
            if not self.done.done():
                self.done.set_result(self._close)
        elif opcode != _PONG:
            raise ConnectionError(f"unknown control frame {opcode:#x} from the kernel's server")

    # -- sending ---------------------------------------------------------------

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing() or self._close_sent:
            return
        if opcode == _CLOSE:
            self._close_sent = True
        size = len(payload)
        if size < 126:
            header = bytes((0x80 | opcode, 0x80 | size))
        elif size <= 0xFFFF:
            header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
        key = os.urandom(4)
        masked = mask_payload(key, payload)
        if size < 64 << 10:
            self.transport.write(header + key + masked)
        else:
            self.transport.write(header + key)
            self.transport.write(masked)

    async def send(self, message: str | bytes, *, text: bool | None = None) -> None:
        """One message to the kernel; returns once its socket has room for more.
        `text=True` sends bytes as a text frame unchecked. Nothing happens once closed."""
        if text is None:
            text = isinstance(message, str)
        payload = message.encode() if isinstance(message, str) else message
        self._send_frame(TEXT if text else BINARY, payload)
        writable = self._writable
        if writable is not None:
            await writable

    async def close(self) -> None:
        """Close the WebSocket (code 1000) and wait, a few seconds at most, for the end."""
        if self.transport is None:
            return
        self._send_frame(_CLOSE, (1000).to_bytes(2, "big"))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.done), _CLOSE_WAIT)
        if not self.transport.is_closing():
            self.transport.close()


async def connect(path: str, secret: str, timeout: float) -> KernelLink:
    """Open a WebSocket to the kernel's server on its Unix socket, with the secret as
    Bearer token. Raises HandshakeError, OSError or TimeoutError."""
    key = base64.b64encode(os.urandom(16)).decode()
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    request = (
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {secret}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    link = KernelLink(request, accept)

    async def open_link() -> None:
        await loop.create_unix_connection(lambda: link, path)
        await link.opened

    try:
        await asyncio.wait_for(open_link(), timeout)
    except BaseException:
        if link.transport is not None:
            link.transport.abort()
        raise
    return link
