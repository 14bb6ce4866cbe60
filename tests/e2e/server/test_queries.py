"""Queries over a real WebSocket against the real CLI: results, errors, uploads, cache."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from decimal import Decimal

import pyarrow as pa
import pytest
import websockets

from tests.support import Client, ServerProcess, arrow_table, arrow_upload_frame


def test_arrow_result_is_one_framed_binary_message(server: ServerProcess) -> None:
    with server.client() as client:
        client.send(
            {"type": "arrow", "sql": "select 42::INTEGER as answer, 'hi' as s", "queryId": "q1"}
        )
        header, payload = client.recv()
        assert header == {"type": "arrow", "queryId": "q1"}
        assert arrow_table(payload).to_pylist() == [{"answer": 42, "s": "hi"}]


def test_missing_query_id_is_generated_and_echoed(server: ServerProcess) -> None:
    with server.client() as client:
        client.send({"type": "json", "sql": "select 1 as x"})
        frame = client.recv_json()
        assert frame["type"] == "json" and len(frame["queryId"]) >= 16
        client.send({"type": "exec", "sql": "select 1"})
        assert client.recv_json()["type"] == "ok"


def test_statements_without_result_set_answer_ok(server: ServerProcess) -> None:
    with server.client() as client:
        for kind in ("arrow", "json", "exec"):
            sql = f"create table t_{kind} (a int)"
            assert client.query(sql, kind=kind) == {"type": "ok", "queryId": "q"}
        assert client.query("insert into t_arrow values (1), (2)", kind="exec")["type"] == "ok"
        assert client.query("select sum(a) as s from t_arrow").to_pylist() == [{"s": 2 + 1}]
        # DML in an arrow query keeps DuckDB's row count
        assert client.query("insert into t_arrow values (3)").to_pylist() == [{"Count": 1}]


def test_error_carries_duckdb_message_and_socket_stays_usable(server: ServerProcess) -> None:
    with server.client() as client:
        frame = client.query("select * from no_such_table", query_id="bad")
        assert frame["type"] == "error" and frame["queryId"] == "bad"
        assert "no_such_table" in frame["error"] and "Catalog Error" in frame["error"]
        assert client.query("select 2 as x").to_pylist() == [{"x": 2}]


def test_json_values_are_exact(server: ServerProcess) -> None:
    sql = """select 0.1::double d, 1/3 third, 5e-324::double tiny, 1.7976931348623157e308 big,
      -0.0::double negzero, 'nan'::double nan, 'inf'::double pinf, '-inf'::double ninf,
      170141183460469231731687303715884105727::hugeint h, 18446744073709551615::ubigint ub,
      123.4500::decimal(18,4) dec, 12345678901234567890123456789012345678::decimal(38,0) d38,
      '\\x00\\xFFab'::blob b, 'e6b8a2ab-0e5c-4a3b-9b6e-6d1c1c2a3b4c'::uuid u,
      date '2024-02-29' dt, timestamp '2024-01-01 12:34:56.789' ts, time '12:00:01.5' tm,
      interval '1 day 2 hours' iv, null::int n, [1, 2, null] l, {'a': 1, 'b': 'x'} s,
      map {'k': 1} m, 'ok'::enum('ok', 'no') e, true bo, 'say "hi"\n\\ é' str"""
    with server.client() as client:
        [row] = client.query(sql, kind="json")
    assert row["d"] == 0.1 and row["third"] == 1 / 3
    assert row["tiny"] == 5e-324 and row["big"] == 1.7976931348623157e308
    assert math.copysign(1, row["negzero"]) == -1
    assert (row["nan"], row["pinf"], row["ninf"]) == ("NaN", "Infinity", "-Infinity")
    assert row["h"] == 2**127 - 1 and row["ub"] == 2**64 - 1
    assert Decimal(str(row["dec"])) == Decimal("123.45")
    assert row["d38"] == 12345678901234567890123456789012345678
    assert row["b"] == "AP9hYg=="  # base64 of 00 FF 61 62
    assert row["u"] == "e6b8a2ab-0e5c-4a3b-9b6e-6d1c1c2a3b4c"
    assert row["dt"] == "2024-02-29" and row["ts"] == "2024-01-01 12:34:56.789"
    assert row["tm"] == "12:00:01.5" and row["iv"] == "1 day 02:00:00"
    assert row["n"] is None and row["l"] == [1, 2, None] and row["s"] == {"a": 1, "b": "x"}
    assert row["m"] == {"k": 1} and row["e"] == "ok" and row["bo"] is True
    assert row["str"] == 'say "hi"\n\\ é'


def test_json_strings_that_look_like_non_finite_numbers_are_untouched(
    server: ServerProcess,
) -> None:
    with server.client() as client:
        rows = client.query("select 'NaN' a, 'x Infinity' b, 'nan'::double c", kind="json")
    assert rows == [{"a": "NaN", "b": "x Infinity", "c": "NaN"}]


def test_json_rows_keep_their_order_and_non_finite_values_anywhere(
    server: ServerProcess,
) -> None:
    columns = """range i, 'q"' || range || '\\' s,
        case when range % 997 = 0 then 'nan'::double else range / 4 end d"""
    nested = "case when range % 1499 = 0 then ['-inf'::double, 1.5] else [range::double] end l"
    with server.client() as client:
        flat = client.query(f"select {columns} from range(300000)", kind="json")
        deep = client.query(f"select {columns}, {nested} from range(300000)", kind="json")
    for rows in (flat, deep):
        assert [row["i"] for row in rows] == list(range(300_000))
        for i in (0, 1, 997, 1499, 299_999):
            assert rows[i]["s"] == f'q"{i}\\'
            assert rows[i]["d"] == ("NaN" if i % 997 == 0 else i / 4)
    assert deep[1499]["l"] == ["-Infinity", 1.5] and deep[1500]["l"] == [1500.0]


def test_empty_json_result(server: ServerProcess) -> None:
    with server.client() as client:
        assert client.query("select 1 as x where false", kind="json") == []


def test_fifty_queries_in_flight_finish_out_of_order(server: ServerProcess) -> None:
    async def run() -> list[str]:
        async with websockets.connect(server.url, max_size=None) as ws:
            for i in range(50):
                rows = (50 - i) * 400_000  # the first queries are the slowest
                sql = f"select {i} as i, sum(range % 7) as s from range({rows})"
                await ws.send(json.dumps({"type": "arrow", "sql": sql, "queryId": f"q{i}"}))
            order = []
            for _ in range(50):
                frame = await asyncio.wait_for(ws.recv(), 60)
                length = int.from_bytes(frame[:4], "big")
                header = json.loads(frame[4 : 4 + length])
                [row] = arrow_table(frame[4 + length :]).to_pylist()
                assert header["queryId"] == f"q{row['i']}"
                order.append(header["queryId"])
            return order

    order = asyncio.run(run())
    assert sorted(order) == sorted(f"q{i}" for i in range(50))
    assert order != [f"q{i}" for i in range(50)], "answers came back strictly in send order"


def test_duplicate_in_flight_query_id_is_refused(server: ServerProcess) -> None:
    long_sql = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"
    with server.client() as client:
        client.send({"type": "arrow", "sql": long_sql, "queryId": "dup"})
        client.send({"type": "arrow", "sql": "select 1", "queryId": "dup"})
        frame = client.recv_json()
        assert frame["type"] == "error" and "already in flight" in frame["error"]
        client.send({"type": "cancel", "queryId": "dup"})
        assert client.recv_json()["cancelled"] is True


def test_upload_arrow_creates_and_replaces_a_table(server: ServerProcess) -> None:
    table = pa.table({"id": [1, 2, 3], "name": ["a", "b", None]})
    with server.client() as client:
        client.send(arrow_upload_frame(table, "uploaded", "u1"))
        assert client.recv_json() == {"type": "uploadAck", "queryId": "u1"}
        assert client.query("select * from uploaded order by id").equals(table)
        client.query("create schema s2", kind="exec")
        client.send(arrow_upload_frame(table.slice(0, 1), "s2.uploaded", "u2"))
        assert client.recv_json() == {"type": "uploadAck", "queryId": "u2"}
        client.send(arrow_upload_frame(table.slice(0, 2), "uploaded", "u3"))
        assert client.recv_json()["type"] == "uploadAck"
        assert client.query("select count(*) as n from uploaded").to_pylist() == [{"n": 2}]
        assert client.query("select count(*) as n from s2.uploaded").to_pylist() == [{"n": 1}]


@pytest.mark.parametrize(
    "name", ['x"; drop table keep; --', "keep; drop table keep", "a.b.c", "", "1x"]
)
def test_upload_arrow_refuses_unsafe_table_names(server: ServerProcess, name: str) -> None:
    with server.client() as client:
        client.query("create table keep as select 1 as a", kind="exec")
        client.send(arrow_upload_frame(pa.table({"a": [1]}), name, "u"))
        frame = client.recv_json()
        assert frame["type"] == "error" and frame["queryId"] == "u"
        assert "tableName" in frame["error"]
        assert client.query("select count(*) as n from keep").to_pylist() == [{"n": 1}]


def test_upload_with_invalid_arrow_payload_is_an_error(server: ServerProcess) -> None:
    header = b'{"type":"uploadArrow","tableName":"t","queryId":"u"}'
    with server.client() as client:
        client.send(len(header).to_bytes(4, "big") + header + b"not arrow at all")
        frame = client.recv_json()
        assert frame["type"] == "error" and frame["queryId"] == "u"
        assert client.query("select 1 as ok").to_pylist() == [{"ok": 1}]


def test_persisted_results_are_cached_but_never_stale(server: ServerProcess) -> None:
    with server.client() as client:
        client.query("create table c as select 1 as v", kind="exec")
        sql = "select sum(v) as total, count(*) as n from c"
        assert client.query(sql, persist=True).to_pylist() == [{"total": 1, "n": 1}]
        assert client.query(sql, kind="json", persist=True) == [{"total": 1, "n": 1}]
        client.query("insert into c values (41)", kind="exec")
        assert client.query(sql, persist=True).to_pylist() == [{"total": 42, "n": 2}]
        assert client.query(sql, kind="json", persist=True) == [{"total": 42, "n": 2}]
        client.send(arrow_upload_frame(pa.table({"v": [5]}), "c", "up"))
        assert client.recv_json()["type"] == "uploadAck"
        assert client.query(sql, persist=True).to_pylist() == [{"total": 5, "n": 1}]
        # writes inside an arrow/json query invalidate too
        client.query("insert into c values (1)", kind="json")
        assert client.query(sql, persist=True).to_pylist() == [{"total": 6, "n": 2}]


def test_cache_serves_identical_results(start_server) -> None:
    cache_dir_server = start_server("--cache-dir", "cache")
    with cache_dir_server.client() as client:
        sql = "select range as x from range(1000)"
        first = client.query(sql, persist=True, query_id="a")
        second = client.query(sql, persist=True, query_id="b")
        assert first.equals(second) and first.num_rows == 1000


def test_conflicting_updates_are_retried(server: ServerProcess) -> None:
    with server.client() as client:
        client.query("create table counter as select 1 as id, 0 as v", kind="exec")
    errors: list[dict] = []

    def bump() -> None:
        with server.client() as client:
            for i in range(5):
                frame = client.query(
                    "update counter set v = v + 1 where id = 1", kind="exec", query_id=f"u{i}"
                )
                if frame["type"] != "ok":
                    errors.append(frame)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with server.client() as client:
        assert client.query("select v from counter").to_pylist() == [{"v": 40}]


def test_meta_tables_exist_in_the_namespace(start_server, tmp_path) -> None:
    server = start_server("--db-path", str(tmp_path / "main.db"), "--meta-namespace", "meta_ns")
    with server.client() as client:
        sql = (
            "select table_name from information_schema.tables where table_schema = 'meta_ns' "
            "order by 1"
        )
        assert client.query(sql, kind="json") == [
            {"table_name": "sync_rooms"},
            {"table_name": "sync_updates"},
            {"table_name": "ui_state"},
        ]


def test_meta_db_is_attached_under_the_namespace(start_server, tmp_path) -> None:
    meta = tmp_path / "meta" / "meta.db"
    server = start_server("--db-path", str(tmp_path / "main.db"), "--meta-db", str(meta))
    with server.client() as client:
        rows = client.query(
            "select database_name, path from duckdb_databases() where database_name = '__sqlrooms'",
            kind="json",
        )
        assert rows == [{"database_name": "__sqlrooms", "path": str(meta)}]
        assert client.query("select count(*) n from __sqlrooms.sync_rooms", kind="json") == [
            {"n": 0}
        ]
    assert meta.exists()


def test_large_arrow_result_streams_intact(server: ServerProcess) -> None:
    with server.client() as client:
        table = client.query(
            "select range as a, range * 2 as b, range::double / 3 as c from range(2000000)"
        )
        assert table.num_rows == 2_000_000
        assert table.column("a")[1_999_999].as_py() == 1_999_999
        # answers after a streamed result are intact and correctly correlated
        assert client.query("select 7 as x", query_id="after").to_pylist() == [{"x": 7}]


def test_two_clients_never_see_each_others_results(server: ServerProcess) -> None:
    with server.client() as alice, server.client() as mallory:
        for channel in ("q", "alice", "*", "__conn:1", "results"):
            mallory.send({"type": "subscribe", "channel": channel})
            assert mallory.recv_json()["type"] == "subscribed"
        assert alice.query("select 'secret' as s", query_id="q").to_pylist() == [{"s": "secret"}]
        mallory.send({"type": "arrow", "sql": "select 1 as mine", "queryId": "m"})
        header, payload = mallory.recv()
        assert header["queryId"] == "m"
        assert arrow_table(payload).to_pylist() == [{"mine": 1}]


def test_client_helper_roundtrip_against_fresh_connection(server: ServerProcess) -> None:
    with Client(server.url) as client:
        assert client.query("select 1 as one", kind="json") == [{"one": 1}]


def test_no_session_state_carries_over_to_the_next_query(start_server) -> None:
    # One pool thread, so every query runs where the one before it ran.
    server = start_server("--pool-size", "1")
    with server.client() as client:
        for sql in (
            "set variable leak = 42",
            "create temp table temp_leak as select 1 as a",
            "use __sqlrooms",
            "begin transaction",
        ):
            assert client.query(sql, kind="exec")["type"] == "ok"
            assert client.query("select 1 as warm").to_pylist() == [{"warm": 1}]
        assert client.query("select getvariable('leak') as v", kind="json") == [{"v": None}]
        frame = client.query("select * from temp_leak")
        assert frame["type"] == "error" and "temp_leak" in frame["error"]
        assert client.query("select current_schema() as s", kind="json") == [{"s": "main"}]
        # not inside the transaction begun above: this commits on its own
        assert client.query("create table after_begin (a int)", kind="exec")["type"] == "ok"
        with server.client() as other:
            assert other.query("select count(*) as n from after_begin", kind="json") == [{"n": 0}]


def test_a_cancel_that_lands_as_a_query_ends_never_stops_the_next_one(start_server) -> None:
    server = start_server("--pool-size", "1")
    quick = "select count(*) as n from range(200000) a where a.range % 7 = 0"
    with server.client() as client:
        for i in range(40):
            client.send({"type": "arrow", "sql": quick, "queryId": f"c{i}"})
            time.sleep(0.001 * (i % 8))  # sometimes before, sometimes after it ends
            client.send({"type": "cancel", "queryId": f"c{i}"})
            answers = {}
            while len(answers) < 2:
                frame = client.recv(10)
                header = frame[0] if isinstance(frame, tuple) else frame
                answers[header["type"] == "cancelAck"] = header
            assert client.query(f"select {i} as i", query_id=f"after{i}").to_pylist() == [{"i": i}]


def test_exec_of_a_select_leaves_no_open_result_for_the_next_query(start_server) -> None:
    server = start_server("--pool-size", "1")  # one lane: the next query gets its cursor
    with server.client() as client:
        assert client.query("select 1", kind="exec") == {"type": "ok", "queryId": "q"}
    with server.client() as client:
        frame = client.query("create or replace table t(x int)", kind="arrow")
        assert frame == {"type": "ok", "queryId": "q"}
        assert client.query("select count(*) n from t", kind="json") == [{"n": 0}]


PROGRESS_SQL = (
    "select count(*) n from range(25000000) a join range(25000000) b on a.range = b.range + 1"
)


def test_progress_frames_only_for_queries_that_ask(server) -> None:
    with server.client() as client:
        client.send({"type": "json", "sql": PROGRESS_SQL, "queryId": "p", "progress": True})
        frames = []
        while True:
            frame = client.recv_json(60)
            frames.append(frame)
            if frame["type"] != "progress":
                break
        assert frames[-1]["type"] == "json" and frames[-1]["queryId"] == "p"
        progress = [f["percentage"] for f in frames[:-1]]
        assert progress, "a multi-second join reports its progress"
        assert all(0 <= p <= 100 for p in progress)
        assert all(f["queryId"] == "p" for f in frames[:-1])

        client.send({"type": "json", "sql": PROGRESS_SQL, "queryId": "quiet"})
        assert client.recv_json(60)["type"] == "json"  # no progress frame came first
