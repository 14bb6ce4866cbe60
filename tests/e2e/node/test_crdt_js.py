"""Interop: the official `@sqlrooms/crdt` sync connector against `--sync`.

`tests/js-crdt/crdt-interop.mjs` syncs two `createWebSocketSyncConnector` docs through one
room while a Python `loro` peer sits in the same room; this test drives it line by line.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.e2e.server.test_crdt import ACK, Peer, StartServer
from tests.support import TESTS, ServerProcess, npm_project

JS_DIR = TESTS / "js-crdt"
SCRIPT = JS_DIR / "crdt-interop.mjs"
TOKEN = "crdt-interop-token"
ROOM = "interop-room"


@pytest.fixture(scope="session")
def node() -> str:
    return npm_project(JS_DIR)


def read_phase(proc: subprocess.Popen[str], phase: str, server: ServerProcess) -> dict[str, Any]:
    """The script's next JSON line, which must report `phase`."""
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the script exits on its own after 40 s at most
    record = json.loads(line) if line.strip() else {"phase": "exited"}
    if record.get("phase") != phase:
        proc.kill()
        stderr = proc.stderr.read() if proc.stderr else ""
        pytest.fail(f"expected {phase}, got {record}\nnode stderr:\n{stderr}\n{server.log()}")
    return record


def test_official_connector_syncs_with_python_peer(start_server: StartServer, node: str) -> None:
    server = start_server("--sync", "--auth-token", TOKEN)
    # The Python peer authenticates the way the connector does: ?token= at the upgrade.
    peer = Peer(f"{server.url}?roomId={ROOM}&token={TOKEN}", ROOM)
    peer.edit(lambda doc: doc.get_map("shared").insert("py", "hello"))
    peer.expect(ACK)

    proc = subprocess.Popen(
        [node, str(SCRIPT), server.url, ROOM, TOKEN],
        cwd=JS_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        converged = read_phase(proc, "converged", server)["value"]
        assert converged["shared"] == {"py": "hello", "a": 1, "b": 2}
        assert sorted(converged["items"]) == ["a", "b"]
        peer.wait(lambda: peer.value == converged)

        peer.edit(lambda doc: doc.get_map("shared").insert("live", "from python"))
        peer.expect(ACK)
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        done = read_phase(proc, "done", server)
        assert done["value"] == peer.value
        assert done["value"]["shared"]["live"] == "from python"
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()

    # A late Python joiner gets what the JS docs wrote, from the snapshot.
    assert Peer(f"{server.url}?token={TOKEN}", ROOM).value == done["value"]
