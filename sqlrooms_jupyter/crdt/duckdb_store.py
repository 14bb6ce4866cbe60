"""Rooms in DuckDB: `sync_rooms` snapshots and the `sync_updates` log (see `db/meta_tables`).

Every operation runs on one thread of its own with one cursor, so the server's
loop never waits on a commit; the queue and the batching are `RoomStore`'s.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import duckdb

from ..db.meta_tables import MetaTables
from .store import LoadedRoom, RoomInfo, RoomStore, Update, build_room

_CONFLICT_RETRIES = 5

T = TypeVar("T")


class DuckDBRoomStore(RoomStore):
    def __init__(
        self,
        cursor: Callable[[], duckdb.DuckDBPyConnection],
        meta: MetaTables,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """`cursor()` gives the thread its cursor once `start()` runs (the database is open)."""
        super().__init__(loop)
        self._new_cursor = cursor
        self.rooms_table = meta.sync_rooms
        self.log_table = meta.sync_updates
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlrooms-sync")
        self._cursor: duckdb.DuckDBPyConnection | None = None

    async def open(self) -> None:
        self._cursor = await self._on_thread(self._new_cursor)

    async def close(self) -> None:
        if self._cursor is not None:
            await self._on_thread(self._cursor.close)
        self._thread.shutdown(wait=False)

    def _on_thread(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        return self.loop.run_in_executor(self._thread, fn, *args)

    @property
    def cursor(self) -> duckdb.DuckDBPyConnection:
        assert self._cursor is not None, "used before open()"
        return self._cursor

    # -- the operations (each on the thread) ----------------------------------

    async def read_room(self, room_id: str) -> LoadedRoom:
        return await self._on_thread(self._read_room, room_id)

    async def write_updates(self, updates: builtins.list[Update]) -> None:
        insert = f"INSERT INTO {self.log_table} (room_id, seq, data) VALUES (?, ?, ?)"
        await self._on_thread(self._transact, lambda c: c.executemany(insert, updates))

    async def write_snapshot(self, room_id: str, snapshot: bytes, upto: int) -> None:
        def replace(cursor: duckdb.DuckDBPyConnection) -> None:
            cursor.execute(
                f"INSERT INTO {self.rooms_table} (room_id, snapshot, updated_at) "
                "VALUES (?, ?, now()) ON CONFLICT (room_id) DO UPDATE SET "
                "snapshot = excluded.snapshot, updated_at = excluded.updated_at",
                [room_id, snapshot],
            )
            cursor.execute(
                f"DELETE FROM {self.log_table} WHERE room_id = ? AND seq <= ?", [room_id, upto]
            )

        await self._on_thread(self._transact, replace)

    async def read_list(self) -> builtins.list[RoomInfo]:
        return await self._on_thread(self._read_list)

    def _transact(self, work: Callable[[duckdb.DuckDBPyConnection], object]) -> None:
        """One transaction, retried on a write-write conflict with another cursor."""
        cursor = self.cursor
        for attempt in range(_CONFLICT_RETRIES + 1):
            cursor.begin()
            try:
                work(cursor)
                cursor.commit()
                return
            except duckdb.Error as exc:
                with contextlib.suppress(duckdb.Error):
                    cursor.rollback()
                if "conflict" not in str(exc).lower() or attempt == _CONFLICT_RETRIES:
                    raise
                time.sleep(0.01 * 2**attempt)

    def _read_room(self, room_id: str) -> LoadedRoom:
        row = self.cursor.execute(
            f"SELECT snapshot, updated_at FROM {self.rooms_table} WHERE room_id = ?", [room_id]
        ).fetchone()
        updates = self.cursor.execute(
            f"SELECT seq, data FROM {self.log_table} WHERE room_id = ? ORDER BY seq", [room_id]
        ).fetchall()
        return build_room(room_id, row[0] if row else None, updates, row[1] if row else None)

    def _read_list(self) -> builtins.list[RoomInfo]:
        rows = self.cursor.execute(
            f"SELECT coalesce(r.room_id, u.room_id), octet_length(r.snapshot), r.updated_at, "
            f"coalesce(u.n, 0) FROM {self.rooms_table} r FULL OUTER JOIN "
            f"(SELECT room_id, count(*) AS n FROM {self.log_table} GROUP BY room_id) u "
            "ON r.room_id = u.room_id ORDER BY 1"
        ).fetchall()
        return [RoomInfo(rid, 0, size, pending, saved, False) for rid, size, saved, pending in rows]
