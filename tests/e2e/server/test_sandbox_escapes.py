"""Sandbox escapes from issue 28, against the real CLI: writes through EXPLAIN ANALYZE and
data-modifying CTEs, session state leaking between clients, parser blow-ups, statement
types DuckDB's Python enum does not know."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.e2e.server.test_sandbox import error_of, rss_mib
from tests.support import Client, ServerProcess
from tests.unit.db.test_statements import EXAMPLES


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


def seeded_randoms(seed: float, count: int) -> list[float]:
    con = duckdb.connect()
    con.execute(f"select setseed({seed})").fetchall()
    return [con.execute("select random()").fetchall()[0][0] for _ in range(count)]


@pytest.mark.parametrize("read_only", [False, True], ids=["writable", "read-only"])
@pytest.mark.parametrize(
    "seeding", ["select setseed(0.5) s", 'SELECT "SetSeed"(0.5) s', "select (0.5).setseed() s"]
)
def test_a_random_seed_never_reaches_other_connections(
    start_server, read_only_db: Path, read_only: bool, seeding: str
) -> None:
    """Finding 01: setseed runs in a SELECT; its cursor must not serve the next client."""
    server = start_server("--db-path", str(read_only_db), *(["--read-only"] * read_only))
    predicted = set(seeded_randoms(0.5, 16))
    with server.client() as attacker, server.client() as victim:
        for kind in ["arrow", "json"] * 3:
            assert answer(attacker, seeding, kind) is not None
            drawn = answer(victim, "select random() r", kind)
            (row,) = drawn if kind == "json" else drawn.to_pylist()
            assert row["r"] not in predicted, kind


def test_profiling_never_reaches_other_connections(start_server, tmp_path: Path) -> None:
    """Finding 04: enable_profiling runs as a table function in a SELECT; its cursor must not
    profile the next client into the caller's file. (Logging is global: a writable server's
    clients may switch it on as they may `SET` anything; --read-only refuses it.)"""
    profile = tmp_path / "profile.json"
    server = start_server()
    secret = "victim-secret-7f3a"
    with server.client() as attacker, server.client() as victim:
        profiling = f"select * from enable_profiling(format='json', save_location='{profile}')"
        answer(attacker, profiling)
        for _ in range(3):
            assert answer(victim, f"select '{secret}' s") == [{"s": secret}]
    assert not profile.exists() or secret not in profile.read_text()


def smuggled(statement: str) -> str:
    """`statement` as a SELECT that runs it through DuckDB's serializer, its words hidden."""
    con = duckdb.connect()
    tree = con.execute("select json_serialize_sql(?)", [statement]).fetchall()[0][0]
    encoded = base64.b64encode(tree.encode()).decode()
    return f"SELECT * FROM json_execute_serialized_sql(decode(from_base64('{encoded}')))"


