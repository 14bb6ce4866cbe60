"""Where rooms are kept: the job queue every storage shares, and its data.

A store keeps, per room, one snapshot and a log of the updates since it.
`append` must be durable when its future resolves: that is when the update is
acknowledged. Jobs run one at a time in the order they are called (so a room's
appends and compactions keep their order), and appends queued together share
one commit: a burst of edits costs one commit. A storage implements only its
operations (`read_room`, `write_updates`, `write_snapshot`, `read_list`).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loro import LoroDoc

log = logging.getLogger(__name__)


class RoomError(Exception):
    """A room request that is refused; the client gets it as an error frame."""


@dataclass(frozen=True)
class RoomInfo:
    room_id: str
    members: int
    snapshot_bytes: int | None  # the stored snapshot; None when never compacted
    pending_updates: int  # acknowledged updates not yet folded into the snapshot
    last_saved: datetime | None
    loaded: bool


@dataclass
class LoadedRoom:
    doc: LoroDoc
    seq: int  # highest log seq
    saved_seq: int  # highest seq already in the snapshot
    snapshot_bytes: int | None
    last_saved: datetime | None


def is_loro_error(exc: BaseException) -> bool:
    """Loro raises bare `BaseException`s (and pyo3 panics); never swallow the real ones."""
    return (
        isinstance(exc, Exception)
        or type(exc) is BaseException
        or type(exc).__name__ == "PanicException"
    )


def build_room(
    room_id: str,
    snapshot: bytes | None,
    updates: Iterable[tuple[int, bytes]],
    last_saved: datetime | None,
) -> LoadedRoom:
    """Snapshot plus log replay; an unreadable log entry is skipped, an unreadable
    snapshot fails the load (rather than wipe the room)."""
    doc = LoroDoc()  # type: ignore[no-untyped-call]
    if snapshot:
        doc.import_(snapshot)
    first = last = None
    for seq, data in updates:
        first = seq if first is None else first
        last = seq
        try:
            doc.import_(data)
        except BaseException as exc:
            if not is_loro_error(exc):
                raise
            log.warning("room %r: skipping unreadable log entry %d: %s", room_id, seq, exc)
    seq = last or 0
    return LoadedRoom(
        doc,
        seq=seq,
        saved_seq=first - 1 if first is not None else seq,
        snapshot_bytes=len(snapshot) if snapshot is not None else None,
        last_saved=last_saved,
    )


# `receive(room_id, data)`: an update that another server committed to a shared store.
Receive = Callable[[str, bytes], None]

# One log entry to write: (room_id, seq, data).
Update = tuple[str, int, bytes]


@dataclass(eq=False)
class _Job:
    kind: str  # "load" | "append" | "compact" | "list"
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class RoomStore(ABC):
    """The job queue: callers get futures on the event loop; one writer task runs the
    jobs in call order through the storage's operations."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.stopped = False
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._unavailable: RoomError | None = None

    def watch(self, receive: Receive) -> None:
        """Where a store shared by several servers hands over, on the event loop, the
        updates the others commit; a store of one server has none to hand over."""
        return None

    async def start(self) -> None:
        try:
            await self.open()
        except Exception as exc:  # every job fails with it; the server keeps serving
            log.error("room storage unavailable: %s", exc)
            self._unavailable = RoomError(f"sync storage unavailable: {exc}")
        self._writer = self.loop.create_task(self._run())

    async def stop(self) -> None:
        """Finish every job already asked for, then stop."""
        if self.stopped:
            return
        self.stopped = True
        self._queue.put_nowait(None)
        if self._writer is not None:
            await self._writer
            await self.close()
        else:  # never started: nothing will run the jobs
            while (job := self._queue.get_nowait()) is not None:
                _settle(job.future, exc=RoomError("server is shutting down"))

    # -- the jobs (called on the loop) ---------------------------------------

    def load(self, room_id: str) -> asyncio.Future[LoadedRoom]:
        return self._submit("load", room_id)

    def append(self, room_id: str, seq: int, data: bytes) -> asyncio.Future[None]:
        """Add an update to the room's log; resolves once it is durable."""
        return self._submit("append", room_id, seq, data)

    def compact(self, room_id: str, snapshot: bytes, upto: int) -> asyncio.Future[None]:
        """Store `snapshot` and drop the log entries up to `upto` that it covers."""
        return self._submit("compact", room_id, snapshot, upto)

    def list(self) -> asyncio.Future[builtins.list[RoomInfo]]:
        """Every stored room (members 0, not loaded)."""
        return self._submit("list")

    def _submit(self, kind: str, *args: Any) -> asyncio.Future[Any]:
        if self.stopped:
            raise RoomError("server is shutting down")
        job = _Job(kind, args, self.loop.create_future())
        self._queue.put_nowait(job)
        return job.future

    async def _run(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            while jobs[-1] is not None and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            for batch in _batches([job for job in jobs if job is not None]):
                await self._process(batch)
            if jobs[-1] is None:
                return

    async def _process(self, batch: builtins.list[_Job]) -> None:
        kind, first = batch[0].kind, batch[0].args
        try:
            if self._unavailable is not None:
                raise self._unavailable
            if kind == "load":
                result: Any = await self.read_room(*first)
            elif kind == "list":
                result = await self.read_list()
            elif kind == "append":
                await self.write_updates([job.args for job in batch])
                result = None
            else:
                await self.write_snapshot(*first)
                result = None
        except BaseException as exc:
            if not is_loro_error(exc):
                for job in batch:
                    _settle(job.future, exc=RoomError("room storage stopped"))
                raise
            failure = exc if exc is self._unavailable else await self.failed(kind, exc)
            for job in batch:
                _settle(job.future, exc=failure)
        else:
            for job in batch:
                _settle(job.future, result)

    # -- what a storage implements (run by the writer, one at a time) ---------

    async def open(self) -> None:
        """Get ready to run jobs (a failure fails every job, not the server)."""
        return None

    async def close(self) -> None:
        """Release what `open` took, once the last job has run."""
        return None

    async def failed(self, kind: str, exc: BaseException) -> BaseException:
        """What the callers of a failed job get (and the storage's chance to reset)."""
        log.error("room storage: %s failed", kind, exc_info=exc)
        return exc

    @abstractmethod
    async def read_room(self, room_id: str) -> LoadedRoom: ...

    @abstractmethod
    async def write_updates(self, updates: builtins.list[Update]) -> None:
        """Append the updates to their rooms' logs in one commit (all or none)."""

    @abstractmethod
    async def write_snapshot(self, room_id: str, snapshot: bytes, upto: int) -> None:
        """Store `snapshot` and drop the room's log entries up to `upto` that it covers."""

    @abstractmethod
    async def read_list(self) -> builtins.list[RoomInfo]:
        """Every stored room (members 0, not loaded)."""


def _batches(jobs: builtins.list[_Job]) -> Iterator[builtins.list[_Job]]:
    """Consecutive appends form one batch; every other job runs alone."""
    start = 0
    while start < len(jobs):
        end = start + 1
        if jobs[start].kind == "append":
            while end < len(jobs) and jobs[end].kind == "append":
                end += 1
        yield jobs[start:end]
        start = end


def _settle(
    future: asyncio.Future[Any], result: Any = None, exc: BaseException | None = None
) -> None:
    if future.done():  # cancelled by its caller: nobody is waiting
        return
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)
