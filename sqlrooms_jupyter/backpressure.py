"""Flow control between query worker threads and a connection's event loop.

A result is produced in a worker thread and written by the event loop. Bytes
handed to a connection count against its budget until the socket has taken
them, and workers wait while the connection is over budget: a client that
reads slowly slows down its own queries instead of growing server memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

_POLL_SECONDS = 0.05


class IsSet(Protocol):
    """A flag another thread may set (`threading.Event`, `Flag`)."""

    def is_set(self) -> bool: ...


class Flag:
    """A one-way flag shared between threads: a plain attribute (atomic under the GIL),
    for per-query state where a `threading.Event`'s condition and lock are never used."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


class Scheduler(Protocol):
    """Runs callbacks on the event loop, from any thread (an event loop, a `LoopInbox`)."""

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any) -> object: ...


class LoopInbox:
    """Callbacks from worker threads to the event loop, run in the order posted, with one
    wake-up of the loop per batch: a worker that finds a batch pending only appends."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any) -> None:
        with self._lock:
            self._items.append((callback, args))
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
            self._loop.call_soon_threadsafe(self._run)

    def _run(self) -> None:
        with self._lock:
            items, self._items = self._items, deque()
            self._scheduled = False
        for callback, args in items:
            try:
                callback(*args)
            except Exception as exc:
                self._loop.call_exception_handler(
                    {"message": "callback from a worker failed", "exception": exc}
                )


class Aborted(Exception):
    """The query was cancelled or its connection went away while waiting to send."""


class Backpressure:
    """Bytes given to one connection that its socket has not taken yet."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending = 0
        self._closed = False
        self._cond = threading.Condition()

    @property
    def pending(self) -> int:
        return self._pending

    def add(self, size: int) -> None:
        """Account bytes without waiting (event loop side: small control frames)."""
        with self._cond:
            self._pending += size

    def reserve(self, size: int, cancelled: IsSet) -> None:
        """Wait (worker side) until `size` more bytes fit, then account them.

        A chunk larger than the whole limit passes once nothing else is pending.
        """
        with self._cond:
            while self._pending and self._pending + size > self.limit:
                if self._closed or cancelled.is_set():
                    raise Aborted()
                self._cond.wait(_POLL_SECONDS)
            if self._closed or cancelled.is_set():
                raise Aborted()
            self._pending += size

    def release(self, size: int) -> None:
        with self._cond:
            self._pending -= size
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


# An IPC message header that announces more metadata than the stream holds: an
# Arrow reader fails on it instead of returning a silently truncated table.
BROKEN_STREAM_TAIL = b"\xff\xff\xff\xff\xff\xff\xff\x7f"


# A message, or one chunk of a streamed one: pieces written back to back, never joined.
Pieces = list[bytes | memoryview]


def size_of(payload: bytes | bytearray | Pieces) -> int:
    return sum(map(len, payload)) if isinstance(payload, list) else len(payload)


class ResultStream:
    """One binary message whose bytes arrive in chunks from a worker thread.

    Lives on the event loop; the worker pushes through `loop.call_soon_threadsafe`.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Pieces, bool]] = asyncio.Queue()

    def push(self, chunk: Pieces, last: bool = False) -> None:
        self._queue.put_nowait((chunk, last))

    async def chunks(self) -> AsyncIterator[tuple[Pieces, bool]]:
        """Yield `(chunk, is_last)` until the last chunk."""
        while True:
            chunk, last = await self._queue.get()
            yield chunk, last
            if last:
                return


class StreamSender:
    """Worker-side handle of a ResultStream: opens it lazily and pushes with budget."""

    def __init__(
        self,
        loop: Scheduler,
        budget: Backpressure,
        cancelled: IsSet,
        start: Callable[[ResultStream], None],
    ) -> None:
        self._loop = loop
        self._budget = budget
        self._cancelled = cancelled
        self._start = start
        self._stream: ResultStream | None = None
        self.finished = False

    @property
    def started(self) -> bool:
        return self._stream is not None

    def send(self, chunk: Pieces, last: bool = False) -> None:
        self._budget.reserve(sum(map(len, chunk)), self._cancelled)
        if self._stream is None:
            self._stream = ResultStream()
            self._loop.call_soon_threadsafe(self._start, self._stream)
        self.finished = last
        self._loop.call_soon_threadsafe(self._stream.push, chunk, last)

    def abort(self) -> None:
        """End a started stream so that no reader mistakes it for a whole result."""
        if self._stream is not None and not self.finished:
            self.finished = True
            self._budget.add(len(BROKEN_STREAM_TAIL))
            tail: Pieces = [BROKEN_STREAM_TAIL]
            self._loop.call_soon_threadsafe(self._stream.push, tail, True)
