"""Room state and the room protocol of `@sqlrooms/crdt`'s `createWebSocketSyncConnector`.

Durability: an update is acknowledged, and relayed to the room, only after the
store has made it durable (see `store`); a room loads as snapshot + log replay,
so a crash loses nothing that was acknowledged. Loro documents are only touched
on the server's event loop. The Python API (`list`, `doc`, `apply`,
`apply_update`) is coroutines on that loop; from another thread, call them
through `SqlroomsServer.call`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from loro import ExportMode, LoroDoc

from .. import protocol
from ..protocol import dumps
from .store import LoadedRoom, RoomError, RoomInfo, RoomStore, is_loro_error

if TYPE_CHECKING:
    from ..session import Session

log = logging.getLogger(__name__)

# Log rows that force a compaction even while edits keep resetting the debounce.
COMPACT_EVERY = 1000
MAX_ROOM_ID = 1024


# -- rooms -----------------------------------------------------------------


@dataclass(eq=False)
class _Room:
    room_id: str
    loaded: asyncio.Future[None]
    doc: LoroDoc = field(default_factory=LoroDoc)
    members: set[Session] = field(default_factory=set)
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


class Rooms:
    """The server's CRDT rooms: the session's `Rooms` plus a Python API, all on the
    server's event loop."""

    def __init__(
        self,
        store: RoomStore,
        loop: asyncio.AbstractEventLoop,
        *,
        allow_client_snapshots: bool,
        save_debounce_ms: int = 500,
    ) -> None:
        self.allow_client_snapshots = allow_client_snapshots
        self.save_debounce = max(0, save_debounce_ms) / 1000
        self.storage = store
        self._loop = loop
        self._rooms: dict[str, _Room] = {}
        self._joined: dict[Session, _Room] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False

    async def start(self) -> None:
        self.storage.watch(self.receive)
        await self.storage.start()

    async def close(self) -> None:
        """Fold every room's log into its snapshot, then stop the writer (before the engine)."""
        self.closing = True
        for room in list(self._rooms.values()):
            if room.timer is not None:
                room.timer.cancel()
                room.timer = None
        pending = [self._compact(room) for room in list(self._rooms.values())]
        await asyncio.gather(*(f for f in pending if f is not None), return_exceptions=True)
        await self.storage.stop()
        for task in list(self._tasks):
            task.cancel()

    # -- session hooks -------------------------------------------------------

    def handle_message(self, session: Session, message: dict[str, Any]) -> None:
        kind = message["type"]
        room_id = message.get("roomId")
        if not isinstance(room_id, str) or not room_id or len(room_id) > MAX_ROOM_ID:
            return session.send_text(protocol.error(f"{kind} needs a non-empty string 'roomId'"))
        try:
            if kind == "crdt-join":
                room = self._room(room_id)
                if self._joined.get(session) is not room:  # one room per connection
                    self.leave(session)
                    self._joined[session] = room  # now, so updates sent right behind route here
                self._spawn(session, room, self._join(session, room))
            elif kind == "crdt-snapshot":
                data = self._client_snapshot_data(message)
                room = self._room(room_id)
                self._spawn(session, room, self._client_snapshot(session, room, data))
            else:
                raise RoomError(f"unknown message type '{kind}'")
        except RoomError as exc:
            session.send_text(protocol.error(str(exc), room_id=room_id))

    def handle_update(self, session: Session, data: bytes) -> None:
        room = self._joined.get(session)
        if room is None:
            return session.send_text(
                protocol.error(
                    "binary frame is not an uploadArrow message and this connection joined no "
                    "CRDT room (send crdt-join first)"
                )
            )
        self._spawn(session, room, self._update(session, room, bytes(data)))

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

    def _merge_remote(self, room: _Room, data: bytes) -> None:
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
        for member in list(room.members):
            if not member.closed:
                member.connection.send(data, binary=True)

    def leave(self, session: Session) -> None:
        room = self._joined.pop(session, None)
        if room is not None:
            room.members.discard(session)
            self._maybe_unload(room)

    # -- protocol ------------------------------------------------------------

    async def _join(self, session: Session, room: _Room) -> None:
        try:
            await self._ready(room)
        except RoomError:
            if self._joined.get(session) is room:
                del self._joined[session]
            raise
        if session.closed or self._joined.get(session) is not room:
            return  # left (or joined another room) while this one loaded
        room.members.add(session)
        snapshot = room.doc.export(ExportMode.Snapshot())
        session.send_text(dumps({"type": "crdt-joined", "roomId": room.room_id}))
        data = base64.b64encode(snapshot).decode("ascii")
        session.send_text(dumps({"type": "crdt-snapshot", "roomId": room.room_id, "data": data}))

    async def _update(self, session: Session, room: _Room, data: bytes) -> None:
        await self._ready(room)
        await self._commit(room, data, session)
        session.send_text(dumps({"type": "crdt-update-ack", "roomId": room.room_id}))

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

    async def _client_snapshot(self, session: Session, room: _Room, data: bytes) -> None:
        """Seed a room that is still empty, e.g. from a browser's local state."""
        await self._ready(room)
        if room.doc.len_changes:
            raise RoomError("room already has state; client snapshot rejected")
        await self._commit(room, data, session)
        session.send_text(dumps({"type": "crdt-snapshot-ack", "roomId": room.room_id}))

    # -- the core ------------------------------------------------------------

    def _commit(self, room: _Room, data: bytes, sender: Session | None) -> asyncio.Future[None]:
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
        written = self.storage.append(room.room_id, room.seq, data)
        room.tail = written
        done: asyncio.Future[None] = self._loop.create_future()

        def persisted(future: asyncio.Future[None]) -> None:
            exc = future.exception()
            if exc is not None:
                log.error("room %r: could not save an update: %s", room.room_id, exc)
                done.set_exception(RoomError(f"could not save the update: {exc}"))
                return
            for member in list(room.members):
                if member is not sender and not member.closed:
                    member.connection.send(data, binary=True)
            done.set_result(None)
            self._schedule_compaction(room)

        written.add_done_callback(persisted)
        return done

    def _room(self, room_id: str) -> _Room:
        room = self._rooms.get(room_id)
        if room is None:
            if self.closing:
                raise RoomError("server is shutting down")
            room = _Room(room_id, self._loop.create_future())
            self._rooms[room_id] = room
            self._load(room_id).add_done_callback(lambda future: self._loaded(room, future))
        return room

    def _load(self, room_id: str) -> asyncio.Future[LoadedRoom]:
        try:
            return self.storage.load(room_id)
        except RoomError as exc:
            failed: asyncio.Future[LoadedRoom] = self._loop.create_future()
            failed.set_exception(exc)
            return failed

    def _loaded(self, room: _Room, future: asyncio.Future[LoadedRoom]) -> None:
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

    async def _ready(self, room: _Room) -> None:
        await asyncio.shield(room.loaded)

    def _schedule_compaction(self, room: _Room) -> None:
        if room.timer is not None:
            room.timer.cancel()
            room.timer = None
        if self.closing:
            return
        if room.seq - room.saving_seq >= COMPACT_EVERY or not self.save_debounce:
            self._compact(room)
        else:
            room.timer = self._loop.call_later(self.save_debounce, self._compact, room)

    def _compact(self, room: _Room) -> asyncio.Future[None] | None:
        """Queue the current snapshot to replace the log rows it covers."""
        if room.timer is not None:
            room.timer.cancel()
            room.timer = None
        if not room.ready or room.seq <= room.saving_seq:
            return None
        snapshot = room.doc.export(ExportMode.Snapshot())
        upto = room.seq
        room.saving_seq = upto
        room.compacting += 1
        written = self.storage.compact(room.room_id, snapshot, upto)

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
            self._maybe_unload(room)

        written.add_done_callback(compacted)
        return written

    def _maybe_unload(self, room: _Room) -> None:
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

    @contextlib.contextmanager
    def _hold(self, room_id: str) -> Iterator[_Room]:
        """The room, kept loaded while the caller uses it."""
        room = self._room(room_id)
        room.busy += 1
        try:
            yield room
        finally:
            room.busy -= 1
            self._maybe_unload(room)

    def _spawn(self, session: Session, room: _Room, work: Coroutine[Any, Any, None]) -> None:
        """Run one request; requests start in arrival order, and loads and appends keep it."""
        room.busy += 1

        async def run() -> None:
            try:
                await work
            except RoomError as exc:
                session.send_text(protocol.error(str(exc), room_id=room.room_id))
            finally:
                room.busy -= 1
                self._maybe_unload(room)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- Python API ------------------------------------------------------------

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
            for info in (room.info() for room in list(self._rooms.values()) if room.ready)
        ]

    async def list(self) -> list[RoomInfo]:
        """Every stored room, with live numbers for the loaded ones."""
        stored = {info.room_id: info for info in await self.storage.list()}
        for room in list(self._rooms.values()):
            if room.ready:
                stored[room.room_id] = room.info()
        return [stored[room_id] for room_id in sorted(stored)]

    async def doc(self, room_id: str) -> LoroDoc:
        """A copy of the room's document (edits to it go nowhere: use `apply`)."""
        with self._hold(room_id) as room:
            await self._ready(room)
            return room.doc.fork()

    async def apply(self, room_id: str, fn: Callable[[LoroDoc], Any]) -> bytes | None:
        """Run `fn` on a copy of the room's doc and sync its changes like a client's update;
        `fn` runs on the server's loop, so keep it short.

        A copy, so that an `fn` that raises changes nothing. Returns the update
        (None when `fn` changed nothing) once it is durable and sent to the room.
        """
        with self._hold(room_id) as room:
            await self._ready(room)
            copy = room.doc.fork()
            fn(copy)
            copy.commit()
            if copy.oplog_vv == room.doc.oplog_vv:
                return None
            update = copy.export(ExportMode.Updates(room.doc.oplog_vv))
            await self._commit(room, update, None)
            return update

    async def apply_update(self, room_id: str, data: bytes) -> None:
        """Import a Loro update or snapshot into the room as if a client had sent it."""
        with self._hold(room_id) as room:
            await self._ready(room)
            await self._commit(room, bytes(data), None)


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
