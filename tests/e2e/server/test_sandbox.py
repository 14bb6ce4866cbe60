"""The sandbox for shared servers: each flag allows reads and refuses what it forbids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from websockets.exceptions import InvalidStatus

from tests.support import Client, ServerProcess, arrow_upload_frame, free_port


def error_of(client: Client, sql: str, kind: str = "json") -> str:
    frame = client.query(sql, kind=kind)
    assert isinstance(frame, dict) and frame["type"] == "error", frame
    assert frame["queryId"] == "q"
    return str(frame["error"])


def rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def read_only_db(tmp_path: Path) -> Path:
    db = tmp_path / "ro.duckdb"
    setup = ServerProcess("--db-path", str(db), cwd=tmp_path)
    with setup.client() as client:
        client.query("create table t as select range x from range(3)", kind="exec")
    setup.stop()
    return db


def test_read_only_allows_reads_and_refuses_every_write(
    start_server, read_only_db: Path, tmp_path: Path
) -> None:
    server = start_server("--db-path", str(read_only_db), "--read-only")
    with server.client() as client:
        assert client.query("select sum(x) s from t", kind="json") == [{"s": 3}]
        for sql in (
            "create table u(x int)",
            "insert into t values (9)",
            "delete from t",
            f"copy (select 1) to '{tmp_path / 'out.csv'}'",
            "attach ':memory:' as m",
        ):
            assert "--read-only" in error_of(client, sql), sql
            assert "--read-only" in error_of(client, sql, kind="exec"), sql
        client.ws.send(arrow_upload_frame(pa.table({"v": [1]}), "up", "u"))
        frame = client.recv_json()
        assert frame["queryId"] == "u" and "--read-only" in frame["error"]
        assert client.query("select count(*) n from t", kind="json") == [{"n": 3}]
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--read-only"], "--read-only needs a database file"),
        (["--read-only", "--sync", "--db-path", "{db}"], "need --meta-db"),
    ],
)
def test_read_only_misconfigurations_fail_at_start(
    read_only_db: Path, args: list[str], message: str
) -> None:
    args = [a.replace("{db}", str(read_only_db)) for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_read_only_rooms_live_in_the_meta_db(
    start_server, read_only_db: Path, tmp_path: Path
) -> None:
    meta = tmp_path / "meta.duckdb"
    server = start_server(
        "--db-path", str(read_only_db), "--read-only", "--sync", "--meta-db", str(meta)
    )
    with server.client() as client:
        client.send({"type": "crdt-join", "roomId": "r"})
        assert client.recv_json() == {"type": "crdt-joined", "roomId": "r"}
    assert meta.exists()


def test_allowed_directories_confine_file_access(start_server, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n2\n")
    server = start_server("--allowed-directories", str(data))
    with server.client() as client:
        rows = client.query(f"select sum(x) s from read_csv('{data / 'a.csv'}')", kind="json")
        assert rows == [{"s": 3}]
        inside = data / "b.parquet"
        assert client.query(f"copy (select 1 x) to '{inside}'", kind="exec")["type"] == "ok"
        assert inside.exists()
        for sql in (
            "select * from read_csv('/etc/passwd')",
            f"copy (select 1) to '{tmp_path / 'x.csv'}'",
            f"attach '{tmp_path / 'other.duckdb'}' as other",
            "install spatial",
            "load spatial",
            "select * from read_csv('https://example.com/a.csv')",
        ):
            message = error_of(client, sql)
            assert "disabled" in message or "Permission" in message, (sql, message)
        for sql in (
            "set enable_external_access = true",
            "reset allowed_directories",
            "pragma enable_external_access = true",
            "set allowed_directories = ['/']",
        ):
            assert "locked" in error_of(client, sql), sql
    assert not (tmp_path / "x.csv").exists()


def test_memory_limit_and_threads_are_set_and_locked(start_server) -> None:
    server = start_server("--memory-limit", "512MB", "--threads", "1")
    with server.client() as client:
        rows = client.query(
            "select current_setting('threads') t, current_setting('memory_limit') m", kind="json"
        )
        assert rows[0]["t"] == 1 and rows[0]["m"].startswith(("488", "512"))
        assert "locked" in error_of(client, "set memory_limit = '20GB'")
        assert "locked" in error_of(client, "set threads = 8")


def test_query_timeout_cancels_and_keeps_the_socket(start_server) -> None:
    server = start_server("--query-timeout", "0.5")
    with server.client() as client:
        frame = client.query("select count(*) from range(1000000000000)", kind="json")
        assert frame == {"type": "error", "queryId": "q", "error": "query timed out after 0.5 s"}
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]


def test_max_connections_refuses_with_503_and_frees_places(start_server) -> None:
    server = start_server("--max-connections", "2")
    first, second = server.client(), server.client()
    with pytest.raises(InvalidStatus) as refused:
        server.client()
    assert refused.value.response.status_code == 503
    assert b"Too many connections" in refused.value.response.reason_phrase.encode()
    first.close()
    for attempt in range(100):  # the server notices the close
        try:
            third = server.client()
            break
        except InvalidStatus:
            if attempt == 99:
                raise
    assert third.query("select 1 as x", kind="json") == [{"x": 1}]
    second.close()
    third.close()


def test_pathological_sql_is_refused_before_duckdb(server: ServerProcess) -> None:
    with server.client() as client:
        assert "more than 256 levels deep" in error_of(client, "select " + "(" * (200 << 10))
        assert "--max-sql-size" in error_of(client, "select " + "1+" * (1 << 20) + "1")
        nested = "select " + "(" * 200 + "1" + ")" * 200 + " as x"
        assert client.query(nested, kind="json") == [{"x": 1}]
        quoted = "select '" + "(" * 5000 + "' as s"  # parentheses in a string do not count
        assert len(client.query(quoted, kind="json")[0]["s"]) == 5000
    assert rss_mib(server.proc.pid) < 400
