"""The room protocol of `@sqlrooms/crdt`'s `createWebSocketSyncConnector`, per participant.

In: `crdt-join`, `crdt-snapshot` (seed an empty room) and binary Loro updates.
Out: `crdt-joined` + `crdt-snapshot`, `crdt-update-ack`, `crdt-snapshot-ack`,
the other members' updates, and errors with the `roomId`. One room per connection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Coroutine
from typing import Any

from loro import ExportMode

from .. import protocol
from ..protocol import dumps
from .lifecycle import LoadedRooms
from .room import Participant, Room
from .store import RoomError

MAX_ROOM_ID = 1024


class RoomWire:
    def __init__(self, rooms: LoadedRooms, *, allow_client_snapshots: bool) -> None:
        self.rooms = rooms
        self.allow_client_snapshots = allow_client_snapshots
        self._joined: dict[Participant, Room] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def cancel(self) -> None:
        """Drop the requests still running (once the store has stopped)."""
        for task in list(self._tasks):
            task.cancel()

    def handle_message(self, participant: Participant, message: dict[str, Any]) -> None:
        """A `crdt-*` JSON message."""
        kind = message["type"]
        room_id = message.get("roomId")
        if not isinstance(room_id, str) or not room_id or len(room_id) > MAX_ROOM_ID:
            return participant.send_text(
                protocol.error(f"{kind} needs a non-empty string 'roomId'")
            )
        try:
            if kind == "crdt-join":
                room = self.rooms.get(room_id)
                if self._joined.get(participant) is not room:  # one room per connection
                    self.leave(participant)
                    self._joined[participant] = room  # now, so updates sent right behind route here
                self._spawn(participant, room, self._join(participant, room))
            elif kind == "crdt-snapshot":
                data = self._client_snapshot_data(message)
                room = self.rooms.get(room_id)
                self._spawn(participant, room, self._client_snapshot(participant, room, data))
            else:
                raise RoomError(f"unknown message type '{kind}'")
        except RoomError as exc:
            participant.send_text(protocol.error(str(exc), room_id=room_id))

    def handle_update(self, participant: Participant, data: bytes) -> None:
        """A binary frame that is not an uploadArrow message: an update to the joined room."""
        room = self._joined.get(participant)
        if room is None:
            return participant.send_text(
                protocol.error(
                    "binary frame is not an uploadArrow message and this connection joined no "
                    "CRDT room (send crdt-join first)"
                )
            )
        self._spawn(participant, room, self._update(participant, room, bytes(data)))

    def leave(self, participant: Participant) -> None:
        """The participant closed (or joins another room)."""
        room = self._joined.pop(participant, None)
        if room is not None:
            room.members.discard(participant)
            self.rooms.maybe_unload(room)

    async def _join(self, participant: Participant, room: Room) -> None:
        try:
            await self.rooms.ready(room)
        except RoomError:
            if self._joined.get(participant) is room:
                del self._joined[participant]
            raise
        if participant.closed or self._joined.get(participant) is not room:
            return  # left (or joined another room) while this one loaded
        room.members.add(participant)
        snapshot = room.doc.export(ExportMode.Snapshot())
        participant.send_text(dumps({"type": "crdt-joined", "roomId": room.room_id}))
        data = base64.b64encode(snapshot).decode("ascii")
        participant.send_text(
            dumps({"type": "crdt-snapshot", "roomId": room.room_id, "data": data})
        )

    async def _update(self, participant: Participant, room: Room, data: bytes) -> None:
        await self.rooms.ready(room)
        await self.rooms.commit(room, data, participant)
        participant.send_text(dumps({"type": "crdt-update-ack", "roomId": room.room_id}))

    def _client_snapshot_data(self, message: dict[str, Any]) -> bytes:
        if not self.allow_client_snapshots:
            raise RoomError(
                "client snapshots are disabled on this server (start it with "
                "--allow-client-snapshots)"
            )
        try:
            return base64.b64decode(message.get("data") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise RoomError("invalid crdt-snapshot: 'data' must be a base64 string") from None

    async def _client_snapshot(self, participant: Participant, room: Room, data: bytes) -> None:
        """Seed a room that is still empty, e.g. from a browser's local state."""
        await self.rooms.ready(room)
        if room.doc.len_changes:
            raise RoomError("room already has state; client snapshot rejected")
        await self.rooms.commit(room, data, participant)
        participant.send_text(dumps({"type": "crdt-snapshot-ack", "roomId": room.room_id}))

    def _spawn(self, participant: Participant, room: Room, work: Coroutine[Any, Any, None]) -> None:
        """Run one request; requests start in arrival order, and loads and appends keep it."""
        self.rooms.use(room)

        async def run() -> None:
            try:
                await work
            except RoomError as exc:
                participant.send_text(protocol.error(str(exc), room_id=room.room_id))
            finally:
                self.rooms.release(room)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
