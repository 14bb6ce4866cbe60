"""The WebSocket bridge: one browser socket to the kernel's SQLRooms server, frame by frame.

Upstream is a `KernelLink` on the kernel's private Unix socket; it proves itself
with the discovery file's secret and never sees the browser's cookies, token,
Origin or Authorization. Downstream is the Jupyter handler's socket.

Kernel to browser, the kernel's data frames go on byte for byte as they arrive
(never decoded, assembled or copied in Python: `kernel_link`), and the relay
stops reading from the kernel while more than `max_buffered_bytes` wait for a
slow browser; the kernel's own backpressure then slows its query. Browser to
kernel, each message is sent before the next one is read from the browser.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketHandler
from websockets.frames import Close

from ..web.transport import drop_connection, write_raw
from . import kernel_link
from .discovery import Discovery
from .kernel_link import KernelLink

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
    """The kernel's frames to the browser, written straight to its stream.

    Bytes count as pending until the socket has taken them. Once more than `limit`
    are pending, reading from the kernel pauses until they are down to `limit`
    again: at most `limit` plus one received run (at most 256 KiB) waits here.
    """

    def __init__(self, handler: WebSocketHandler, limit: int) -> None:
        self.handler = handler
        self.limit = limit
        self.pending = 0
        self.link: KernelLink | None = None
        self._paused = False
        # For tests and diagnostics: the most bytes ever pending, the largest write.
        self.peak = 0
        self.largest_write = 0

    def forward(self, data: memoryview) -> asyncio.Future[Any] | None:
        try:
            written = write_raw(self.handler, data)
        except StreamClosedError:
            if self.link is not None:
                self.link.fail(BrowserGone())
            return None
        size = len(data)
        self.pending += size
        self.peak = max(self.peak, self.pending)
        self.largest_write = max(self.largest_write, size)
        written.add_done_callback(lambda done: self._release(done, size))
        if self.pending > self.limit and not self._paused and self.link is not None:
            self._paused = True
            self.link.pause_reading()
        return written

    def _release(self, future: asyncio.Future[None], size: int) -> None:
        self.pending -= size
        if not future.cancelled() and future.exception() is not None:
            if self.link is not None:
                self.link.fail(BrowserGone())
            return
        if self._paused and self.pending <= self.limit and self.link is not None:
            self._paused = False
            self.link.resume_reading()


async def open_upstream(discovery: Discovery, timeout: float) -> KernelLink:
    """Connect to the kernel's server on its Unix socket, with the secret as Bearer token."""
    return await kernel_link.connect(discovery.socket, discovery.secret, timeout)


class Relay:
    """Both directions of one relayed connection."""

    def __init__(self, upstream: KernelLink, writer: FrameWriter) -> None:
        self.upstream = upstream
        self.writer = writer
        writer.link = upstream
        upstream.forward = writer.forward
        upstream.flush()

    async def to_browser(self) -> Close | None:
        """Forward the kernel's frames until it closes; returns its close frame (None if
        the connection ended without one). Raises BrowserGone if the browser left first."""
        try:
            close = await self.upstream.done
        except BrowserGone:
            raise
        except Exception:
            self._cut_short()
            raise
        self._cut_short()
        return close

    def _cut_short(self) -> None:
        if self.upstream.mid_frame:
            # A frame was cut short: no close frame can follow it on the browser's socket.
            drop_connection(self.writer.handler)
            raise BrowserGone()

    async def to_kernel(self, message: str | bytes, *, text: bool | None = None) -> None:
        """Send one browser message upstream; returns once the socket has room for more.

        `text=True` sends bytes as a text frame unchecked: a browser's invalid UTF-8
        goes on as it came, and the kernel's server answers it with an error.
        """
        # A closed upstream is seen by to_browser, which explains it to the browser.
        await self.upstream.send(message, text=text)

    async def close(self) -> None:
        await self.upstream.close()
