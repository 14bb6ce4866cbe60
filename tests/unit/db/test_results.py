"""results: which statements answer ok, exact JSON values, and Arrow IPC written without copies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from sqlrooms_jupyter.db import results


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


ST = duckdb.StatementType


@pytest.mark.parametrize(
    ("types", "ok"),
    [
        ((ST.SELECT,), False),
        ((ST.CREATE,), True),
        ((ST.INSERT,), False),
        ((ST.CREATE, ST.SELECT), False),
        ((ST.SELECT, ST.DROP), True),
        ((ST.SET,), True),
        ((), False),
    ],
)
def test_which_statements_answer_ok(types: tuple[Any, ...], ok: bool) -> None:
    assert results.answers_ok(types) is ok


def _json(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The records as the client sees them: the protocol's string, decoded once."""
    pieces = results.json_records(con.sql(sql))
    content = b"".join(bytes(piece) for piece in pieces).decode()
    text = json.loads('"' + content + '"')
    assert isinstance(text, str)
    return text


def _exact(text: str) -> Any:
    """Parse keeping every number's digits as written."""
    return json.loads(text, parse_int=lambda s: ("int", s), parse_float=lambda s: ("float", s))


def test_json_numbers_keep_every_digit(con: duckdb.DuckDBPyConnection) -> None:
    text = _json(
        con,
        "SELECT 170141183460469231731687303715884105727::HUGEINT AS h, "
        "18446744073709551615::UBIGINT AS u, (-9223372036854775808)::BIGINT AS b, "
        "12345678901234567890.1234567890::DECIMAL(38,10) AS d, 9007199254740993 AS past_2_53",
    )
    assert _exact(text) == [
        {
            "h": ("int", "170141183460469231731687303715884105727"),
            "u": ("int", "18446744073709551615"),
            "b": ("int", "-9223372036854775808"),
            "d": ("float", "12345678901234567890.1234567890"),
            "past_2_53": ("int", "9007199254740993"),
        }
    ]


def test_json_floats_round_trip_and_name_non_finite_values(
    con: duckdb.DuckDBPyConnection,
) -> None:
    text = _json(
        con,
        "SELECT 0.1::DOUBLE AS tenth, -0.0::DOUBLE AS neg_zero, 1e308::DOUBLE AS big, "
        "5e-324::DOUBLE AS tiny, 'nan'::DOUBLE AS nan, 'inf'::DOUBLE AS inf, "
        "'-inf'::DOUBLE AS ninf, NULL::DOUBLE AS null_double, 1.5::FLOAT AS f",
    )
    (row,) = json.loads(text)
    assert row == {
        "tenth": 0.1,
        "neg_zero": -0.0,
        "big": 1e308,
        "tiny": 5e-324,
        "nan": "NaN",
        "inf": "Infinity",
        "ninf": "-Infinity",
        "null_double": None,
        "f": 1.5,
    }
    assert str(row["neg_zero"]) == "-0.0"


def test_json_non_finite_values_nested_and_look_alike_strings(
    con: duckdb.DuckDBPyConnection,
) -> None:
    text = _json(
        con,
        "SELECT [1.5, 'nan'::DOUBLE, '-inf'::DOUBLE] AS l, "
        """{'a': 'inf'::DOUBLE, 'b': 'says "NaN" and Infinity'} AS s, 'NaN' AS plain""",
    )
    assert json.loads(text) == [
        {
            "l": [1.5, "NaN", "-Infinity"],
            "s": {"a": "Infinity", "b": 'says "NaN" and Infinity'},
            "plain": "NaN",
        }
    ]


def test_json_text_blobs_and_temporal_values(con: duckdb.DuckDBPyConnection) -> None:
    text = _json(
        con,
        "SELECT 'a\"b\\c' || chr(10) || chr(9) || 'é☃' AS s, '\\x00\\xFF'::BLOB AS b, "
        "DATE '2024-02-29' AS d, TIMESTAMP '2024-01-01 12:34:56.789' AS ts, "
        "INTERVAL 1 DAY + INTERVAL 2 HOUR AS iv, true AS t, NULL::INTEGER AS n, "
        "'00000000-0000-0000-0000-000000000001'::UUID AS id, MAP {'k': 1} AS m",
    )
    assert json.loads(text) == [
        {
            "s": 'a"b\\c\n\té☃',
            "b": "AP8=",
            "d": "2024-02-29",
            "ts": "2024-01-01 12:34:56.789",
            "iv": "1 day 02:00:00",
            "t": True,
            "n": None,
            "id": "00000000-0000-0000-0000-000000000001",
            "m": {"k": 1},
        }
    ]


