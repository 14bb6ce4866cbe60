"""Accepting TCP connections when clients may be hostile: Tornado's `HTTPServer` with a
bound on connections that have not finished their request, and an accept loop that
survives running out of file descriptors.

Tornado's own accept handler lets `EMFILE` escape on every turn of the loop while a
connection waits in the backlog: a core spins and every turn logs a traceback. Here it
stops accepting for a moment instead, and says so once. A connection that has not
finished its HTTP request (or upgrade) takes a descriptor while sending nothing; over
`max_pending` of them, the oldest is closed, so that half-sent requests cannot keep a
token holder's connection out (once upgraded, a connection counts under the server's
own limits, not here).
"""

from __future__ import annotations

import errno
import logging
import resource
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import tornado.httpserver
import tornado.iostream
from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)

# Errors of accept() that mean "no descriptors or memory now", not a broken socket.
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# How long accepting pauses when it runs out of descriptors.
PAUSE_SECONDS = 0.25
# Accepted at most per wake-up, as Tornado does, so that other sockets get their turn.
_ACCEPT_BATCH = 128
_WARN_EVERY = 60.0


def max_pending_for(descriptor_limit: int) -> int:
    """Half of the descriptors for connections still sending their request, at most 1024."""
    if descriptor_limit == resource.RLIM_INFINITY or descriptor_limit < 0:
        return 1024
    return max(16, min(1024, descriptor_limit // 2))


class BoundedHTTPServer(tornado.httpserver.HTTPServer):
    """`HTTPServer` whose connections before their upgrade are bounded (oldest closed)."""

    def initialize(self, *args: Any, max_pending: int = 1024, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.max_pending = max_pending
        self._pending: dict[tornado.iostream.IOStream, None] = {}  # oldest first
        self._listening: list[tuple[socket.socket, Callable[[], None]]] = []
        self._last_warning = -_WARN_EVERY

    # -- connections before their upgrade ----------------------------------------------

    def handle_stream(self, stream: tornado.iostream.IOStream, address: Any) -> None:
        while len(self._pending) >= self.max_pending:
            oldest = next(iter(self._pending))
            del self._pending[oldest]
            oldest.close()
        self._pending[stream] = None
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        # Called when a connection ends and when its request loop ends for an upgrade.
        self._pending.pop(getattr(server_conn, "stream", None), None)  # type: ignore[arg-type]
        super().on_close(server_conn)

    @property
    def pending(self) -> int:
        return len(self._pending)

    # -- accepting ---------------------------------------------------------------------

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        for sock in sockets:
            sock.setblocking(False)
            self._listening.append((sock, self._watch(sock)))

    def add_socket(self, socket: socket.socket) -> None:
        self.add_sockets([socket])

    def stop(self) -> None:
        listening, self._listening = self._listening, []
        for sock, unwatch in listening:
            unwatch()
            sock.close()
        super().stop()

    def _watch(self, sock: socket.socket) -> Callable[[], None]:
        """Accept on `sock` whenever it is readable; returns how to stop."""
        return _Acceptor(sock, self._accepted, self._warn).stop

    def _accepted(self, connection: socket.socket, address: Any) -> None:
        """What Tornado's `TCPServer` does with an accepted socket (no TLS here)."""
        try:
            stream = tornado.iostream.IOStream(
                connection,
                max_buffer_size=self.max_buffer_size,
                read_chunk_size=self.read_chunk_size,
            )
            self.handle_stream(stream, address)
        except Exception:
            log.exception("error while accepting a connection")
            connection.close()

    def _warn(self, exc: OSError) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            log.warning(
                "cannot accept connections: %s; pausing %g s at a time (warned at most "
                "once a minute; raise the descriptor limit, e.g. ulimit -n)",
                exc.strerror or exc,
                PAUSE_SECONDS,
            )


class _Acceptor:
    """Accepts on one listening socket; pauses instead of spinning when out of descriptors."""

    def __init__(
        self,
        sock: socket.socket,
        accepted: Callable[[socket.socket, Any], None],
        warn: Callable[[OSError], None],
    ) -> None:
        self.sock, self.accepted, self.warn = sock, accepted, warn
        self.loop = IOLoop.current()
        self.timer: object | None = None
        self.stopped = False
        self.loop.add_handler(sock, self._accept, IOLoop.READ)

    def _accept(self, fd: Any, events: int) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                connection, address = self.sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise
                self.loop.remove_handler(self.sock)
                self.timer = self.loop.call_later(PAUSE_SECONDS, self._resume)
                self.warn(exc)
                return
            self.accepted(connection, address)

    def _resume(self) -> None:
        self.timer = None
        if not self.stopped:
            self.loop.add_handler(self.sock, self._accept, IOLoop.READ)

    def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.loop.remove_timeout(self.timer)
        else:
            self.loop.remove_handler(self.sock)
