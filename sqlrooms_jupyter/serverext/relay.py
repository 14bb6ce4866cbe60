"""The WebSocket bridge: one browser socket to the kernel's SQLRooms server, frame by frame.

Upstream is a `websockets` client on the kernel's private Unix socket; it
proves itself with the discovery file's secret and never sees the browser's
cookies, token, Origin or Authorization. Downstream is the Jupyter handler's
socket.

Kernel to browser, every frame is forwarded as it arrives (a large Arrow
result is never assembled here), and the relay stops reading from the kernel
while more than `max_buffered_bytes` wait for a slow browser; the kernel's own
backpressure then slows its query. Browser to kernel, each message is sent
before the next one is read from the browser.
"""

from __future__ import annotations

import asyncio
import contextlib

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketHandler
from websockets.asyncio.client import ClientConnection, unix_connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from ..transport import BINARY, CONTINUATION, TEXT, write_frame
from .discovery import Discovery

# Close codes the relay sends to browser clients (the 4000-4999 private range).
# Codes the kernel's server sends are passed through unchanged, e.g. 1001 with
# "server shutting down" after `%sqlrooms stop`.
CLOSE_KERNEL_RESTARTED = 4001
CLOSE_KERNEL_SHUT_DOWN = 4002
CLOSE_KERNEL_SERVER_LOST = 4003
CLOSE_JUPYTER_STOPPING = 4004

CLOSE_REASONS = {
    CLOSE_KERNEL_RESTARTED: "kernel restarted",
    CLOSE_KERNEL_SHUT_DOWN: "kernel shut down",
    CLOSE_KERNEL_SERVER_LOST: "lost the kernel's SQLRooms server",
    CLOSE_JUPYTER_STOPPING: "Jupyter server shutting down",
}

# Codes a close frame may carry (RFC 6455 section 7.4) that an endpoint may send.
_RESERVED = frozenset({1004, 1005, 1006, 1015})

# Frames the upstream client queues while the browser is slow; the kernel
# sends results in chunks of a few MiB, so this bounds what waits here.
_UPSTREAM_QUEUE = 4


def passable(close: Close | None) -> tuple[int, str] | None:
    """The kernel server's close code and reason, if a browser may be sent them."""
    if close is None:
        return None
    if close.code == 1005:  # a close frame without a code
        return 1000, ""
    if 1000 <= close.code <= 4999 and close.code not in _RESERVED:
        return close.code, close.reason
    return None


class BrowserGone(Exception):
    """The browser's socket closed while the relay was writing to it."""


class FrameWriter:
    """Frames to the browser, written straight to its stream.

    Bytes count as pending until the socket has taken them. A frame that would
    take the pending bytes over `limit` waits until the earlier ones are out (so
    does the reading from the kernel): at most max(limit, one frame) is pending.
    """

    def __init__(self, handler: WebSocketHandler, limit: int) -> None:
        self._handler = handler
        self.limit = limit
        self.pending = 0
        self._last: asyncio.Future[None] | None = None
        # For tests and diagnostics: the most bytes ever pending, the largest frame.
        self.peak = 0
        self.largest_frame = 0

    async def write(self, fin: bool, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if self.pending and self.pending + size > self.limit and self._last is not None:
            try:
                await self._last  # the stream writes in order: all earlier bytes are out
            except StreamClosedError:
                raise BrowserGone() from None
        try:
            written = asyncio.ensure_future(write_frame(self._handler, fin, opcode, [payload]))
        except StreamClosedError:
            raise BrowserGone() from None
        self.pending += size
        self.peak = max(self.peak, self.pending)
        self.largest_frame = max(self.largest_frame, size)
        written.add_done_callback(lambda done: self._release(done, size))
        self._last = written

    def _release(self, future: asyncio.Future[None], size: int) -> None:
        self.pending -= size
        if not future.cancelled():
            future.exception()  # a closed stream is noticed by the next write


async def open_upstream(discovery: Discovery, timeout: float) -> ClientConnection:
    """Connect to the kernel's server on its Unix socket, with the secret as Bearer token."""
    return await unix_connect(
        discovery.socket,
        "ws://localhost/",
        additional_headers={"Authorization": f"Bearer {discovery.secret}"},
        user_agent_header=None,
        compression=None,
        max_size=None,  # results stream through frame by frame: no size limit on this leg
        max_queue=_UPSTREAM_QUEUE,
        ping_interval=None,  # a local socket: no proxy to keep happy
        open_timeout=timeout,
        close_timeout=5,
    )


class Relay:
    """Both directions of one relayed connection."""

    def __init__(self, upstream: ClientConnection, writer: FrameWriter) -> None:
        self.upstream = upstream
        self.writer = writer

    async def to_browser(self) -> Close | None:
        """Forward the kernel's messages until it closes; returns its close frame (None if
        the connection ended without one). Raises BrowserGone if the browser left first."""
        try:
            while True:
                await self._forward_message()
        except ConnectionClosed as exc:
            return exc.rcvd

    async def _forward_message(self) -> None:
        # Each fragment is written when the next one arrives, so that the last one
        # (known only once the message ends) carries the FIN bit: frames stay as sent.
        held: bytes | None = None
        opcode = BINARY
        async for fragment in self.upstream.recv_streaming():
            data = fragment.encode() if isinstance(fragment, str) else fragment
            if held is None:
                opcode = TEXT if isinstance(fragment, str) else BINARY
            else:
                await self.writer.write(False, opcode, held)
                opcode = CONTINUATION
            held = data
        await self.writer.write(True, opcode, held or b"")

    async def to_kernel(self, message: str | bytes, *, text: bool | None = None) -> None:
        """Send one browser message upstream; returns once the socket has room for more.

        `text=True` sends bytes as a text frame unchecked: a browser's invalid UTF-8
        goes on as it came, and the kernel's server answers it with an error.
        """
        # A closed upstream is seen by to_browser, which explains it to the browser.
        with contextlib.suppress(ConnectionClosed):
            await self.upstream.send(message, text=text)

    async def close(self) -> None:
        await self.upstream.close()