def test_json_duplicate_columns_and_empty_results(con: duckdb.DuckDBPyConnection) -> None:
    assert json.loads(_json(con, "SELECT 1 AS x, 2 AS x")) == [{"x": 1, "x_1": 2}]
    assert _json(con, "SELECT * FROM range(0) t(x)") == "[]"
    assert _json(con, "SELECT [1.5] AS l WHERE false") == "[]"


def test_json_many_batches_keep_order_and_commas(con: duckdb.DuckDBPyConnection) -> None:
    rows = json.loads(_json(con, "SELECT i, 'v' || i AS s FROM range(200000) t(i) ORDER BY i"))
    assert len(rows) == 200_000
    assert rows[0] == {"i": 0, "s": "v0"} and rows[-1] == {"i": 199_999, "s": "v199999"}


ARROW_SQL = (
    "SELECT i, i::HUGEINT * 1000000000000 AS h, i / 3 AS d, 'row ' || i AS s, "
    "[i, i + 1] AS l, {'k': i} AS st FROM range(10000) t(i)"
)


def test_write_arrow_inline_is_the_exact_table_unframed(con: duckdb.DuckDBPyConnection) -> None:
    expected = results.arrow_table(con.sql(ARROW_SQL))
    reader = results.record_batches(con.sql(ARROW_SQL), 1024)
    pieces = results.write_arrow(reader, inline_limit=1 << 30, send=None, check=lambda: None)
    assert pieces is not None
    whole = b"".join(bytes(piece) for piece in pieces)
    assert pa.ipc.open_stream(pa.py_buffer(whole)).read_all().equals(expected)


def test_select_batches_matches_the_relation_path(con: duckdb.DuckDBPyConnection) -> None:
    if not results.direct_select(con):
        pytest.skip("this DuckDB has no direct Arrow entry point")
    expected = results.arrow_table(con.sql(ARROW_SQL))
    assert results.select_batches(con, ARROW_SQL, 512).read_all().equals(expected)


def test_write_arrow_streams_large_results_in_chunks(con: duckdb.DuckDBPyConnection) -> None:
    expected = results.arrow_table(con.sql(ARROW_SQL))
    chunks: list[tuple[bytes, bool]] = []
    reader = results.record_batches(con.sql(ARROW_SQL), 1000)
    returned = results.write_arrow(
        reader,
        inline_limit=16 << 10,
        send=lambda pieces, last: chunks.append((b"".join(map(bytes, pieces)), last)),
        check=lambda: None,
    )
    assert returned is None
    assert len(chunks) > 3
    assert [last for _, last in chunks] == [False] * (len(chunks) - 1) + [True]
    whole = b"".join(chunk for chunk, _ in chunks)
    assert pa.ipc.open_stream(pa.py_buffer(whole)).read_all().equals(expected)


def test_write_arrow_stops_when_check_raises(con: duckdb.DuckDBPyConnection) -> None:
    batches: list[int] = []

    def check() -> None:
        batches.append(1)
        if len(batches) == 3:
            raise RuntimeError("cancelled")

    reader = results.record_batches(con.sql("SELECT * FROM range(100000) t(i)"), 100)
    with pytest.raises(RuntimeError, match="cancelled"):
        results.write_arrow(reader, inline_limit=1 << 30, send=None, check=check)
    assert len(batches) == 3


def test_escape_json_text_makes_string_content() -> None:
    raw = b'{"a":"x\\"y"}'
    assert json.loads(b'"' + results.escape_json_text(raw) + b'"') == raw.decode()


def test_json_blobs_are_base64_even_with_duplicate_column_names(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert json.loads(_json(con, "SELECT '\\xAB'::BLOB AS x, 1 AS x")) == [{"x": "qw==", "x_1": 1}]


def test_json_floats_are_shortest_for_their_own_width(con: duckdb.DuckDBPyConnection) -> None:
    assert _exact(_json(con, "SELECT 0.1::FLOAT AS f")) == [{"f": ("float", "0.1")}]
    text = _json(con, "SELECT '-0.0'::FLOAT AS z, 1e20::FLOAT AS big, 'nan'::FLOAT AS n")
    assert _exact(text) == [{"z": ("float", "-0.0"), "big": ("float", "1e+20"), "n": "NaN"}]
