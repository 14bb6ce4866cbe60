"""Rooms in DuckDB: `sync_rooms` snapshots and the `sync_updates` log (see `metadata`).

All reads and writes run on one thread (FIFO, so per-room order holds), and
appends queued together share one commit: a burst of edits costs one commit.
Results land on the event loop in order.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from ..metadata import MetaTables
from .store import LoadedRoom, RoomError, RoomInfo, RoomStore, build_room

log = logging.getLogger(__name__)

_CONFLICT_RETRIES = 5


@dataclass(eq=False)
class _Job:
    kind: str  # "append" | "compact" | "load" | "list"
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class DuckDBRoomStore(RoomStore):
    def __init__(
        self,
        cursor: Callable[[], duckdb.DuckDBPyConnection],
        meta: MetaTables,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """`cursor()` gives the thread its cursor once `start()` runs (the database is open)."""
        self._cursor = cursor
        self.rooms_table = meta.sync_rooms
        self.log_table = meta.sync_updates
        self._loop = loop
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.stopped = False

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlrooms-sync", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self._queue.put(None)
        if self._thread is not None:
            await self._loop.run_in_executor(None, self._thread.join)

    def load(self, room_id: str) -> asyncio.Future[LoadedRoom]:
        return self._submit("load", room_id)

    def append(self, room_id: str, seq: int, data: bytes) -> asyncio.Future[None]:
        return self._submit("append", room_id, seq, data)

    def compact(self, room_id: str, snapshot: bytes, upto: int) -> asyncio.Future[None]:
        return self._submit("compact", room_id, snapshot, upto)

    def list(self) -> asyncio.Future[builtins.list[RoomInfo]]:
        return self._submit("list")

    def _submit(self, kind: str, *args: Any) -> asyncio.Future[Any]:
        if self.stopped:
            raise RoomError("server is shutting down")
        job = _Job(kind, args, self._loop.create_future())
        self._queue.put(job)
        return job.future

    # -- the thread --------------------------------------------------------

    def _run(self) -> None:
        try:
            cursor = self._cursor()
        except BaseException as exc:
            while (job := self._queue.get()) is not None:
                self._settle(job.future, None, RoomError(f"sync storage unavailable: {exc}"))
            return
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

    def _process(self, cursor: duckdb.DuckDBPyConnection, jobs: builtins.list[_Job]) -> None:
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

    def _transact(self, cursor: duckdb.DuckDBPyConnection, batch: builtins.list[_Job]) -> Any:
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

    def _load(self, cursor: duckdb.DuckDBPyConnection, room_id: str) -> LoadedRoom:
        row = cursor.execute(
            f"SELECT snapshot, updated_at FROM {self.rooms_table} WHERE room_id = ?", [room_id]
        ).fetchone()
        updates = cursor.execute(
            f"SELECT seq, data FROM {self.log_table} WHERE room_id = ? ORDER BY seq", [room_id]
        ).fetchall()
        return build_room(room_id, row[0] if row else None, updates, row[1] if row else None)

    def _list(self, cursor: duckdb.DuckDBPyConnection) -> builtins.list[RoomInfo]:
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
