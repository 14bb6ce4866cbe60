"""The rooms loaded on this server: load, durable commit, compaction, unloading, merge.

Durability: an update is acknowledged, and relayed to the room, only after the
store has made it durable (see `store`); a room loads as snapshot + log replay,
so a crash loses nothing that was acknowledged. Loro documents are only touched
on the server's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timezone

from loro import ExportMode, LoroDoc

from .room import Participant, Room
from .store import LoadedRoom, RoomError, RoomStore, is_loro_error

log = logging.getLogger(__name__)

# Log rows that force a compaction even while edits keep resetting the debounce.
COMPACT_EVERY = 1000


class LoadedRooms:
    def __init__(
        self, store: RoomStore, loop: asyncio.AbstractEventLoop, *, save_debounce_ms: int = 500
    ) -> None:
        self.store = store
        self.save_debounce = max(0, save_debounce_ms) / 1000
        self.closing = False
        self._loop = loop
        self._rooms: dict[str, Room] = {}

    def loaded(self) -> list[Room]:
        """The rooms whose load has succeeded."""
        return [room for room in list(self._rooms.values()) if room.ready]

    async def close(self) -> None:
        """Fold every room's log into its snapshot, then stop the store."""
        self.closing = True
        for room in list(self._rooms.values()):
            _cancel_timer(room)
        pending = [self._compact(room) for room in list(self._rooms.values())]
        await asyncio.gather(*(f for f in pending if f is not None), return_exceptions=True)
        await self.store.stop()

    # -- loading and unloading -------------------------------------------------

    def get(self, room_id: str) -> Room:
        """The room, loading it if it is not loaded (await `ready` before using it)."""
        room = self._rooms.get(room_id)
        if room is None:
            if self.closing:
                raise RoomError("server is shutting down")
            room = Room(room_id, self._loop.create_future())
            self._rooms[room_id] = room
            self._load(room_id).add_done_callback(lambda future: self._loaded(room, future))
        return room

    async def ready(self, room: Room) -> None:
        """Once the room is loaded; raises `RoomError` when it could not be."""
        await asyncio.shield(room.loaded)

    def use(self, room: Room) -> None:
        """Keep the room loaded until `release`."""
        room.busy += 1

    def release(self, room: Room) -> None:
        room.busy -= 1
        self.maybe_unload(room)

    @contextlib.contextmanager
    def hold(self, room_id: str) -> Iterator[Room]:
        """The room, kept loaded while the caller uses it."""
        room = self.get(room_id)
        self.use(room)
        try:
            yield room
        finally:
            self.release(room)

    def maybe_unload(self, room: Room) -> None:
        """Forget an idle room once everything it holds is in its stored snapshot."""
        if (
            not room.members
            and not room.busy
            and room.ready
            and room.seq == room.saved_seq
            and not room.compacting
            and room.timer is None
            and (room.tail is None or room.tail.done())
            and self._rooms.get(room.room_id) is room
        ):
            del self._rooms[room.room_id]

    def _load(self, room_id: str) -> asyncio.Future[LoadedRoom]:
        try:
            return self.store.load(room_id)
        except RoomError as exc:
            failed: asyncio.Future[LoadedRoom] = self._loop.create_future()
            failed.set_exception(exc)
            return failed

    def _loaded(self, room: Room, future: asyncio.Future[LoadedRoom]) -> None:
        exc = future.exception()
        if exc is not None:
            log.error("room %r could not be loaded: %s", room.room_id, exc)
            if self._rooms.get(room.room_id) is room:
                del self._rooms[room.room_id]
            room.loaded.set_exception(RoomError(f"could not load room '{room.room_id}': {exc}"))
            room.loaded.exception()  # retrieved: joiners get it, nobody else must
            return
        loaded = future.result()
        room.doc = loaded.doc
        room.seq = loaded.seq
        room.saved_seq = room.saving_seq = loaded.saved_seq
        room.snapshot_bytes = loaded.snapshot_bytes
        room.last_saved = loaded.last_saved
        room.loaded.set_result(None)
        if room.seq > room.saved_seq:  # left over from a crash: fold it in soon
            self._schedule_compaction(room)

    # -- changes ---------------------------------------------------------------

    def commit(self, room: Room, data: bytes, sender: Participant | None) -> asyncio.Future[None]:
        """Import `data` now (so it is validated and ordered), then log it durably.

        The returned future resolves once the change is committed, and the
        other members have been sent it; it fails when the change is refused.
        """
        if self.closing:
            raise RoomError("server is shutting down")
        doc = room.doc
        before = doc.oplog_vv
        try:
            meta = LoroDoc.decode_import_blob_meta(data, True)
            if not before.includes_vv(meta.partial_start_vv):
                raise RoomError(
                    "CRDT update depends on changes this room does not have; rejoin to resync"
                )
            status = doc.import_(data)
        except RoomError:
            raise
        except BaseException as exc:
            if not is_loro_error(exc):
                raise
            raise RoomError(f"invalid CRDT update: {exc}") from None
        if status.pending is not None:
            # Dependencies the check above cannot see (another peer's changes): Loro holds
            # the change back until they arrive. Logged and relayed all the same, so that
            # a replay rebuilds exactly this document.
            log.warning("room %r: an update waits for changes the room does not have", room.room_id)
        elif doc.oplog_vv == before:  # nothing new: durable once the room's earlier appends are
            return _after(room.tail)
        room.seq += 1
        written = self.store.append(room.room_id, room.seq, data)
        room.tail = written
        done: asyncio.Future[None] = self._loop.create_future()

        def persisted(future: asyncio.Future[None]) -> None:
            exc = future.exception()
            if exc is not None:
                log.error("room %r: could not save an update: %s", room.room_id, exc)
                done.set_exception(RoomError(f"could not save the update: {exc}"))
                return
            room.relay(data, sender)
            done.set_result(None)
            self._schedule_compaction(room)

        written.add_done_callback(persisted)
        return done

    def receive(self, room_id: str, data: bytes) -> None:
        """An update that another server committed to the shared store: merge it into
        the room, if loaded here, and pass it on to the members here."""
        room = self._rooms.get(room_id)
        if room is None:
            return  # not loaded here: the store has it for the next load
        if not room.loaded.done():  # the load may have missed it: merge it after
            room.loaded.add_done_callback(lambda _: self._merge_remote(room, data))
        else:
            self._merge_remote(room, data)

    def _merge_remote(self, room: Room, data: bytes) -> None:
        if not room.ready or self._rooms.get(room.room_id) is not room:
            return
        before = room.doc.oplog_vv
        try:
            room.doc.import_(data)
        except BaseException as exc:
            if not is_loro_error(exc):
                raise
            log.warning(
                "room %r: skipping an unreadable update from the store: %s", room.room_id, exc
            )
            return
        if room.doc.oplog_vv == before:
            return  # one we had (our own, or in what the load read)
        room.relay(data)

    # -- compaction --------------------------------------------------------------

    def _schedule_compaction(self, room: Room) -> None:
        _cancel_timer(room)
        if self.closing:
            return
        if room.seq - room.saving_seq >= COMPACT_EVERY or not self.save_debounce:
            self._compact(room)
        else:
            room.timer = self._loop.call_later(self.save_debounce, self._compact, room)

    def _compact(self, room: Room) -> asyncio.Future[None] | None:
        """Queue the current snapshot to replace the log rows it covers."""
        _cancel_timer(room)
        if not room.ready or room.seq <= room.saving_seq:
            return None
        snapshot = room.doc.export(ExportMode.Snapshot())
        upto = room.seq
        room.saving_seq = upto
        room.compacting += 1
        written = self.store.compact(room.room_id, snapshot, upto)

        def compacted(future: asyncio.Future[None]) -> None:
            room.compacting -= 1
            if future.exception() is not None:
                log.error("room %r: compaction failed: %s", room.room_id, future.exception())
                room.saving_seq = room.saved_seq
                if not self.closing and room.timer is None:  # retry; the log keeps it safe
                    delay = max(1.0, self.save_debounce)
                    room.timer = self._loop.call_later(delay, self._compact, room)
                return
            room.saved_seq = max(room.saved_seq, upto)
            room.snapshot_bytes = len(snapshot)
            room.last_saved = datetime.now(timezone.utc)
            self.maybe_unload(room)

        written.add_done_callback(compacted)
        return written


def _cancel_timer(room: Room) -> None:
    if room.timer is not None:
        room.timer.cancel()
        room.timer = None


def _after(tail: asyncio.Future[None] | None) -> asyncio.Future[None]:
    """A future that resolves when `tail` has, whatever its outcome."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    if tail is None or tail.done():
        done.set_result(None)
    else:

        def resolve(_: asyncio.Future[None]) -> None:
            if not done.done():
                done.set_result(None)

        tail.add_done_callback(resolve)
    return done
