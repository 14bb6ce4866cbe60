"""crdt.rooms, wire and lifecycle: the room protocol and the rooms' durability, driven
by fake participants against a real DuckDB store on a temporary file."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
from loro import ExportMode, LoroDoc

from sqlrooms_jupyter.crdt import RoomError, Rooms
from sqlrooms_jupyter.crdt.duckdb_store import DuckDBRoomStore
from sqlrooms_jupyter.db.meta_tables import MetaTables

META = MetaTables()
TIMEOUT = 10.0

# LoroDoc has no type hints; a typed name for its constructor keeps strict mypy quiet.
new_doc: Callable[[], LoroDoc] = LoroDoc


class FakeParticipant:
    """What a session offers the rooms; every frame it is sent lands in a queue."""

    def __init__(self) -> None:
        self.closed = False
        self.frames: asyncio.Queue[dict[str, Any] | bytes] = asyncio.Queue()
        self.doc = new_doc()

    @property
    def connection(self) -> FakeParticipant:
        return self

    def send_text(self, text: str) -> None:
        self.frames.put_nowait(json.loads(text))

    def send(self, data: bytes, *, binary: bool) -> None:
        assert binary
        self.frames.put_nowait(bytes(data))

    async def next(self) -> dict[str, Any] | bytes:
        return await asyncio.wait_for(self.frames.get(), TIMEOUT)

    async def text(self) -> dict[str, Any]:
        frame = await self.next()
        assert isinstance(frame, dict), frame
        return frame

    def nothing_more(self) -> bool:
        return self.frames.empty()

    async def join(self, rooms: Rooms, room: str = "room") -> None:
        rooms.handle_message(self, {"type": "crdt-join", "roomId": room})
        assert await self.text() == {"type": "crdt-joined", "roomId": room}
        snapshot = await self.text()
        assert snapshot["type"] == "crdt-snapshot" and snapshot["roomId"] == room
        self.doc.import_(base64.b64decode(snapshot["data"]))

    def edit(self, text: str) -> bytes:
        before = self.doc.oplog_vv
        target = self.doc.get_text("t")
        target.insert(len(target.to_string()), text)
        self.doc.commit()
        return bytes(self.doc.export(ExportMode.Updates(before)))


def text_of(doc: LoroDoc) -> str:
    return str(doc.get_text("t").to_string())


@asynccontextmanager
async def open_rooms(
    path: Path, *, allow_client_snapshots: bool = False, save_debounce_ms: int = 60_000
) -> AsyncIterator[Rooms]:
    """Rooms on the DuckDB file at `path`; closed (every room compacted) on exit."""
    con = duckdb.connect(str(path))
    META.create(con)
    loop = asyncio.get_running_loop()
    store = DuckDBRoomStore(con.cursor, META, loop)
    rooms = Rooms(
        store,
        loop,
        allow_client_snapshots=allow_client_snapshots,
        save_debounce_ms=save_debounce_ms,
    )
    await rooms.start()
    try:
        yield rooms
    finally:
        await rooms.close()
        con.close()


def stored(path: Path, room: str = "room") -> tuple[bool, int]:
    """(a snapshot is stored, log rows) for `room`, read through a connection of its own."""
    with duckdb.connect(str(path)) as con:
        snapshot = con.execute(
            f"SELECT count(*) FROM {META.sync_rooms} WHERE room_id = ?", [room]
        ).fetchone()
        log = con.execute(
            f"SELECT count(*) FROM {META.sync_updates} WHERE room_id = ?", [room]
        ).fetchone()
    assert snapshot is not None and log is not None
    return bool(snapshot[0]), int(log[0])


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "rooms.db"


# -- the room protocol ---------------------------------------------------------


def test_an_update_is_acked_to_its_sender_and_relayed_to_the_others(db: Path) -> None:
    async def scenario() -> None:
        async with open_rooms(db) as rooms:
            a, b = FakeParticipant(), FakeParticipant()
            await a.join(rooms)
            await b.join(rooms)
            update = a.edit("hello")
            rooms.handle_update(a, update)
            assert await a.text() == {"type": "crdt-update-ack", "roomId": "room"}
            assert stored(db) == (False, 1)  # durable before the ack
            assert await b.next() == update
            assert a.nothing_more()  # never its own update back
            late = FakeParticipant()
            await late.join(rooms)
            assert text_of(late.doc) == "hello"

    run(scenario)


def test_bad_room_messages_get_an_error_and_the_room_keeps_serving(db: Path) -> None:
    async def scenario() -> None:
        async with open_rooms(db) as rooms:
            peer = FakeParticipant()
            rooms.handle_update(peer, peer.edit("early"))
            assert "send crdt-join first" in (await peer.text())["error"]
            rooms.handle_message(peer, {"type": "crdt-join", "roomId": ""})
            error = await peer.text()
            assert "non-empty string 'roomId'" in error["error"] and "roomId" not in error
            rooms.handle_message(peer, {"type": "crdt-nonsense", "roomId": "room"})
            error = await peer.text()
            assert error["roomId"] == "room" and "unknown message type" in error["error"]

            peer.doc = new_doc()
            await peer.join(rooms)
            rooms.handle_update(peer, b"\x00not loro")
            assert "invalid CRDT update" in (await peer.text())["error"]
            stranger = FakeParticipant()
            stranger.edit("a")
            rooms.handle_update(peer, stranger.edit("b"))  # depends on "a", which the room lacks
            assert "rejoin to resync" in (await peer.text())["error"]

            rooms.handle_update(peer, peer.edit("fine"))
            assert (await peer.text())["type"] == "crdt-update-ack"
            assert text_of(await rooms.doc("room")) == "fine"

    run(scenario)


def test_a_client_snapshot_seeds_only_an_empty_room_and_only_when_allowed(
    tmp_path: Path,
) -> None:
    seed = FakeParticipant()
    seed.edit("seeded")
    data = base64.b64encode(seed.doc.export(ExportMode.Snapshot())).decode()
    message = {"type": "crdt-snapshot", "roomId": "room", "data": data}

    async def scenario(allow: bool, path: Path) -> list[dict[str, Any]]:
        async with open_rooms(path, allow_client_snapshots=allow) as rooms:
            peer = FakeParticipant()
            rooms.handle_message(peer, message)
            first = await peer.text()
            rooms.handle_message(peer, message)
            second = await peer.text()
            rooms.handle_message(peer, {**message, "data": "not base64!"})
            third = await peer.text()
            return [first, second, third]

    refused = asyncio.run(scenario(False, tmp_path / "refused.db"))
    assert all("--allow-client-snapshots" in reply["error"] for reply in refused)
    first, second, third = asyncio.run(scenario(True, tmp_path / "allowed.db"))
    assert first == {"type": "crdt-snapshot-ack", "roomId": "room"}
    assert "already has state" in second["error"]
    assert "must be a base64 string" in third["error"]


def test_joining_another_room_leaves_the_first(db: Path) -> None:
    async def scenario() -> None:
        async with open_rooms(db) as rooms:
            mover, stayer = FakeParticipant(), FakeParticipant()
            await mover.join(rooms, "one")
            await stayer.join(rooms, "one")
            mover.doc = new_doc()
            await mover.join(rooms, "two")
            rooms.handle_update(stayer, stayer.edit("only for one"))
            assert (await stayer.text())["type"] == "crdt-update-ack"
            members = {room["roomId"]: room["members"] for room in rooms.summary()}
            assert members == {"one": 1, "two": 1}
            assert mover.nothing_more()

    run(scenario)


def test_a_participant_that_closes_while_the_room_loads_is_not_a_member(db: Path) -> None:
    async def scenario() -> None:
        async with open_rooms(db) as rooms:
            peer = FakeParticipant()
            rooms.handle_message(peer, {"type": "crdt-join", "roomId": "room"})
            peer.closed = True  # before the load's result reaches the loop
            rooms.leave(peer)
            assert text_of(await rooms.doc("room")) == ""  # the load is done
            await rooms.list()  # a round trip to the store: the join has run by now
            assert rooms.summary() == []  # nobody in it: unloaded
            assert peer.nothing_more()

    run(scenario)


# -- durability and the lifecycle ----------------------------------------------


def test_every_acknowledged_update_survives_a_crash(db: Path) -> None:
    """Without `close` (as after kill -9), the log replays over the snapshot."""

    async def write() -> None:
        con = duckdb.connect(str(db))
        META.create(con)
        loop = asyncio.get_running_loop()
        store = DuckDBRoomStore(con.cursor, META, loop)
        rooms = Rooms(store, loop, allow_client_snapshots=False, save_debounce_ms=60_000)
        await rooms.start()
        peer = FakeParticipant()
        await peer.join(rooms)
        for word in ("a", "b", "c"):
            rooms.handle_update(peer, peer.edit(word))
            assert (await peer.text())["type"] == "crdt-update-ack"
        await store.stop()  # the writer only: no compaction, as in a crash
        con.close()

    async def read() -> str:
        async with open_rooms(db) as rooms:
            return text_of(await rooms.doc("room"))

    run(write)
    assert stored(db) == (False, 3)
    assert run(read) == "abc"
    assert stored(db) == (True, 0)  # the reload folded the leftover log in


def test_an_idle_room_is_compacted_then_unloaded(db: Path) -> None:
    async def scenario() -> None:
        async with open_rooms(db, save_debounce_ms=0) as rooms:
            peer = FakeParticipant()
            await peer.join(rooms)
            rooms.handle_update(peer, peer.edit("x"))
            assert (await peer.text())["type"] == "crdt-update-ack"
            listed = await rooms.list()  # queued behind the compaction
            assert [(i.room_id, i.members, i.pending_updates, i.loaded) for i in listed] == [
                ("room", 1, 0, True)
            ]
            assert stored(db) == (True, 0)
            rooms.leave(peer)
            assert rooms.summary() == []  # nothing unsaved: forgotten
            (info,) = await rooms.list()
            assert (info.room_id, info.loaded, info.pending_updates) == ("room", False, 0)
            assert text_of(await rooms.doc("room")) == "x"  # loads again from the snapshot

    run(scenario)


def test_close_folds_every_log_into_its_snapshot_and_refuses_new_work(db: Path) -> None:
    async def scenario() -> None:
        async with open_rooms(db) as rooms:
            peer = FakeParticipant()
            await peer.join(rooms)
            for word in ("a", "b"):
                rooms.handle_update(peer, peer.edit(word))
                assert (await peer.text())["type"] == "crdt-update-ack"
            assert stored(db) == (False, 2)
        assert stored(db) == (True, 0)
        late = FakeParticipant()
        rooms.handle_message(late, {"type": "crdt-join", "roomId": "other"})
        assert "shutting down" in (await late.text())["error"]
        with pytest.raises(RoomError, match="shutting down"):
            await rooms.apply_update("room", b"")

    run(scenario)


def test_a_room_that_cannot_load_refuses_joins_and_is_retried(db: Path) -> None:
    with duckdb.connect(str(db)) as con:
        META.create(con)
        con.execute(f"INSERT INTO {META.sync_rooms} VALUES ('room', 'garbage', now())")

    async def scenario() -> None:
        async with open_rooms(db) as rooms:
            peer = FakeParticipant()
            rooms.handle_message(peer, {"type": "crdt-join", "roomId": "room"})
            error = await peer.text()
            assert error["roomId"] == "room" and "could not load room" in error["error"]
            rooms.handle_update(peer, peer.edit("x"))  # the failed join joined nothing
            assert "send crdt-join first" in (await peer.text())["error"]
            with pytest.raises(RoomError, match="could not load"):
                await rooms.doc("room")  # tried again, not a cached failure

    run(scenario)


def test_updates_from_another_server_are_merged_and_relayed_once(db: Path) -> None:
    async def scenario() -> None:
        async with open_rooms(db) as rooms:
            a, b = FakeParticipant(), FakeParticipant()
            await a.join(rooms)
            await b.join(rooms)
            remote = FakeParticipant()
            update = remote.edit("from afar")
            rooms.receive("room", update)
            assert await a.next() == update and await b.next() == update
            a.doc.import_(update)
            rooms.receive("room", update)  # had it: nothing to send
            rooms.receive("not-loaded", update)  # the store has it for the next load
            rooms.handle_update(a, a.edit("!"))
            assert (await a.text())["type"] == "crdt-update-ack"
            assert isinstance(await b.next(), bytes)
            assert a.nothing_more() and b.nothing_more()
            assert text_of(await rooms.doc("room")) == "from afar!"
            assert [info.room_id for info in await rooms.list()] == ["room"]

    run(scenario)


# -- the Python API -------------------------------------------------------------


def test_apply_syncs_a_change_like_a_client_and_a_failing_fn_changes_nothing(
    db: Path,
) -> None:
    async def scenario() -> None:
        async with open_rooms(db) as rooms:
            peer = FakeParticipant()
            await peer.join(rooms)

            def broken(doc: LoroDoc) -> None:
                doc.get_text("t").insert(0, "half")
                raise ValueError("boom")

            with pytest.raises(ValueError, match="boom"):
                await rooms.apply("room", broken)
            assert await rooms.apply("room", lambda doc: None) is None
            update = await rooms.apply("room", lambda doc: doc.get_text("t").insert(0, "py"))
            assert update is not None and await peer.next() == update
            assert stored(db) == (False, 1)
            copy = await rooms.doc("room")
            copy.get_text("t").insert(0, "ignored")  # a copy: the room does not change
            assert text_of(await rooms.doc("room")) == "py"
            with pytest.raises(RoomError, match="invalid CRDT update"):
                await rooms.apply_update("room", b"junk")

    run(scenario)
