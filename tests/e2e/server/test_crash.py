"""`kill -9` in the middle of work: what was acknowledged is there after a restart."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from tests.e2e.server.test_crdt import ACK, Peer
from tests.support import Client, ServerProcess, arrow_upload_frame

StartServer = Callable[..., ServerProcess]


@pytest.mark.parametrize(
    "debounce_ms", ["600000", "0"], ids=["log-only", "compacting-after-every-update"]
)
def test_kill_during_a_stream_of_crdt_updates(
    start_server: StartServer, tmp_path: Path, debounce_ms: str
) -> None:
    args = ("--sync", "--db-path", str(tmp_path / "rooms.duckdb"))
    server = start_server(*args, "--save-debounce-ms", debounce_ms)
    peer = Peer.of(server)
    acked = sent = 0
    deadline = time.monotonic() + 30
    while acked < 150:  # keep ~20 updates in flight, then kill with some still unacked
        assert time.monotonic() < deadline, f"only {acked} acks"
        while sent - acked < 20:
            peer.edit(lambda doc, n=sent: doc.get_map("m").insert(str(n), "x" * 500))
            sent += 1
        frame = peer.next(10)
        assert not (isinstance(frame, dict) and frame["type"] == "error"), frame
        acked = peer.acks
    server.stop(signal.SIGKILL)

    restarted = start_server(*args)
    value = Peer.of(restarted).value["m"]
    missing = [n for n in range(acked) if value.get(str(n)) != "x" * 500]
    assert not missing, f"{len(missing)} of {acked} acknowledged updates lost"
    assert "could not" not in restarted.log() and "Traceback" not in restarted.log()


@pytest.mark.parametrize("checkpointing", [False, True], ids=["upload", "upload+checkpoint"])
def test_kill_during_uploads(
    start_server: StartServer, tmp_path: Path, checkpointing: bool
) -> None:
    args = ("--db-path", str(tmp_path / "uploads.duckdb"))
    server = start_server(*args)
    table = pa.table({"v": pa.array(range(200_000), pa.int64())})
    frames = [arrow_upload_frame(table, f"up{n}", f"u{n}") for n in range(40)]
    acked: list[int] = []
    checkpoints = 0
    with Client(server.url) as uploader, Client(server.url) as checkpointer:
        for frame in frames[:3]:
            uploader.send(frame)
        next_frame = 3
        if checkpointing:
            checkpointer.send({"type": "exec", "sql": "FORCE CHECKPOINT", "queryId": "c0"})
        deadline = time.monotonic() + 60
        while len(acked) < 12:
            assert time.monotonic() < deadline, f"only {acked} acked"
            answer = json.loads(uploader.ws.recv(30))
            assert answer["type"] == "uploadAck", answer
            acked.append(int(answer["queryId"][1:]))
            uploader.send(frames[next_frame])
            next_frame += 1
            if checkpointing:
                reply = json.loads(checkpointer.ws.recv(30))
                assert reply["type"] in ("ok", "error"), reply
                checkpoints += reply["type"] == "ok"
                checkpointer.send(
                    {"type": "exec", "sql": "FORCE CHECKPOINT", "queryId": f"c{len(acked)}"}
                )
        server.stop(signal.SIGKILL)  # uploads (and a checkpoint) still in flight
    assert not checkpointing or checkpoints > 0

    restarted = start_server(*args)
    with restarted.client() as client:
        for n in acked:
            rows = client.query(
                f"SELECT count(*) AS n, sum(v) AS s FROM up{n}", kind="json", query_id=f"c{n}"
            )
            assert rows == [{"n": 200_000, "s": 199_999 * 200_000 // 2}], (n, rows)
    assert "Traceback" not in restarted.log()


def test_kill_during_compaction_of_a_crash_leftover(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A restart folds the crash's leftover log into the snapshot; a second kill loses nothing."""
    args = ("--sync", "--db-path", str(tmp_path / "twice.duckdb"), "--save-debounce-ms", "0")
    server = start_server(*args)
    peer = Peer.of(server)
    for n in range(30):
        peer.edit(lambda doc, n=n: doc.get_list("l").push(n))
    peer.wait(lambda: peer.acks == 30)
    server.stop(signal.SIGKILL)

    server = start_server(*args)
    peer = Peer.of(server)  # loading schedules the compaction of what the log holds
    assert peer.value == {"l": list(range(30))}
    peer.edit(lambda doc: doc.get_list("l").push(30))
    peer.expect(ACK)
    server.stop(signal.SIGKILL)

    restarted = start_server(*args)
    assert Peer.of(restarted).value == {"l": list(range(31))}
