"""Bad environments: a locked database file, a clashing meta schema, a full meta-db disk."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb

from tests.e2e.server.test_crdt import ACK, Peer
from tests.support import ServerProcess, free_port


def run_cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(free_port())]
    return subprocess.run(
        [*command, "--extensions", "", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_locked_database_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute('CREATE TABLE t (x INT)'); print('ready', flush=True); sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = run_cli("--db-path", str(path), cwd=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "lock" in lines[0].lower(), result.stderr
    assert result.returncode == 2


def test_meta_db_works_when_main_db_has_a_schema_named_like_the_namespace(
    tmp_path: Path,
) -> None:
    main = tmp_path / "main.duckdb"
    with duckdb.connect(str(main)) as con:
        con.execute("CREATE SCHEMA __sqlrooms; CREATE TABLE __sqlrooms.mine AS SELECT 1 AS x")
    server = ServerProcess(
        "--sync", "--db-path", str(main), "--meta-db", str(tmp_path / "meta.duckdb"), cwd=tmp_path
    )
    try:
        with server.client() as client:
            client.send({"type": "crdt-join", "roomId": "r"})
            assert client.recv_json()["type"] == "crdt-joined"
            assert client.recv_json()["type"] == "crdt-snapshot"
            mine = "SELECT count(*) n FROM duckdb_tables() WHERE table_name = 'mine'"
            assert client.query(mine, kind="json") == [{"n": 1}]
    finally:
        assert server.stop() == 0, server.log()


def limit_file_size(max_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def test_full_meta_db_disk_refuses_updates_keeps_acked_ones_and_serves_queries(
    tmp_path: Path,
) -> None:
    """RLIMIT_FSIZE stands in for a full disk (Python ignores SIGXFSZ: writes fail with EFBIG)."""
    meta = tmp_path / "meta.duckdb"
    args = ("--sync", "--meta-db", str(meta), "--save-debounce-ms", "600000")
    server = ServerProcess(*args, cwd=tmp_path, preexec_fn=limit_file_size(4 << 20))
    acked: list[int] = []
    errors: list[dict] = []
    try:
        peer = Peer.of(server)
        for i in range(400):  # 64 KiB each: the limit is reached well before the end
            peer.edit(lambda doc, i=i: doc.get_map("big").insert(str(i), f"{i:08d}" * 8192))
            answer = peer.next(30)
            assert isinstance(answer, dict), answer
            if answer["type"] == "error":
                errors.append(answer)
                break
            assert answer["type"] == ACK, answer
            acked.append(i)
        assert errors, f"no update was refused (acked {len(acked)})"
        assert "could not save" in errors[0]["error"], errors
        assert peer.query("SELECT 41 + 1 AS n") == [{"n": 42}]
        with server.client() as other:
            assert other.query("SELECT 'still here' AS s", kind="json") == [{"s": "still here"}]
    finally:
        server.stop(signal.SIGKILL)
    restarted = ServerProcess(*args, cwd=tmp_path)
    try:
        value = Peer.of(restarted).value.get("big", {})
        missing = [i for i in acked if value.get(str(i)) != f"{i:08d}" * 8192]
        assert acked and not missing, f"{len(missing)} acknowledged updates lost"
    finally:
        assert restarted.stop() == 0, restarted.log()
