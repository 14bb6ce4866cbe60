"""Sandbox escapes from issue 28, against the real CLI: writes through EXPLAIN ANALYZE and
data-modifying CTEs, session state leaking between clients, parser blow-ups, statement
types DuckDB's Python enum does not know."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from .support import Client, ServerProcess
from .test_sandbox import error_of, rss_mib
from .unit.test_statements import EXAMPLES


@pytest.fixture
def read_only_db(tmp_path: Path) -> Path:
    """A database file with `t` (x = 0, 1, 2)."""
    db = tmp_path / "ro.duckdb"
    setup = ServerProcess("--db-path", str(db), cwd=tmp_path)
    with setup.client() as client:
        client.query("create table t as select range x from range(3)", kind="exec")
    setup.stop()
    return db


def answer(client: Client, sql: str, kind: str = "json") -> object:
    return client.query(sql, kind=kind)


def write_attempts(path: Path) -> list[str]:
    return [
        f"EXPLAIN ANALYZE COPY (SELECT 'x') TO '{path}' (HEADER false)",
        f"explain /* select */ analyze -- select\n copy (select 1) to '{path}'",
        f"EXPLAIN (ANALYZE) COPY (SELECT 1) TO '{path}'",
        f"explain (analyze, format json) copy (select 1) to '{path}'",
        f"select 1; explain analyze copy (select 1) to '{path}'",
        f"with x as (copy (select 1) to '{path}') select 1",
        "explain analyze insert into __sqlrooms.ui_state select * from __sqlrooms.ui_state",
        "with x as (delete from __sqlrooms.ui_state returning *) select * from x",
    ]


def test_read_only_refuses_writes_hidden_in_explain_analyze_and_ctes(
    start_server, read_only_db: Path, tmp_path: Path
) -> None:
    meta = tmp_path / "meta.duckdb"
    target = tmp_path / "written.txt"
    server = start_server(
        "--db-path", str(read_only_db), "--read-only", "--sync", "--meta-db", str(meta)
    )
    with server.client() as client:
        for sql in write_attempts(target):
            for kind in ("json", "arrow", "exec"):
                assert "--read-only" in error_of(client, sql, kind), (sql, kind)
        client.send({"type": "export", "sql": write_attempts(target)[5], "queryId": "e"})
        refused = client.recv_json()
        assert refused["queryId"] == "e" and "only reads" in refused["error"]
        assert answer(client, "explain analyze select sum(x) s from t")[0]  # reads still run
    assert not target.exists()
    assert "Traceback" not in server.log()


SHADOWS = [
    ("create temp table t as select 42 x", "select sum(x) s from t", [{"s": 3}]),
    ("create temp view t as select 42 x", "select sum(x) s from t", [{"s": 3}]),
    ("create temp macro lower(x) as 'shadowed'", "select lower('A') s", [{"s": "a"}]),
]


@pytest.mark.parametrize(("create", "probe", "expected"), SHADOWS)
def test_read_only_temp_objects_never_reach_later_connections(
    start_server, read_only_db: Path, create: str, probe: str, expected: list[object]
) -> None:
    server = start_server("--db-path", str(read_only_db), "--read-only")
    with server.client() as client:
        assert "--read-only" in error_of(client, "EXPLAIN ANALYZE " + create)
    for _ in range(5):  # the pool hands out its most recent cursor first
        with server.client() as other:
            assert answer(other, probe) == expected


@pytest.mark.parametrize(
    "change",
    [
        *("explain analyze " + create for create, _, _ in SHADOWS),
        *(create for create, _, _ in SHADOWS),
        "create temp table t as select 42 x; select * from missing_table",
        "explain analyze create temp macro lower(x) as 'shadowed'; select * from missing",
    ],
)
def test_writable_session_state_never_reaches_other_connections(
    start_server, read_only_db: Path, change: str
) -> None:
    server = start_server("--db-path", str(read_only_db))
    with server.client() as client:
        client.query("set variable v = 7", kind="exec")
        client.query(change, kind="json")  # answered (ok, rows or an error)
    for _ in range(5):
        with server.client() as other:
            assert answer(other, "select sum(x) s from t") == [{"s": 3}]
            assert answer(other, "select lower('A') s") == [{"s": "a"}]
            assert answer(other, "select getvariable('v') v") == [{"v": None}]


HOSTILE = [
    "select $$'$$ AS a, " + "(" * 5000 + "1 -- '",
    "select $tag$'$tag$ AS a, " + "(" * 5000 + "1 -- '",
    "select E'\\'' AS a, " + "(" * 5000 + "1 -- '",
    "select /* /* */ ' */ " + "(" * 5000 + "1 -- '",
    "select " + "(/*)*/" * 5000 + "1",
    "select " + "- " * 3000,
    "select 1 " + "+ " * 3000,
    "select " + "(" * 200 + "- " * 200,
]


def test_parser_blowups_are_refused_while_others_are_served(start_server) -> None:
    server = start_server()
    with server.client() as attacker, server.client() as other:
        assert answer(other, "select 1 x") == [{"x": 1}]
        before = rss_mib(server.proc.pid)
        for text in HOSTILE:
            slowest = [0.0]

            def ping(other: Client = other, slowest: list[float] = slowest) -> None:
                for _ in range(3):
                    started = time.monotonic()
                    assert answer(other, "select 1 x") == [{"x": 1}]
                    slowest[0] = max(slowest[0], time.monotonic() - started)

            pinger = threading.Thread(target=ping)
            attacker.send({"type": "json", "sql": text, "queryId": "q"})
            pinger.start()
            frame = attacker.recv_json()
            pinger.join(30)
            assert frame["queryId"] == "q" and "levels deep" in frame["error"], text[:40]
            assert slowest[0] < 1.0, (text[:40], slowest[0])
        assert rss_mib(server.proc.pid) - before < 50
        legit = "select " + "(" * 200 + "1" + ")" * 200 + " as x, '" + "(" * 5000 + "' s"
        assert answer(attacker, legit)[0]["x"] == 1
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "writable"])
def test_every_statement_type_gets_a_clean_answer(
    start_server, read_only_db: Path, tmp_path: Path, read_only: bool
) -> None:
    args = ["--db-path", str(read_only_db)] + (["--read-only"] if read_only else [])
    server = start_server(*args)
    texts = [sql for sql in EXAMPLES.values() if sql is not None]
    texts += ["UPDATE EXTENSIONS", "EXPLAIN ANALYZE UPDATE EXTENSIONS"]
    with server.client() as client:
        for sql in texts:
            sql = sql.replace("/tmp/", f"{tmp_path}/")
            for kind in ("json", "exec"):
                frame = client.query(sql, kind=kind)
                if isinstance(frame, dict) and frame.get("type") == "error":
                    assert frame["queryId"] == "q"
                    reads = sql.lower().startswith("select") and read_only
                    assert not reads, (sql, frame)
                    if read_only:
                        assert "--read-only" in frame["error"], (sql, frame)
                else:
                    assert not read_only or sql.lower().startswith("select"), (sql, frame)
        assert answer(client, "select 1 x") == [{"x": 1}]
    assert "Traceback" not in server.log()
