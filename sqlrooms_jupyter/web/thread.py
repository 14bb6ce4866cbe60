"""Run a `SqlroomsServer` on a thread and event loop of its own.

Inside a kernel the server must never share the kernel's main loop: a long
running cell would otherwise delay every browser query.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

from .server import ServerConfig, SqlroomsServer

T = TypeVar("T")


class ServerThread:
    def __init__(
        self,
        config: ServerConfig | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.server = SqlroomsServer(config, connection)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 60) -> SqlroomsServer:
        """Start listening; raises what `SqlroomsServer.start` raised (port taken, DB locked)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="sqlrooms-server", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.server.start(), loop).result(timeout)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()
            raise
        self._loop, self._thread = loop, thread
        return self.server

    def stop(self, timeout: float = 60) -> None:
        """Answer in-flight queries, close sockets and the database, end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the server's loop (hub and sessions live there) and wait."""
        if self._loop is None:
            raise RuntimeError("the server is not running")
        return self.server.call(fn, *args)  # type: ignore[no-any-return]
