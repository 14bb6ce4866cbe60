"""Export: a SELECT's result as a CSV or Parquet file, made by the server and streamed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.support import Client, ServerProcess

# Over a megabyte in either format: the file arrives in several chunks.
MANY_ROWS = (
    "select i, i * 0.5 as half, 'row ' || i as label, date '2024-01-01' + (i % 365)::int as day"
    " from range(300000) t(i)"
)
MIXED = (
    "select 1::tinyint as t, 170141183460469231731687303715884105727::hugeint as h,"
    " 1.50::decimal(10,2) as d, 'nan'::double as f, 'a,\"b' || chr(10) || 'c' as s,"
    " '\\xAA'::blob as b, timestamp '2024-01-01 12:34:56.789' as ts, interval 1 day as iv,"
    " [1, 2] as l, {'a': 1, 'b': 'x'} as st, map {'k': 1} as m, null::int as n"
)


def export(
    client: Client, sql: str, fmt: str, query_id: str = "x"
) -> tuple[bytes, dict[str, Any], int]:
    """Send an export; return the file, its terminal answer and how many chunks it took."""
    client.send({"type": "export", "sql": sql, "format": fmt, "queryId": query_id})
    chunks: list[bytes] = []
    while True:
        frame = client.recv(60)
        if isinstance(frame, dict):
            return b"".join(chunks), frame, len(chunks)
        header, payload = frame
        assert header == {"type": "export", "queryId": query_id, "format": fmt}
        chunks.append(payload)


def read_back(tmp_path: Path, data: bytes, fmt: str, sql: str) -> tuple[list[Any], list[Any]]:
    """The exported rows as DuckDB reads the file, and the query's own rows."""
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(data)
    con = duckdb.connect()
    reader = "read_csv" if fmt == "csv" else "read_parquet"
    exported = con.sql(f"select * from {reader}('{path}') order by all").fetchall()
    expected = con.sql(f"select * from ({sql}) order by all").fetchall()
    return exported, expected


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_streams_a_file_that_reads_back_as_the_query(
    server: ServerProcess, tmp_path: Path, fmt: str
) -> None:
    with server.client() as client:
        data, done, chunks = export(client, MANY_ROWS, fmt)
        assert done == {
            "type": "ok",
            "queryId": "x",
            "format": fmt,
            "rows": 300_000,
            "bytes": len(data),
        }
        assert chunks > 1
        exported, expected = read_back(tmp_path, data, fmt, MANY_ROWS)
        assert len(exported) == 300_000
        assert exported == expected
        # the socket goes on as before
        assert client.query("select 42 as answer").to_pylist() == [{"answer": 42}]


def test_export_parquet_keeps_types(server: ServerProcess) -> None:
    with server.client() as client:
        data, done, _ = export(client, MIXED, "parquet")
        assert done["rows"] == 1
    table = pq.read_table(io.BytesIO(data))
    expected = duckdb.sql(MIXED).to_arrow_table()
    row = table.to_pylist()[0]
    assert table.column_names == expected.column_names
    assert row["h"] == expected.column("h")[0].as_py()
    assert row["l"] == [1, 2] and row["st"] == {"a": 1, "b": "x"} and row["b"] == b"\xaa"
    assert row["iv"] == "1 day"  # Parquet from Arrow has no interval: DuckDB's text
    assert row["n"] is None


def test_export_csv_writes_every_type(server: ServerProcess, tmp_path: Path) -> None:
    with server.client() as client:
        data, done, _ = export(client, MIXED, "csv")
        assert done["rows"] == 1
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    row = duckdb.sql(f"select * from read_csv('{path}', all_varchar = true)").fetchall()[0]
    text = duckdb.sql(f"select columns(*)::varchar from ({MIXED})").fetchall()[0]
    assert row[:3] == ("1", "170141183460469231731687303715884105727", "1.50")
    assert row[4] == 'a,"b\nc'  # quoted and escaped: one field
    assert row[5:11] == text[5:11]  # blob, timestamp, interval, list, struct, map as DuckDB's text
    assert row[11] is None


def test_export_errors_carry_the_query_id(server: ServerProcess) -> None:
    with server.client() as client:
        _, done, chunks = export(client, "select * from missing_table", "csv", "bad")
        assert chunks == 0 and done["type"] == "error" and done["queryId"] == "bad"
        assert "missing_table" in done["error"]
        _, done, _ = export(client, "create table t (a int)", "parquet", "ddl")
        assert done == {
            "type": "error",
            "queryId": "ddl",
            "error": "export: only a single SELECT statement that only reads can be exported",
        }
        _, done, _ = export(client, "select 1; select 2", "csv", "two")
        assert done["queryId"] == "two" and "single SELECT" in done["error"]
        client.send({"type": "export", "sql": "select 1", "format": "xlsx", "queryId": "fmt"})
        assert client.recv_json() == {
            "type": "error",
            "queryId": "fmt",
            "error": "invalid 'format': expected one of csv, parquet",
        }
        never = "select count(*) as n from duckdb_tables() where table_name = 't'"
        assert client.query(never, kind="json") == [{"n": 0}]


def test_cancel_stops_an_export_mid_way(server: ServerProcess) -> None:
    sql = "select i, repeat('x', 50) as pad from range(100000000) t(i)"
    with server.client() as client:
        client.send({"type": "export", "sql": sql, "format": "csv", "queryId": "big"})
        header, first = client.recv(30)  # type: ignore[misc]
        assert header["queryId"] == "big" and first.startswith(b'"i","pad"\n0,')
        client.send({"type": "cancel", "queryId": "big"})
        frames = []
        while True:  # chunks already on their way may come first
            frame = client.recv(30)
            frames.append(frame)
            if isinstance(frame, dict) and frame.get("type") == "error":
                break
        texts = [f for f in frames if isinstance(f, dict)]
        assert texts == [
            {"type": "cancelAck", "queryId": "big", "cancelled": True},
            {"type": "error", "queryId": "big", "error": "Query was cancelled"},
        ]
        # nothing of it follows the error: the next frame answers the next query
        assert client.query("select 7 as seven", query_id="next").to_pylist() == [{"seven": 7}]


def test_export_under_the_sandbox(start_server: Any, tmp_path: Path) -> None:
    db = tmp_path / "data.db"
    with duckdb.connect(str(db)) as con:
        con.execute("create table t as select range as i from range(1000)")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    server = start_server(
        "--db-path", str(db), "--read-only", "--allowed-directories", str(allowed)
    )
    with server.client() as client:
        data, done, _ = export(client, "select * from t", "parquet")
        assert done["rows"] == 1000
        assert pq.read_table(io.BytesIO(data)).column("i").to_pylist() == list(range(1000))
        copy = client.query(f"copy t to '{allowed}/t.csv'", kind="exec", query_id="copy")
        assert copy["type"] == "error" and "read-only" in copy["error"]
    assert not any(allowed.iterdir())


def test_export_reports_progress_when_asked(server: ServerProcess) -> None:
    sql = "select a.range as i, b.range as j from range(3000) a, range(3000) b order by i desc, j"
    with server.client() as client:
        client.send(
            {"type": "export", "sql": sql, "format": "parquet", "queryId": "p", "progress": True}
        )
        progress = []
        while not isinstance(frame := client.recv(60), dict) or frame["type"] == "progress":
            if isinstance(frame, dict):
                progress.append(frame)
        assert frame["type"] == "ok" and frame["rows"] == 9_000_000
        assert progress, "no progress frame before the answer"
        assert all(p["queryId"] == "p" and 0 <= p["percentage"] <= 100 for p in progress)
