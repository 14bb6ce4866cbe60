"""crdt.duckdb_store: durable appends, batching, compaction, load = snapshot + replay, list."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from loro import ExportMode, LoroDoc

from sqlrooms_jupyter.crdt.duckdb_store import DuckDBRoomStore
from sqlrooms_jupyter.crdt.store import RoomError
from sqlrooms_jupyter.db.meta_tables import MetaTables

META = MetaTables()


# LoroDoc has no type hints; a typed name for its constructor keeps strict mypy quiet.
new_doc: Callable[[], LoroDoc] = LoroDoc


def _record(order: list[str], label: str, _: object) -> None:
    order.append(label)


class Editor:
    """A Loro document that hands out each edit as an update."""

    def __init__(self) -> None:
        self.doc = new_doc()

    def edit(self, text: str) -> bytes:
        before = self.doc.oplog_vv
        target = self.doc.get_text("t")
        target.insert(len(target.to_string()), text)
        self.doc.commit()
        return bytes(self.doc.export(ExportMode.Updates(before)))

    def snapshot(self) -> bytes:
        return bytes(self.doc.export(ExportMode.Snapshot()))


def _text(doc: LoroDoc) -> str:
    return str(doc.get_text("t").to_string())


def _run(
    con: duckdb.DuckDBPyConnection,
    scenario: Callable[[DuckDBRoomStore], Awaitable[Any]],
    start_first: bool = True,
) -> Any:
    async def main() -> Any:
        store = DuckDBRoomStore(con.cursor, META, asyncio.get_running_loop())
        if start_first:
            await store.start()
        try:
            return await scenario(store)
        finally:
            await store.stop()

    return asyncio.run(main())


@pytest.fixture
def con(tmp_path: Path) -> Any:
    connection = duckdb.connect(str(tmp_path / "rooms.db"))
    META.create(connection)
    yield connection
    connection.close()


def _log(con: duckdb.DuckDBPyConnection, room: str = "r") -> list[int]:
    rows = con.execute(
        f"SELECT seq FROM {META.sync_updates} WHERE room_id = ? ORDER BY seq", [room]
    ).fetchall()
    return [row[0] for row in rows]


def test_an_append_is_committed_when_its_future_resolves(con: duckdb.DuckDBPyConnection) -> None:
    editor = Editor()

    async def scenario(store: DuckDBRoomStore) -> list[int]:
        seen = []
        for seq in (1, 2, 3):
            await store.append("r", seq, editor.edit(str(seq)))
            seen.append(_log(con)[-1])  # visible to another connection at once
        return seen

    assert _run(con, scenario) == [1, 2, 3]


def test_futures_resolve_in_call_order(con: duckdb.DuckDBPyConnection) -> None:
    editor = Editor()

    async def scenario(store: DuckDBRoomStore) -> list[str]:
        order: list[str] = []
        futures = []
        for seq in range(1, 21):
            future = store.append("r", seq, editor.edit("x"))
            future.add_done_callback(functools.partial(_record, order, f"append {seq}"))
            futures.append(future)
        listing = store.list()
        listing.add_done_callback(functools.partial(_record, order, "list"))
        await asyncio.gather(*futures, listing)
        return order

    assert _run(con, scenario) == [f"append {seq}" for seq in range(1, 21)] + ["list"]


def test_appends_queued_together_share_one_transaction(con: duckdb.DuckDBPyConnection) -> None:
    """Jobs queued before the thread runs are taken in one drain: consecutive appends
    form one batch (one commit), so one bad append fails its whole batch and no other."""
    editor = Editor()

    async def scenario(store: DuckDBRoomStore) -> tuple[list[Any], Any, Any]:
        batch = [store.append("r", seq, editor.edit("a")) for seq in (1, 2, 1)]
        loaded = store.load("r")
        after = store.append("r", 3, editor.edit("b"))
        await store.start()
        outcomes = await asyncio.gather(*batch, return_exceptions=True)
        await after
        return outcomes, await loaded, after.result()

    outcomes, loaded, after = _run(con, scenario, start_first=False)
    assert all(isinstance(o, duckdb.ConstraintException) for o in outcomes)
    assert loaded.seq == 0 and _text(loaded.doc) == ""  # the whole batch rolled back
    assert after is None
    assert _log(con) == [3]


def test_compact_replaces_the_rows_it_covers(con: duckdb.DuckDBPyConnection) -> None:
    editor = Editor()

    async def scenario(store: DuckDBRoomStore) -> Any:
        for seq, text in enumerate("abc", start=1):
            await store.append("r", seq, editor.edit(text))
        covered = new_doc()
        covered.import_(editor.snapshot())  # state after seq 3
        await store.append("r", 4, editor.edit("d"))
        await store.compact("r", bytes(covered.export(ExportMode.Snapshot())), 3)
        return await store.load("r")

    loaded = _run(con, scenario)
    assert _log(con) == [4]
    assert con.execute(f"SELECT count(*) FROM {META.sync_rooms}").fetchall() == [(1,)]
    assert _text(loaded.doc) == "abcd"  # snapshot plus the replayed update
    assert (loaded.seq, loaded.saved_seq) == (4, 3)
    assert loaded.snapshot_bytes and loaded.last_saved is not None


def test_a_second_compact_replaces_the_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    editor = Editor()

    async def scenario(store: DuckDBRoomStore) -> Any:
        await store.append("r", 1, editor.edit("a"))
        await store.compact("r", editor.snapshot(), 1)
        await store.append("r", 2, editor.edit("b"))
        await store.compact("r", editor.snapshot(), 2)
        return await store.load("r")

    loaded = _run(con, scenario)
    assert _log(con) == []
    assert _text(loaded.doc) == "ab" and (loaded.seq, loaded.saved_seq) == (0, 0)


def test_an_unknown_room_loads_empty(con: duckdb.DuckDBPyConnection) -> None:
    async def scenario(store: DuckDBRoomStore) -> Any:
        return await store.load("nobody")

    loaded = _run(con, scenario)
    assert _text(loaded.doc) == "" and loaded.seq == 0 and loaded.snapshot_bytes is None


def test_an_unreadable_log_entry_is_skipped_on_load(con: duckdb.DuckDBPyConnection) -> None:
    editor = Editor()

    async def scenario(store: DuckDBRoomStore) -> Any:
        await store.append("r", 1, editor.edit("a"))
        await store.append("r", 2, b"\x00not a loro update")
        await store.append("r", 3, editor.edit("b"))
        return await store.load("r")

    loaded = _run(con, scenario)
    assert _text(loaded.doc) == "ab" and loaded.seq == 3


def test_an_unreadable_snapshot_fails_the_load(con: duckdb.DuckDBPyConnection) -> None:
    async def scenario(store: DuckDBRoomStore) -> Any:
        await store.compact("r", b"garbage", 0)
        return await asyncio.gather(store.load("r"), return_exceptions=True)

    (outcome,) = _run(con, scenario)
    assert isinstance(outcome, BaseException)


def test_list_reports_snapshots_and_pending_updates(con: duckdb.DuckDBPyConnection) -> None:
    one, two = Editor(), Editor()

    async def scenario(store: DuckDBRoomStore) -> Any:
        await store.append("only-log", 1, one.edit("a"))
        await store.append("only-log", 2, one.edit("b"))
        await store.append("both", 1, two.edit("x"))
        await store.compact("both", two.snapshot(), 1)
        await store.append("both", 2, two.edit("y"))
        return await store.list()

    rooms = {info.room_id: info for info in _run(con, scenario)}
    assert sorted(rooms) == ["both", "only-log"]
    assert rooms["only-log"].pending_updates == 2 and rooms["only-log"].snapshot_bytes is None
    assert rooms["both"].pending_updates == 1 and rooms["both"].snapshot_bytes
    assert rooms["both"].last_saved is not None
    assert all(info.members == 0 and not info.loaded for info in rooms.values())


def test_stop_finishes_queued_jobs_then_refuses_new_ones(con: duckdb.DuckDBPyConnection) -> None:
    editor = Editor()

    async def scenario(store: DuckDBRoomStore) -> list[Any]:
        futures = [store.append("r", seq, editor.edit("z")) for seq in range(1, 51)]
        await store.stop()
        with pytest.raises(RoomError, match="shutting down"):
            store.append("r", 51, b"late")
        return [f.result() for f in futures]

    assert _run(con, scenario) == [None] * 50
    assert _log(con) == list(range(1, 51))


def test_a_restart_on_the_same_file_restores_every_acknowledged_update(tmp_path: Path) -> None:
    path = str(tmp_path / "durable.db")
    editor = Editor()

    def session(scenario: Callable[[DuckDBRoomStore], Awaitable[Any]]) -> Any:
        connection = duckdb.connect(path)
        try:
            META.create(connection)
            return _run(connection, scenario)
        finally:
            connection.close()

    async def write(store: DuckDBRoomStore) -> None:
        await store.append("r", 1, editor.edit("hello"))
        await store.compact("r", editor.snapshot(), 1)
        await store.append("r", 2, editor.edit(" world"))

    async def read(store: DuckDBRoomStore) -> Any:
        return await store.load("r")

    session(write)
    loaded = session(read)
    assert _text(loaded.doc) == "hello world" and (loaded.seq, loaded.saved_seq) == (2, 1)


def test_storage_that_cannot_open_fails_every_job() -> None:
    def broken() -> duckdb.DuckDBPyConnection:
        raise duckdb.IOException("disk gone")

    async def main() -> list[Any]:
        store = DuckDBRoomStore(broken, META, asyncio.get_running_loop())
        await store.start()
        jobs: list[asyncio.Future[Any]] = [
            store.append("r", 1, b"x"),
            store.load("r"),
            store.list(),
        ]
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        await store.stop()
        return outcomes

    outcomes = asyncio.run(main())
    assert all(isinstance(o, RoomError) and "unavailable" in str(o) for o in outcomes)
