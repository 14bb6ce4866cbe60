"""One loaded room's state, and what the rooms need from a participant.

`Participant` is the room side of a connection (today a `Session`); crdt sits
below session in the layers, so it names what it uses instead of importing it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from loro import LoroDoc

from .store import RoomInfo


class ParticipantConnection(Protocol):
    def send(self, data: bytes, *, binary: bool) -> None:
        """Queue one whole binary message (a relayed update)."""


class Participant(Protocol):
    """One connection in rooms: room messages come from it, replies and updates go to it."""

    @property
    def closed(self) -> bool: ...

    @property
    def connection(self) -> ParticipantConnection: ...

    def send_text(self, text: str) -> None: ...


@dataclass(eq=False)
class Room:
    room_id: str
    loaded: asyncio.Future[None]  # fails when the room cannot be loaded
    doc: LoroDoc = field(default_factory=LoroDoc)
    members: set[Participant] = field(default_factory=set)
    seq: int = 0  # last log seq handed out
    saving_seq: int = 0  # highest seq covered by a queued compaction
    saved_seq: int = 0  # highest seq folded into the stored snapshot
    tail: asyncio.Future[None] | None = None  # the last queued append
    compacting: int = 0
    busy: int = 0  # requests in progress
    timer: asyncio.TimerHandle | None = None
    snapshot_bytes: int | None = None
    last_saved: datetime | None = None

    @property
    def ready(self) -> bool:
        return self.loaded.done() and self.loaded.exception() is None

    def info(self) -> RoomInfo:
        return RoomInfo(
            self.room_id,
            len(self.members),
            self.snapshot_bytes,
            self.seq - self.saved_seq,
            self.last_saved,
            True,
        )

    def relay(self, data: bytes, sender: Participant | None = None) -> None:
        """Send an update to every open member but its sender."""
        for member in list(self.members):
            if member is not sender and not member.closed:
                member.connection.send(data, binary=True)
