"""The server's CRDT rooms: what the server starts and stops, the session's room
hooks, and the Python API.

The Python API (`list`, `doc`, `apply`, `apply_update`) is coroutines on the
server's event loop; from another thread, call them through `SqlroomsServer.call`.
The work is done by `lifecycle.LoadedRooms` (load, durability, compaction,
unloading, cluster merge) and `wire.RoomWire` (the room protocol).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from loro import ExportMode, LoroDoc

from .lifecycle import LoadedRooms
from .room import Participant
from .store import RoomInfo, RoomStore
from .wire import RoomWire


class Rooms:
    def __init__(
        self,
        store: RoomStore,
        loop: asyncio.AbstractEventLoop,
        *,
        allow_client_snapshots: bool,
        save_debounce_ms: int = 500,
    ) -> None:
        self.storage = store
        self.loaded = LoadedRooms(store, loop, save_debounce_ms=save_debounce_ms)
        self.wire = RoomWire(self.loaded, allow_client_snapshots=allow_client_snapshots)

    async def start(self) -> None:
        self.storage.watch(self.receive)
        await self.storage.start()

    async def close(self) -> None:
        """Fold every room's log into its snapshot, then stop the store (before the engine)."""
        await self.loaded.close()
        self.wire.cancel()

    # -- the session's hooks (see session.RoomHooks) -------------------------------

    def handle_message(self, participant: Participant, message: dict[str, Any]) -> None:
        self.wire.handle_message(participant, message)

    def handle_update(self, participant: Participant, data: bytes) -> None:
        self.wire.handle_update(participant, data)

    def leave(self, participant: Participant) -> None:
        self.wire.leave(participant)

    def receive(self, room_id: str, data: bytes) -> None:
        """An update another server committed to the shared store."""
        self.loaded.receive(room_id, data)

    # -- Python API --------------------------------------------------------------

    def summary(self) -> list[dict[str, Any]]:
        """Loaded rooms, from memory; cheap enough for `status()` on any thread."""
        return [
            {
                "roomId": info.room_id,
                "members": info.members,
                "snapshot_bytes": info.snapshot_bytes,
                "pending_updates": info.pending_updates,
                "last_saved": info.last_saved.isoformat() if info.last_saved else None,
            }
            for info in (room.info() for room in self.loaded.loaded())
        ]

    async def list(self) -> list[RoomInfo]:
        """Every stored room, with live numbers for the loaded ones."""
        stored = {info.room_id: info for info in await self.storage.list()}
        for room in self.loaded.loaded():
            stored[room.room_id] = room.info()
        return [stored[room_id] for room_id in sorted(stored)]

    async def doc(self, room_id: str) -> LoroDoc:
        """A copy of the room's document (edits to it go nowhere: use `apply`)."""
        with self.loaded.hold(room_id) as room:
            await self.loaded.ready(room)
            return room.doc.fork()

    async def apply(self, room_id: str, fn: Callable[[LoroDoc], Any]) -> bytes | None:
        """Run `fn` on a copy of the room's doc and sync its changes like a client's update;
        `fn` runs on the server's loop, so keep it short.

        A copy, so that an `fn` that raises changes nothing. Returns the update
        (None when `fn` changed nothing) once it is durable and sent to the room.
        """
        with self.loaded.hold(room_id) as room:
            await self.loaded.ready(room)
            copy = room.doc.fork()
            fn(copy)
            copy.commit()
            if copy.oplog_vv == room.doc.oplog_vv:
                return None
            update = copy.export(ExportMode.Updates(room.doc.oplog_vv))
            await self.loaded.commit(room, update, None)
            return update

    async def apply_update(self, room_id: str, data: bytes) -> None:
        """Import a Loro update or snapshot into the room as if a client had sent it."""
        with self.loaded.hold(room_id) as room:
            await self.loaded.ready(room)
            await self.loaded.commit(room, bytes(data), None)
