"""CRDT rooms in PostgreSQL, shared by every replica.

An append is inserted and announced (NOTIFY) in one transaction, so an
acknowledged update is both durable and on its way to the other replicas; small
updates travel in the message itself, larger ones are read back by row id.
The log is keyed by a global row id, not by the room's local seq: a snapshot
folds in exactly the rows it read, under a per-room advisory lock, merged with
the stored snapshot, so compactions by several replicas never drop an update.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import json
import logging
from typing import TYPE_CHECKING, Any

import psycopg
from loro import ExportMode, LoroDoc

from ..crdt.store import (
    LoadedRoom,
    Receive,
    RoomError,
    RoomInfo,
    RoomStore,
    Update,
    build_room,
    is_loro_error,
)
from .link import CRDT_CHANNEL, Link

if TYPE_CHECKING:
    from .postgres import Cluster

log = logging.getLogger(__name__)

INLINE_LIMIT = 6000  # base64 characters of an update sent inside its NOTIFY


class PostgresRoomStore(RoomStore):
    def __init__(self, cluster: Cluster, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.cluster = cluster
        self.rooms_table = cluster.table("sync_rooms")
        self.log_table = cluster.table("sync_updates")
        self._link = Link(cluster.url)
        self._read = Link(cluster.url)  # updates named by other replicas' messages
        self._receive: Receive | None = None
        self._loaded: set[str] = set()  # rooms read here: caught up after an outage

    def watch(self, receive: Receive) -> None:
        self._receive = receive

    async def open(self) -> None:
        self.cluster.on_reconnect.append(self._catch_up)

    async def close(self) -> None:
        await self._link.close()
        await self._read.close()

    async def failed(self, kind: str, exc: BaseException) -> BaseException:
        if not isinstance(exc, (psycopg.Error, OSError)):
            return await super().failed(kind, exc)
        log.error("cluster rooms: %s failed: %s", kind, exc)
        await self._link.close()
        return RoomError(f"cluster storage unavailable: {exc}")

    # -- from other replicas ---------------------------------------------------

    def remote(self, room_id: str, data: bytes) -> None:
        if self._receive is not None:
            self._receive(room_id, data)

    async def fetch_remote(self, room_id: str, row_id: int) -> None:
        conn = await self._read.get()
        cursor = await conn.execute(f"SELECT data FROM {self.log_table} WHERE id = %s", [row_id])
        row = await cursor.fetchone()
        if row is not None:
            self.remote(room_id, bytes(row[0]))
        else:  # compacted meanwhile: the snapshot has it
            self.remote(room_id, await self._room_state(conn, room_id))

    async def _catch_up(self) -> None:
        """After an outage: messages may have been missed, so merge every room read here."""
        conn = await self._read.get()
        for room_id in sorted(self._loaded):
            self.remote(room_id, await self._room_state(conn, room_id))

    async def _room_state(self, conn: psycopg.AsyncConnection[Any], room_id: str) -> bytes:
        room = build_room(room_id, *await self._read_room(conn, room_id))
        return bytes(room.doc.export(ExportMode.Snapshot()))

    # -- the operations (run by `RoomStore`'s writer, one at a time) -------------

    async def read_room(self, room_id: str) -> LoadedRoom:
        snapshot, updates, saved = await self._read_room(await self._link.get(), room_id)
        self._loaded.add(room_id)
        return build_room(room_id, snapshot, updates, saved)

    async def read_list(self) -> builtins.list[RoomInfo]:
        return await self._list(await self._link.get())

    async def write_updates(self, updates: builtins.list[Update]) -> None:
        """The log is keyed by a global row id: the room's local seq is not stored."""
        conn = await self._link.get()
        async with conn.transaction():
            for room_id, _seq, data in updates:
                await self._append(conn, room_id, data)

    async def write_snapshot(self, room_id: str, snapshot: bytes, upto: int) -> None:
        """Merges every log row it finds, so `upto` (a local seq) is not needed."""
        await self._compact(await self._link.get(), room_id, snapshot)

    async def _append(self, conn: psycopg.AsyncConnection[Any], room_id: str, data: bytes) -> None:
        cursor = await conn.execute(
            f"INSERT INTO {self.log_table} (room_id, data) VALUES (%s, %s) RETURNING id",
            [room_id, data],
        )
        row = await cursor.fetchone()
        assert row is not None
        message: dict[str, Any] = {"n": self.cluster.node, "r": room_id, "i": row[0]}
        encoded = base64.b64encode(data).decode("ascii")
        if len(encoded) <= INLINE_LIMIT:
            message["d"] = encoded
        await conn.execute(
            "SELECT pg_notify(%s, %s)", [CRDT_CHANNEL, json.dumps(message, separators=(",", ":"))]
        )

    async def _read_room(
        self, conn: psycopg.AsyncConnection[Any], room_id: str
    ) -> tuple[bytes | None, builtins.list[tuple[int, bytes]], Any]:
        """Snapshot, log (numbered 1.. as the room's local seqs) and when it was saved."""
        async with conn.transaction():  # one consistent view of snapshot and log
            cursor = await conn.execute(
                f"SELECT snapshot, updated_at FROM {self.rooms_table} WHERE room_id = %s",
                [room_id],
            )
            row = await cursor.fetchone()
            cursor = await conn.execute(
                f"SELECT data FROM {self.log_table} WHERE room_id = %s ORDER BY id", [room_id]
            )
            updates = [(seq, bytes(data)) for seq, (data,) in enumerate(await cursor.fetchall(), 1)]
        snapshot = bytes(row[0]) if row and row[0] is not None else None
        return snapshot, updates, row[1] if row else None

    async def _compact(
        self, conn: psycopg.AsyncConnection[Any], room_id: str, snapshot: bytes
    ) -> None:
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"sqlrooms-room:{room_id}"],
            )
            cursor = await conn.execute(
                f"SELECT snapshot FROM {self.rooms_table} WHERE room_id = %s", [room_id]
            )
            stored = await cursor.fetchone()
            cursor = await conn.execute(
                f"SELECT id, data FROM {self.log_table} WHERE room_id = %s ORDER BY id", [room_id]
            )
            rows = await cursor.fetchall()
            parts = [snapshot] + ([bytes(stored[0])] if stored and stored[0] else [])
            parts += [bytes(data) for _, data in rows]
            merged = await self.loop.run_in_executor(None, _merge, parts)
            await conn.execute(
                f"INSERT INTO {self.rooms_table} (room_id, snapshot, updated_at) "
                "VALUES (%s, %s, now()) ON CONFLICT (room_id) DO UPDATE SET "
                "snapshot = excluded.snapshot, updated_at = excluded.updated_at",
                [room_id, merged],
            )
            await conn.execute(
                f"DELETE FROM {self.log_table} WHERE id = ANY(%s)", [[row_id for row_id, _ in rows]]
            )

    async def _list(self, conn: psycopg.AsyncConnection[Any]) -> builtins.list[RoomInfo]:
        cursor = await conn.execute(
            f"SELECT coalesce(r.room_id, u.room_id), octet_length(r.snapshot), r.updated_at, "
            f"coalesce(u.n, 0) FROM {self.rooms_table} r FULL OUTER JOIN "
            f"(SELECT room_id, count(*) AS n FROM {self.log_table} GROUP BY room_id) u "
            "ON r.room_id = u.room_id ORDER BY 1"
        )
        rows = await cursor.fetchall()
        return [RoomInfo(rid, 0, size, pending, saved, False) for rid, size, saved, pending in rows]


def _merge(parts: builtins.list[bytes]) -> bytes:
    """One snapshot holding every part (Loro imports are idempotent and commute)."""
    doc = LoroDoc()  # type: ignore[no-untyped-call]
    for part in parts:
        try:
            doc.import_(part)
        except BaseException as exc:
            if not is_loro_error(exc):
                raise
            log.warning("cluster rooms: compaction skips an unreadable part: %s", exc)
    return bytes(doc.export(ExportMode.Snapshot()))
