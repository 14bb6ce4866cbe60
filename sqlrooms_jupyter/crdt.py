"""CRDT rooms (`--sync`): one Loro document per room, shared over the query WebSocket.

Speaks the room protocol of `@sqlrooms/crdt`'s `createWebSocketSyncConnector`.
Durability: an update is acknowledged, and relayed to the room, only after it
is committed to an append-only log table; the log is folded into the room's
snapshot on a debounce and at shutdown, and a room loads as snapshot + log
replay, so a crash loses nothing that was acknowledged. All DuckDB work runs on
one writer thread (FIFO, so per-room order holds, and appends queued together
share one commit). Loro documents are only touched on the server's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
from loro import ExportMode, LoroDoc

from . import protocol
from .protocol import dumps, quote_identifier

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

log = logging.getLogger(__name__)
T = TypeVar("T")

LOG_TABLE = "sync_updates"
# Log rows that force a compaction even while edits keep resetting the debounce.
COMPACT_EVERY = 1000
MAX_ROOM_ID = 1024
_CONFLICT_RETRIES = 5


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


def is_loro_error(exc: BaseException) -> bool:
    """Loro raises bare `BaseException`s (and pyo3 panics); never swallow the real ones."""
    return (
        isinstance(exc, Exception)
        or type(exc) is BaseException
        or type(exc).__name__ == "PanicException"
    )


# -- storage ---------------------------------------------------------------


@dataclass(eq=False)
class _Job:
    kind: str  # "append" | "compact" | "load" | "list"
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


@dataclass
class _Loaded:
    doc: LoroDoc
    seq: int  # highest log seq
    saved_seq: int  # highest seq already in the snapshot
    snapshot_bytes: int | None
    last_saved: datetime | None


class Storage:
    """The one thread that reads and writes the sync tables.

    Jobs run in submission order; consecutive appends share one transaction, so a
    burst of edits costs one commit. Results land on the event loop in order.
    """

    def __init__(self, engine: Engine, loop: asyncio.AbstractEventLoop) -> None:
        namespace = quote_identifier(engine.config.meta_namespace)
        self.rooms_table = f"{namespace}.sync_rooms"
        self.log_table = f"{namespace}.{LOG_TABLE}"
        self._engine = engine
        self._loop = loop
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready: asyncio.Future[None] = loop.create_future()
        self.stopped = False

    async def start(self) -> None:
        """Start the thread once the engine is open; creates the update log table."""
        self._thread = threading.Thread(target=self._run, name="sqlrooms-sync", daemon=True)
        self._thread.start()
        await self._ready

    async def stop(self) -> None:
        """Finish every queued job, then end the thread."""
        if self.stopped:
            return
        self.stopped = True
        self._queue.put(None)
        if self._thread is not None:
            await self._loop.run_in_executor(None, self._thread.join)

    def submit(self, kind: str, *args: Any) -> asyncio.Future[Any]:
        if self.stopped:
            raise RoomError("server is shutting down")
        job = _Job(kind, args, self._loop.create_future())
        self._queue.put(job)
        return job.future

    # -- the thread --------------------------------------------------------

    def _run(self) -> None:
        try:
            cursor = self._engine.connection.cursor()
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.log_table} ("
                "room_id TEXT NOT NULL, seq BIGINT NOT NULL, data BLOB NOT NULL, "
                "created_at TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (room_id, seq))"
            )
        except BaseException as exc:
            self._settle(self._ready, None, exc)
            while (job := self._queue.get()) is not None:
                self._settle(job.future, None, RoomError(f"sync storage unavailable: {exc}"))
            return
        self._settle(self._ready, None, None)
        try:
            while True:
                jobs = [self._queue.get()]
                with contextlib.suppress(queue.Empty):
                    while jobs[-1] is not None:
                        jobs.append(self._queue.get_nowait())
                self._process(cursor, [job for job in jobs if job is not None])
                if jobs[-1] is None:
                    return
        finally:
            cursor.close()

    def _process(self, cursor: duckdb.DuckDBPyConnection, jobs: list[_Job]) -> None:
        start = 0
        while start < len(jobs):
            end = start + 1
            if jobs[start].kind == "append":
                while end < len(jobs) and jobs[end].kind == "append":
                    end += 1
            batch = jobs[start:end]
            start = end
            try:
                result = self._transact(cursor, batch)
            except BaseException as exc:
                log.exception("sync storage: %s failed", batch[0].kind)
                for job in batch:
                    self._settle(job.future, None, exc)
            else:
                for job in batch:
                    self._settle(job.future, result, None)

    def _transact(self, cursor: duckdb.DuckDBPyConnection, batch: list[_Job]) -> Any:
        kind = batch[0].kind
        if kind == "load":
            return self._load(cursor, batch[0].args[0])
        if kind == "list":
            return self._list(cursor)
        for attempt in range(_CONFLICT_RETRIES + 1):
            cursor.begin()
            try:
                if kind == "append":
                    cursor.executemany(
                        f"INSERT INTO {self.log_table} (room_id, seq, data) VALUES (?, ?, ?)",
                        [job.args for job in batch],
                    )
                else:  # compact: the snapshot replaces the log rows it covers
                    room_id, snapshot, upto = batch[0].args
                    cursor.execute(
                        f"INSERT INTO {self.rooms_table} (room_id, snapshot, updated_at) "
                        "VALUES (?, ?, now()) ON CONFLICT (room_id) DO UPDATE SET "
                        "snapshot = excluded.snapshot, updated_at = excluded.updated_at",
                        [room_id, snapshot],
                    )
                    cursor.execute(
                        f"DELETE FROM {self.log_table} WHERE room_id = ? AND seq <= ?",
                        [room_id, upto],
                    )
                cursor.commit()
                return None
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):
                    cursor.rollback()
                if "conflict" not in str(exc).lower() or attempt == _CONFLICT_RETRIES:
                    raise
                time.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    def _load(self, cursor: duckdb.DuckDBPyConnection, room_id: str) -> _Loaded:
        row = cursor.execute(
            f"SELECT snapshot, updated_at FROM {self.rooms_table} WHERE room_id = ?", [room_id]
        ).fetchone()
        updates = cursor.execute(
            f"SELECT seq, data FROM {self.log_table} WHERE room_id = ? ORDER BY seq", [room_id]
        ).fetchall()
        doc = LoroDoc()
        snapshot = row[0] if row else None
        if snapshot:
            doc.import_(snapshot)  # a corrupt snapshot fails the load rather than wipe the room
        for seq, data in updates:
            try:
                doc.import_(data)
            except BaseException as exc:
                if not is_loro_error(exc):
                    raise
                log.warning("room %r: skipping unreadable log entry %d: %s", room_id, seq, exc)
        seq = updates[-1][0] if updates else 0
        return _Loaded(
            doc,
            seq=seq,
            saved_seq=updates[0][0] - 1 if updates else seq,
            snapshot_bytes=len(snapshot) if snapshot is not None else None,
            last_saved=row[1] if row else None,
        )

    def _list(self, cursor: duckdb.DuckDBPyConnection) -> list[RoomInfo]:
        rows = cursor.execute(
            f"SELECT coalesce(r.room_id, u.room_id), octet_length(r.snapshot), r.updated_at, "
            f"coalesce(u.n, 0) FROM {self.rooms_table} r FULL OUTER JOIN "
            f"(SELECT room_id, count(*) AS n FROM {self.log_table} GROUP BY room_id) u "
            "ON r.room_id = u.room_id ORDER BY 1"
        ).fetchall()
        return [RoomInfo(rid, 0, size, pending, saved, False) for rid, size, saved, pending in rows]

    def _settle(self, future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
        def settle() -> None:
            if future.done():
                return
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)

        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(settle)


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
    """The server's CRDT rooms: the session's `Rooms` plus a Python API.

    Session hooks and `a*` methods run on the server's event loop; the plain
    methods (`list`, `doc`, `apply`, `apply_update`) may be called from any
    other thread and hop onto the loop.
    """

    def __init__(
        self,
        engine: Engine,
        loop: asyncio.AbstractEventLoop,
        *,
        allow_client_snapshots: bool,
        save_debounce_ms: int = 500,
    ) -> None:
        self.allow_client_snapshots = allow_client_snapshots
        self.save_debounce = max(0, save_debounce_ms) / 1000
        self.storage = Storage(engine, loop)
        self._loop = loop
        self._rooms: dict[str, _Room] = {}
        self._joined: dict[Session, _Room] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False

    async def start(self) -> None:
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
        written = self.storage.submit("append", room.room_id, room.seq, data)
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
            self.storage.submit("load", room_id).add_done_callback(
                lambda future: self._loaded(room, future)
            )
        return room

    def _loaded(self, room: _Room, future: asyncio.Future[_Loaded]) -> None:
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
        written = self.storage.submit("compact", room.room_id, snapshot, upto)

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

    # -- Python API (on the loop) ----------------------------------------------

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

    async def alist(self) -> list[RoomInfo]:
        """Every stored room, with live numbers for the loaded ones."""
        stored = {info.room_id: info for info in await self.storage.submit("list")}
        for room in list(self._rooms.values()):
            if room.ready:
                stored[room.room_id] = room.info()
        return [stored[room_id] for room_id in sorted(stored)]

    async def adoc(self, room_id: str) -> LoroDoc:
        """A copy of the room's document (edits to it go nowhere: use `apply`)."""
        with self._hold(room_id) as room:
            await self._ready(room)
            return room.doc.fork()

    async def aapply(self, room_id: str, fn: Callable[[LoroDoc], Any]) -> bytes | None:
        """Run `fn` on a copy of the room's doc and sync its changes like a client's update.

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

    async def aapply_update(self, room_id: str, data: bytes) -> None:
        """Import a Loro update or snapshot into the room as if a client had sent it."""
        with self._hold(room_id) as room:
            await self._ready(room)
            await self._commit(room, bytes(data), None)

    # -- Python API (any other thread) -------------------------------------------

    def list(self, timeout: float = 30) -> list[RoomInfo]:
        return self._call(self.alist, timeout=timeout)

    def doc(self, room_id: str, timeout: float = 30) -> LoroDoc:
        return self._call(self.adoc, room_id, timeout=timeout)

    def apply(
        self, room_id: str, fn: Callable[[LoroDoc], Any], timeout: float = 30
    ) -> bytes | None:
        """`aapply` from another thread; `fn` runs on the server's loop, so keep it short."""
        return self._call(self.aapply, room_id, fn, timeout=timeout)

    def apply_update(self, room_id: str, data: bytes, timeout: float = 30) -> None:
        return self._call(self.aapply_update, room_id, data, timeout=timeout)

    def _call(self, method: Callable[..., Coroutine[Any, Any, T]], *args: Any, timeout: float) -> T:
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            raise RuntimeError(
                f"Rooms.{method.__name__.removeprefix('a')}() would block the server's "
                f"event loop; await Rooms.{method.__name__}() instead"
            )
        return asyncio.run_coroutine_threadsafe(method(*args), self._loop).result(timeout)


def _after(tail: asyncio.Future[None] | None) -> asyncio.Future[None]:
    """A future that resolves when `tail` has, whatever its outcome."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    if tail is None or tail.done():
        done.set_result(None)
    else:
        tail.add_done_callback(lambda _: done.done() or done.set_result(None))
    return done
