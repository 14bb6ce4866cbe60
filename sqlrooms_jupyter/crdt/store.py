"""Where rooms are kept: the interface every storage implements, and its data.

A store keeps, per room, one snapshot and a log of the updates since it.
`append` must be durable when its future resolves: that is when the update is
acknowledged. Jobs take effect in the order they are called.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

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


class RoomStore(ABC):
    def watch(self, receive: Receive) -> None:
        """Where a store shared by several servers hands over, on the event loop, the
        updates the others commit; a store of one server has none to hand over."""
        return None

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None:
        """Finish every job already asked for, then stop."""

    @abstractmethod
    def load(self, room_id: str) -> asyncio.Future[LoadedRoom]: ...

    @abstractmethod
    def append(self, room_id: str, seq: int, data: bytes) -> asyncio.Future[None]:
        """Add an update to the room's log; resolves once it is durable."""

    @abstractmethod
    def compact(self, room_id: str, snapshot: bytes, upto: int) -> asyncio.Future[None]:
        """Store `snapshot` and drop the log entries up to `upto` that it covers."""

    @abstractmethod
    def list(self) -> asyncio.Future[builtins.list[RoomInfo]]:
        """Every stored room (members 0, not loaded)."""
