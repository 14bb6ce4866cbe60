"""export: a SELECT's result as CSV or Parquet chunks that reassemble into a file DuckDB reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from sqlrooms_jupyter.backpressure import Pieces
from sqlrooms_jupyter.db import export, results

# Types the writers take natively and types they get as text.
SELECT = """
SELECT i::INTEGER AS i, i::BIGINT * 1000000000 AS big, i / 4 AS half,
       'row ' || i AS label, i % 2 = 0 AS even, (i / 100)::DECIMAL(10, 2) AS price,
       DATE '2024-01-01' + i::INTEGER AS day, INTERVAL (i) MINUTE AS span
FROM range({rows}) t(i)
"""


class Cancelled(Exception):
    pass


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _export(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    fmt: str,
    path: Path,
    *,
    chunk_bytes: int = 1 << 20,
    batch_rows: int = 1000,
) -> tuple[export.Exported, list[int]]:
    sizes: list[int] = []

    def send(pieces: Pieces) -> None:
        data = b"".join(bytes(piece) for piece in pieces)
        sizes.append(len(data))
        with path.open("ab") as out:
            out.write(data)

    relation = export.writable(con.sql(sql), fmt)
    done = export.write(
        results.record_batches(relation, batch_rows),
        fmt,
        chunk_bytes=chunk_bytes,
        send=send,
        check=lambda: None,
    )
    return done, sizes


def _read(con: duckdb.DuckDBPyConnection, fmt: str, path: Path) -> duckdb.DuckDBPyRelation:
    if fmt == "csv":
        return con.sql(f"SELECT * FROM read_csv('{path}', header = true)")
    return con.sql(f"SELECT * FROM read_parquet('{path}')")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_chunks_reassemble_into_the_same_rows(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"out.{fmt}"
    sql = SELECT.format(rows=5000)
    done, sizes = _export(con, sql, fmt, path)
    assert done.rows == 5000
    assert done.size == sum(sizes) == path.stat().st_size
    # Intervals (and, in CSV, dates) travel as DuckDB's own text.
    expected = con.sql(
        f"SELECT * REPLACE (span::VARCHAR AS span) FROM ({sql}) ORDER BY i"
    ).fetchall()
    back = _read(con, fmt, path)
    got = con.sql("SELECT * FROM back ORDER BY i").fetchall()
    if fmt == "csv":
        # CSV has no types: DuckDB's sniffer reads decimals as doubles, dates as dates.
        expected = [(*row[:5], float(row[5]), str(row[6]), *row[7:]) for row in expected]
        got = [(*row[:6], str(row[6]), *row[7:]) for row in got]
    assert got == expected
    del back


def test_parquet_keeps_duckdbs_types(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    sql = SELECT.format(rows=10)
    _export(con, sql, "parquet", path)
    source = con.sql(sql)
    back = _read(con, "parquet", path)
    types = dict(zip(back.columns, map(str, back.types), strict=True))
    wanted = dict(zip(source.columns, map(str, source.types), strict=True))
    wanted["span"] = "VARCHAR"  # Parquet's writer cannot take an interval
    assert types == wanted


def test_csv_keeps_numbers_as_numbers(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "typed.csv"
    _export(con, SELECT.format(rows=10), "csv", path)
    back = _read(con, "csv", path)
    types = dict(zip(back.columns, map(str, back.types), strict=True))
    assert types["i"] == "BIGINT" and types["big"] == "BIGINT"
    assert types["half"] == "DOUBLE" and types["even"] == "BOOLEAN"
    assert types["label"] == "VARCHAR"


def test_writable_casts_only_what_the_writer_cannot_take(con: duckdb.DuckDBPyConnection) -> None:
    relation = con.sql(SELECT.format(rows=1))
    assert export.writable(relation, "parquet").types[-1] == duckdb.sqltype("VARCHAR")
    assert str(export.writable(relation, "parquet").types[6]) == "DATE"
    assert str(export.writable(relation, "csv").types[6]) == "VARCHAR"
    plain = con.sql("SELECT 1 AS a")
    assert export.writable(plain, "csv") is plain


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_chunk_sizes_are_bounded(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CSV: batches gather into chunks of the bound, none larger than the bound and one batch.
    Parquet: one chunk per row group, then the footer."""
    chunk_bytes = 64 << 10
    monkeypatch.setattr(export, "ROW_GROUP_ROWS", 10_000)  # smaller groups, a quicker test
    rows = 35_000 if fmt == "parquet" else 20_000
    path = tmp_path / f"big.{fmt}"
    done, sizes = _export(
        con, SELECT.format(rows=rows), fmt, path, chunk_bytes=chunk_bytes, batch_rows=100
    )
    assert done.rows == rows
    if fmt == "csv":
        # A batch of 100 rows is well under 16 KB of CSV.
        assert len(sizes) > 1
        assert max(sizes) < chunk_bytes + (16 << 10)
        assert all(size >= chunk_bytes for size in sizes[:-1])
    else:
        assert len(sizes) == 4
    assert _read(con, fmt, path).aggregate("count(*)").fetchall() == [(rows,)]


def test_an_empty_result_is_still_a_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    for fmt in ("csv", "parquet"):
        path = tmp_path / f"empty.{fmt}"
        done, sizes = _export(con, "SELECT 1 AS a WHERE false", fmt, path)
        assert done.rows == 0 and len(sizes) == 1
        back = _read(con, fmt, path)
        assert back.columns == ["a"] and back.fetchall() == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_check_raising_stops_the_export(con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    checks = 0
    sent: list[int] = []

    def check() -> None:
        nonlocal checks
        checks += 1
        if checks == 3:
            raise Cancelled

    relation = export.writable(con.sql(SELECT.format(rows=100_000)), fmt)
    reader = results.record_batches(relation, 1000)
    with pytest.raises(Cancelled):
        export.write(
            reader,
            fmt,
            chunk_bytes=1,
            send=lambda pieces: sent.append(len(pieces)),
            check=check,
        )
    assert checks == 3
    # Stopped after two batches: at most two chunks went out, not a hundred.
    assert len(sent) <= 2
