"""CRDT rooms (`--sync`): the room protocol, durability and the Python API.

Peers are real WebSocket clients holding a Python `loro` doc, as the official
`createWebSocketSyncConnector` does: join, import the snapshot, send local
updates as binary frames, import relayed ones.
"""

from __future__ import annotations

import base64
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from loro import ExportMode, LoroDoc

from sqlrooms_jupyter.crdt import RoomError
from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.web.server import ServerConfig, SqlroomsServer
from sqlrooms_jupyter.web.thread import ServerThread
from tests.polling import wait_until
from tests.support import Client, ServerProcess, arrow_upload_frame

StartServer = Callable[..., ServerProcess]
ACK = "crdt-update-ack"


class Peer:
    """A Loro doc synced through one WebSocket; records acks, errors and relayed updates."""

    def __init__(self, url: str, room: str = "room", *, join: bool = True) -> None:
        self.client = Client(url)
        self.room = room
        self.doc = LoroDoc()
        self.sent: list[bytes] = []
        self.relayed: list[bytes] = []
        self.acks = 0
        self.errors: list[dict[str, Any]] = []
        if join:
            self.join()

    @classmethod
    def of(cls, server: ServerProcess, room: str = "room", **kwargs: Any) -> Peer:
        return cls(server.url, room, **kwargs)

    def close(self) -> None:
        self.client.close()

    def send(self, message: dict[str, Any] | bytes) -> None:
        self.client.send(message)

    def next(self, timeout: float = 10) -> dict[str, Any] | bytes:
        frame = self.client.ws.recv(timeout)
        if isinstance(frame, bytes):
            self.doc.import_(frame)
            self.relayed.append(frame)
            return frame
        message = json.loads(frame)
        if message.get("type") == ACK:
            self.acks += 1
        elif message.get("type") == "error":
            self.errors.append(message)
        return message

    def expect(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The next text frame of type `kind`; other frames are recorded on the way."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.next(max(0.01, deadline - time.monotonic()))
            if isinstance(frame, dict) and frame["type"] == kind:
                return frame
            assert not (isinstance(frame, dict) and frame["type"] == "error"), frame

    def wait(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            self.next(max(0.01, deadline - time.monotonic()))

    def join(self) -> None:
        self.send({"type": "crdt-join", "roomId": self.room, "clientId": "py"})
        assert self.expect("crdt-joined") == {"type": "crdt-joined", "roomId": self.room}
        snapshot = self.expect("crdt-snapshot")
        assert snapshot["roomId"] == self.room
        self.doc.import_(base64.b64decode(snapshot["data"]))

    def edit(self, change: Callable[[LoroDoc], object]) -> bytes:
        """Change the local doc and send the update, as the connector does on commit."""
        before = self.doc.oplog_vv
        change(self.doc)
        self.doc.commit()
        update = self.doc.export(ExportMode.Updates(before))
        self.sent.append(update)
        self.send(update)
        return update

    @property
    def value(self) -> dict[str, Any]:
        return self.doc.get_deep_value()

    def query(self, sql: str) -> Any:
        """A JSON query on the same socket (only call when no room traffic is pending)."""
        return self.client.query(sql, kind="json", query_id=f"q{time.monotonic_ns()}")


def snapshot_message(doc: LoroDoc, room: str) -> dict[str, Any]:
    data = base64.b64encode(doc.export(ExportMode.Snapshot())).decode()
    return {"type": "crdt-snapshot", "roomId": room, "data": data}


def seeded_doc() -> LoroDoc:
    doc = LoroDoc()
    doc.get_map("settings").insert("seeded", True)
    doc.get_text("title").insert(0, "from a client snapshot")
    doc.commit()
    return doc


def stored_rooms(path: Path, namespace: str = "__sqlrooms") -> tuple[dict[str, Any], int]:
    """(room -> snapshot value, update log rows) read from a DuckDB file after the server."""
    with duckdb.connect(str(path)) as con:
        rows = con.execute(f"SELECT room_id, snapshot FROM {namespace}.sync_rooms").fetchall()
        log_rows = con.execute(f"SELECT count(*) FROM {namespace}.sync_updates").fetchone()
    rooms = {}
    for room_id, snapshot in rows:
        doc = LoroDoc()
        doc.import_(snapshot)
        rooms[room_id] = doc.get_deep_value()
    return rooms, log_rows[0] if log_rows else 0


# -- sync between clients ----------------------------------------------------


def test_concurrent_edits_converge_without_echo(start_server: StartServer) -> None:
    server = start_server("--sync")
    a, b = Peer.of(server), Peer.of(server)

    def edits(name: str, n: int) -> Callable[[LoroDoc], None]:
        def change(doc: LoroDoc) -> None:
            doc.get_text("text").insert(0, f"<{name}>")
            doc.get_map("map").insert(name, n)
            doc.get_list("list").push(name)

        return change

    # A lone update: the sender's next frame is the ack (a relay to it would come first).
    a.edit(lambda doc: doc.get_map("map").insert("first", True))
    assert a.next() == {"type": ACK, "roomId": "room"}
    assert b.next() == a.sent[0]

    # Both commit before seeing the other's edit.
    a.edit(edits("a", 1))
    b.edit(edits("b", 2))
    a.wait(lambda: a.acks == 2 and len(a.relayed) == 1)
    b.wait(lambda: b.acks == 1 and len(b.relayed) == 2)
    assert a.relayed == [b.sent[0]] and b.relayed == a.sent
    assert a.value == b.value
    assert a.value["map"] == {"first": True, "a": 1, "b": 2}
    assert sorted(a.value["list"]) == ["a", "b"]
    assert "<a>" in a.value["text"] and "<b>" in a.value["text"]

    # A burst of pipelined edits from both sides, at random-ish positions.
    rounds = 25
    relayed = {a: len(a.relayed) + rounds, b: len(b.relayed) + rounds}
    for i in range(rounds):
        a.edit(lambda doc, i=i: doc.get_text("text").insert(i % 3, "x"))
        b.edit(lambda doc, i=i: doc.get_list("list").insert(i % 2, i))
    for peer in (a, b):
        peer.wait(lambda p=peer: p.acks == len(p.sent) and len(p.relayed) == relayed[p])
        assert not peer.errors
        assert not set(peer.relayed) & set(peer.sent)  # never its own update back
    assert a.value == b.value
    assert a.value["text"].count("x") == rounds and len(a.value["list"]) == 2 + rounds

    late = Peer.of(server)  # everything arrives in the join snapshot
    assert late.value == a.value
    assert late.relayed == []

    # An update right behind the join, before the snapshot arrives, belongs to the room.
    eager = Peer.of(server, join=False)
    eager.send({"type": "crdt-join", "roomId": "room"})
    eager.edit(lambda doc: doc.get_map("map").insert("eager", True))
    assert eager.expect("crdt-joined") == {"type": "crdt-joined", "roomId": "room"}
    eager.doc.import_(base64.b64decode(eager.expect("crdt-snapshot")["data"]))
    eager.expect(ACK)
    late.wait(lambda: late.value == eager.value)
    assert late.value["map"]["eager"] is True


def test_bad_updates_leave_the_room_intact(start_server: StartServer) -> None:
    server = start_server("--sync")
    peer = Peer.of(server)
    peer.edit(lambda doc: doc.get_text("text").insert(0, "keep me"))
    peer.expect(ACK)
    before = peer.value

    valid = LoroDoc()
    valid.get_text("text").insert(0, "abc")
    valid.commit()
    corrupt = bytearray(valid.export(ExportMode.Snapshot()))
    corrupt[len(corrupt) // 2] ^= 0xFF
    gap = LoroDoc()  # an update whose earlier changes the room never saw
    gap.get_text("text").insert(0, "first")
    gap.commit()
    version = gap.oplog_vv
    gap.get_text("text").insert(0, "second")
    gap.commit()
    missing_deps = gap.export(ExportMode.Updates(version))

    for bad in (b"not a loro update", bytes(corrupt), missing_deps, b""):
        peer.send(bad)
        error = peer.next()
        assert isinstance(error, dict) and error["type"] == "error", error
        assert error["roomId"] == "room"
        assert "CRDT update" in error["error"]
    for bad_message in (
        {"type": "crdt-join"},
        {"type": "crdt-join", "roomId": ""},
        {"type": "crdt-bogus", "roomId": "room"},
    ):
        peer.send(bad_message)
        error = peer.next()
        assert isinstance(error, dict) and error["type"] == "error", (bad_message, error)

    # The connection still works: room traffic, queries and Arrow uploads.
    late = Peer.of(server)
    assert late.value == before
    peer.edit(lambda doc: doc.get_map("map").insert("after", "errors"))
    assert peer.next() == {"type": ACK, "roomId": "room"}
    late.wait(lambda: late.value == peer.value)
    assert peer.query("SELECT 42 AS answer") == [{"answer": 42}]
    peer.send(arrow_upload_frame(pa.table({"x": [1, 2]}), "uploaded", "u1"))
    assert peer.next() == {"type": "uploadAck", "queryId": "u1"}

    # A dependency on another peer's changes cannot be seen up front: Loro holds the
    # change back until they arrive; it is logged and acknowledged like any other.
    y = LoroDoc()
    y.get_text("other").insert(0, "Y")
    y.commit()
    x = y.fork()
    version = x.oplog_vv
    x.get_text("other").insert(1, "X")
    x.commit()
    peer.send(x.export(ExportMode.Updates(version)))
    peer.expect(ACK)
    peer.send(y.export(ExportMode.Snapshot()))
    peer.expect(ACK)
    assert Peer.of(server).value["other"] == "YX"

    with Client(server.url) as stranger:  # an update from a connection in no room
        stranger.send(b"\x01\x02 stray bytes")
        error = stranger.recv_json()
        assert error["type"] == "error" and "crdt-join" in error["error"]
        assert "roomId" not in error
        assert stranger.query("SELECT 1 AS one", kind="json") == [{"one": 1}]


def test_crdt_messages_without_sync_get_an_error(server: ServerProcess) -> None:
    doc = seeded_doc()
    with Client(server.url) as client:
        for message in (
            {"type": "crdt-join", "roomId": "room"},
            snapshot_message(doc, "room"),
        ):
            client.send(message)
            error = client.recv_json()
            assert error["type"] == "error" and "--sync" in error["error"]
        client.send(doc.export(ExportMode.Snapshot()))
        error = client.recv_json()
        assert error["type"] == "error" and "uploadArrow" in error["error"]
        assert client.query("SELECT 1 AS one", kind="json") == [{"one": 1}]


def test_token_in_url_authenticates_room_traffic(start_server: StartServer) -> None:
    """The official connector opens `<url>?roomId=r&token=T` and never sends `auth`."""
    server = start_server("--sync", "--auth-token", "s3cret")
    url = server.url + "?roomId=room&token=s3cret"
    a, b = Peer(url), Peer(url)
    a.edit(lambda doc: doc.get_map("map").insert("who", "a"))
    a.expect(ACK)
    b.wait(lambda: b.value == a.value)

    with Client(server.url + "?roomId=room") as client:  # no token: refused
        client.send({"type": "crdt-join", "roomId": "room"})
        assert client.recv_json() == {"type": "error", "error": "unauthorized"}
    with Client(server.url + "?roomId=room&token=wrong") as client:  # refused at the upgrade
        assert client.recv_json() == {"type": "error", "error": "unauthorized"}


# -- client snapshots ----------------------------------------------------------


def test_client_snapshot_seeds_an_empty_room(start_server: StartServer) -> None:
    server = start_server("--sync")  # :memory: database: seeding allowed by default
    watcher = Peer.of(server)
    seed = seeded_doc()
    with Client(server.url) as client:
        client.send(snapshot_message(seed, "room"))
        assert client.recv_json() == {"type": "crdt-snapshot-ack", "roomId": "room"}
        watcher.wait(lambda: watcher.value == seed.get_deep_value())
        assert Peer.of(server).value == seed.get_deep_value()

        other = LoroDoc()
        other.get_map("settings").insert("seeded", "twice")
        other.commit()
        client.send(snapshot_message(other, "room"))
        error = client.recv_json()
        assert error["type"] == "error" and error["roomId"] == "room"
        assert "already has state" in error["error"]
        client.send({"type": "crdt-snapshot", "roomId": "fresh", "data": "not base64!"})
        error = client.recv_json()
        assert error["type"] == "error" and "base64" in error["error"]
    assert Peer.of(server).value == seed.get_deep_value()


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (("--db-path", "{tmp}/main.duckdb"), False),
        (("--db-path", "{tmp}/main.duckdb", "--allow-client-snapshots"), True),
        (("--no-allow-client-snapshots",), False),
    ],
    ids=["file-db-default", "file-db-allowed", "memory-refused"],
)
def test_client_snapshot_policy(
    start_server: StartServer, tmp_path: Path, args: tuple[str, ...], allowed: bool
) -> None:
    server = start_server("--sync", *(arg.format(tmp=tmp_path) for arg in args))
    seed = seeded_doc()
    with Client(server.url) as client:
        client.send(snapshot_message(seed, "room"))
        answer = client.recv_json()
    if allowed:
        assert answer == {"type": "crdt-snapshot-ack", "roomId": "room"}
        assert Peer.of(server).value == seed.get_deep_value()
    else:
        assert answer["type"] == "error" and answer["roomId"] == "room"
        assert "client snapshots are disabled" in answer["error"]
        assert Peer.of(server).value == {}


# -- durability ----------------------------------------------------------------


@pytest.mark.parametrize("storage", ["db-path", "meta-db"])
def test_rooms_survive_a_restart(start_server: StartServer, tmp_path: Path, storage: str) -> None:
    path = tmp_path / f"{storage}.duckdb"
    args = ("--sync", f"--{storage}", str(path))
    server = start_server(*args)
    notes, board = Peer.of(server, "notes"), Peer.of(server, "board")
    notes.edit(lambda doc: doc.get_text("body").insert(0, "remember this"))
    board.edit(lambda doc: doc.get_list("cards").push("todo"))
    notes.expect(ACK)
    board.expect(ACK)
    expected = {"notes": notes.value, "board": board.value}
    notes.close()
    board.close()
    assert server.stop() == 0

    # Shutdown folded each room's update log into its snapshot.
    rooms, log_rows = stored_rooms(path, "__sqlrooms" if storage == "db-path" else "main")
    assert rooms == expected and log_rows == 0

    restarted = start_server(*args)
    for room, value in expected.items():
        assert Peer.of(restarted, room).value == value


def test_sigkill_after_ack_keeps_acknowledged_edits(
    start_server: StartServer, tmp_path: Path
) -> None:
    """Acked edits survive kill -9, both those compacted into the snapshot and those in the log."""
    path = tmp_path / "crash.duckdb"
    base = ("--sync", "--db-path", str(path))

    server = start_server(*base, "--save-debounce-ms", "0")  # compact after every update
    peer = Peer.of(server)
    peer.edit(lambda doc: doc.get_text("text").insert(0, "compacted"))
    peer.expect(ACK)
    wait_until(
        lambda: peer.query("SELECT count(*) AS n FROM __sqlrooms.sync_updates") == [{"n": 0}],
        "the update log to be compacted",
        interval=0.02,
    )
    server.stop(signal.SIGKILL)

    server = start_server(*base, "--save-debounce-ms", "600000")  # never compacts by itself
    peer = Peer.of(server)
    assert peer.value == {"text": "compacted"}
    rounds = 20
    for i in range(rounds):  # pipelined: appends queued together share a commit
        peer.edit(lambda doc, i=i: doc.get_list("list").push(i))
    peer.wait(lambda: peer.acks == rounds)
    assert not peer.errors
    server.stop(signal.SIGKILL)

    rooms, log_rows = stored_rooms(path)
    assert rooms == {"room": {"text": "compacted"}} and log_rows == rounds

    restarted = start_server(*base)
    assert Peer.of(restarted).value == {"text": "compacted", "list": list(range(rounds))}


# -- the Python API ------------------------------------------------------------


@pytest.fixture
def inprocess(tmp_path: Path) -> Iterator[SqlroomsServer]:
    """A server on its own loop thread, as inside a kernel."""
    config = ServerConfig(
        port=0,
        sync=True,
        save_debounce_ms=50,
        engine=EngineConfig(db_path=str(tmp_path / "api.duckdb"), extensions=(), pool_size=4),
    )
    thread = ServerThread(config)
    try:
        yield thread.start()
    finally:
        thread.stop()


def test_python_api_edits_reach_clients(inprocess: SqlroomsServer, tmp_path: Path) -> None:
    server = inprocess
    rooms = server.rooms
    assert rooms is not None
    peer = Peer(server.url)

    update = server.call(
        rooms.apply, "room", lambda doc: doc.get_map("map").insert("from", "python")
    )
    assert update
    peer.wait(lambda: peer.value == {"map": {"from": "python"}})
    assert server.call(rooms.doc, "room").get_deep_value() == peer.value

    def broken(doc: LoroDoc) -> None:
        doc.get_map("map").insert("half", "done")
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        server.call(rooms.apply, "room", broken)
    assert server.call(rooms.apply, "room", lambda doc: None) is None
    assert server.call(rooms.doc, "room").get_deep_value() == {"map": {"from": "python"}}

    copy = server.call(rooms.doc, "room")
    version = copy.oplog_vv
    copy.get_list("list").push(1)
    copy.commit()
    server.call(rooms.apply_update, "room", copy.export(ExportMode.Updates(version)))
    peer.wait(lambda: peer.value.get("list") == [1])
    with pytest.raises(RoomError, match="invalid CRDT update"):
        server.call(rooms.apply_update, "room", b"junk")

    peer.edit(lambda doc: doc.get_text("text").insert(0, "from the socket"))
    peer.expect(ACK)
    assert server.call(rooms.doc, "room").get_deep_value() == peer.value

    server.call(rooms.apply, "idle", lambda doc: doc.get_text("t").insert(0, "nobody is here"))
    listed = {info.room_id: info for info in server.call(rooms.list)}
    assert set(listed) == {"room", "idle"}
    assert listed["room"].members == 1 and listed["room"].loaded
    assert [room["roomId"] for room in server.status()["rooms"]].count("room") == 1

    async def on_the_loop() -> None:
        server.call(rooms.list)

    with pytest.raises(RuntimeError, match=r"would block the server's event loop; await list"):
        server.call(on_the_loop)
    expected = {"room": peer.value, "idle": {"t": "nobody is here"}}
    peer.close()
    server.call(server.stop, timeout=30)
    assert stored_rooms(tmp_path / "api.duckdb") == (expected, 0)


def test_updates_from_another_server_reach_members_once(inprocess: SqlroomsServer) -> None:
    """`Rooms.receive`: what a shared store hands over is merged and relayed, duplicates not."""
    server = inprocess
    rooms = server.rooms
    assert rooms is not None
    peer = Peer(server.url)
    elsewhere = LoroDoc()
    elsewhere.get_map("m").insert("from", "another replica")
    elsewhere.commit()
    update = elsewhere.export(ExportMode.Snapshot())

    server.call(rooms.receive, "room", update)
    peer.wait(lambda: peer.value == {"m": {"from": "another replica"}})
    assert len(peer.relayed) == 1
    server.call(rooms.receive, "room", update)  # already merged: nothing to send
    server.call(rooms.receive, "unloaded-room", update)  # not loaded here: ignored
    peer.edit(lambda doc: doc.get_map("m").insert("then", "local"))
    peer.expect(ACK)
    assert len(peer.relayed) == 1
    assert server.call(rooms.doc, "room").get_deep_value() == peer.value
    peer.close()