def test_read_only_refuses_sql_run_from_data(start_server, tmp_path: Path) -> None:
    """Finding 02: json_execute_serialized_sql, query() of a computed text, a macro of the
    database that runs its argument, pragma and call forms: all refused on --read-only."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    target = allowed / "written.csv"
    db = tmp_path / "ro.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table t as select 1 a")
    con.execute("create sequence s")
    con.execute("create macro runs(q) as table select * from query(q)")
    con.execute("create macro bump() as nextval('s')")
    con.close()
    meta = tmp_path / "meta.duckdb"
    server = start_server(
        "--db-path", str(db), "--read-only", "--allowed-directories", str(allowed),
        "--meta-db", str(meta),
    )  # fmt: skip
    copy = f"WITH x AS (COPY (SELECT 'w' AS msg) TO '{target}') SELECT 1 AS one"
    insert = (
        "WITH x AS (INSERT INTO __sqlrooms.main.ui_state (key, payload_json) "
        "VALUES ('pwned', '{}') RETURNING key) SELECT * FROM x"
    )
    tree = duckdb.connect().execute("select json_serialize_sql(?)", [copy]).fetchall()[0][0]
    literal = tree.replace("'", "''")
    attempts = [
        smuggled(copy),
        smuggled(insert),
        f"select * from json_execute_serialized_sql('{literal}')",
        f"explain analyze select * from json_execute_serialized_sql('{literal}')",
        f"pragma json_execute_serialized_sql('{literal}')",
        f"call json_execute_serialized_sql('{literal}')",
        "select * from query('select nextval(''s'') n')",
        "select * from query('select 1 n' || '')",
        "select * from query(concat('select ', 'nextval(''s'')'))",
        "select * from runs('select 1 n')",
        "select bump() n",
        "select * from query('select * from runs(''select 1'')')",
        "select nextval('s') n",
        "select * from checkpoint()",
        "select * from enable_logging('QueryLog')",
        "select * from truncate_duckdb_logs()",
        "select write_log('x')",
    ]
    with server.client() as client:
        for sql in attempts:
            for kind in ("json", "arrow", "exec"):
                assert "--read-only" in error_of(client, sql, kind), (sql, kind)
        assert answer(client, "select * from query('select 42 x')") == [{"x": 42}]
        assert answer(client, "select key from __sqlrooms.main.ui_state where key = 'pwned'") == []
    assert not target.exists()
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("read_only", [False, True], ids=["writable", "read-only"])
def test_selects_with_modifying_words_run(
    start_server, read_only_db: Path, read_only: bool
) -> None:
    """Finding 03: classifying left a result open on the query's cursor."""
    server = start_server("--db-path", str(read_only_db), *(["--read-only"] * read_only))
    with server.client() as client:
        for sql, expected in [
            ("SELECT 1 AS updated_at", {"updated_at": 1}),
            ("SELECT 'insert' AS word", {"word": "insert"}),
            ("SELECT 42 AS merged_copy", {"merged_copy": 42}),
            ("select sum(x) deleted from t where 'copy' <> 'setseed'", {"deleted": 3}),
        ]:
            assert answer(client, sql) == [expected]
            assert answer(client, sql, kind="arrow").to_pylist() == [expected]


@pytest.mark.parametrize("read_only", [False, True], ids=["writable", "read-only"])
def test_many_ctes_do_not_stall_other_clients(
    start_server, read_only_db: Path, read_only: bool
) -> None:
    """Finding 05: 13,500 flat CTEs parse for seconds; not with the GIL held."""
    server = start_server("--db-path", str(read_only_db), *(["--read-only"] * read_only))
    ctes = "WITH " + ",".join(f"c{i} AS(SELECT 1)" for i in range(13_500)) + " SELECT 1 AS one"
    with server.client(max_size=None) as attacker, server.client() as other:
        assert answer(other, "select 1 x") == [{"x": 1}]
        for text, kind in [(ctes, "json"), (ctes + "; SELECT 1", "exec")]:
            attacker.send({"type": kind, "sql": text, "queryId": "bomb"})
            slowest = 0.0
            while True:
                started = time.monotonic()
                assert answer(other, "select 1 x") == [{"x": 1}]
                slowest = max(slowest, time.monotonic() - started)
                try:
                    frame = attacker.recv_json(timeout=0.05)
                except TimeoutError:
                    continue
                assert frame["queryId"] == "bomb"
                break
            # With the GIL held the stall was 5-7 s; the bound leaves room for a loaded machine.
            assert slowest < 3.0, (kind, slowest)  # answered (DuckDB's binder refuses it)
        assert answer(other, "select 1 x") == [{"x": 1}]
    assert "Traceback" not in server.log()


def test_a_readers_reject_tables_never_reach_other_connections(
    start_server, tmp_path: Path
) -> None:
    """A second review's finding: read_csv(store_rejects=…, rejects_table='users') made a
    temporary `users` on a pooled cursor, which the next client read instead of main.users."""
    db, csv = tmp_path / "x.db", tmp_path / "bad.csv"
    csv.write_text("a,b\n1,2\nx,3\n")
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE users(a INT, b INT); INSERT INTO users VALUES (42, 42)")
    server = start_server(
        "--db-path", str(db), "--read-only", "--allowed-directories", str(tmp_path),
        "--pool-size", "1",
    )  # fmt: skip
    attack = (
        f"SELECT * FROM read_csv('{csv}', store_rejects=true, rejects_table='users', "
        "rejects_scan='users_scan', columns={'a':'INTEGER','b':'INTEGER'})"
    )
    with server.client() as attacker:
        assert answer(attacker, attack) == [{"a": 1, "b": 2}]
    with server.client() as victim:
        assert answer(victim, "SELECT * FROM users") == [{"a": 42, "b": 42}]
