"""Encode DuckDB results as protocol payloads, in the worker thread that ran the query.

Arrow results are streamed: record batches from a streaming DuckDB result go
through pyarrow's IPC writer into the outgoing message buffer, so a large
result is never held as a table, then as bytes, then as a frame. JSON results
are serialised by DuckDB itself (`to_json`), which keeps every value exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..backpressure import Pieces
from ..protocol import quote_identifier
from .errors import Refused

ST = duckdb.StatementType
# Statements DuckDB answers with a placeholder ("Success" or an empty "Count"):
# the protocol answers them with {"type":"ok"}. DML keeps DuckDB's row count.
NO_RESULT_STATEMENTS = frozenset(
    {
        ST.CREATE,
        ST.CREATE_FUNC,
        ST.DROP,
        ST.ALTER,
        ST.TRANSACTION,
        ST.SET,
        ST.VARIABLE_SET,
        ST.ATTACH,
        ST.DETACH,
        ST.LOAD,
        ST.EXTENSION,
        ST.VACUUM,
        ST.ANALYZE,
        ST.PREPARE,
    }
)


def answers_ok(types: Sequence[Any]) -> bool:
    return bool(types) and types[-1] in NO_RESULT_STATEMENTS


def record_batches(relation: duckdb.DuckDBPyRelation, rows: int) -> pa.RecordBatchReader:
    if hasattr(relation, "to_arrow_reader"):  # DuckDB >= 1.4 names
        return relation.to_arrow_reader(rows)
    return relation.fetch_record_batch(rows)


def select_batches(cursor: duckdb.DuckDBPyConnection, sql: str, rows: int) -> pa.RecordBatchReader:
    """One SELECT straight to a streaming Arrow reader (DuckDB >= 2.0, see `direct_select`).

    `cursor.sql()` binds the statement to build a relation and binds it again to
    run it; this runs it once, which saves about a third of a small query's time.
    """
    return cursor._submit(sql, None, "stream", rows).arrow_reader()


def direct_select(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this DuckDB runs a statement to Arrow the way `select_batches` asks."""
    try:
        reader = select_batches(con, "SELECT 42 AS answer", 1)
        return bool(reader.read_all().to_pylist() == [{"answer": 42}])
    except Exception:  # a DuckDB without that entry point, or with another signature
        return False


def arrow_table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    if hasattr(relation, "to_arrow_table"):
        return relation.to_arrow_table()
    return relation.arrow()


# Explicit options: without them pyarrow reads the environment for every stream it opens.
_IPC_OPTIONS = pa.ipc.IpcWriteOptions()


class _MessageBuffer:
    """File-like target for pyarrow's IPC writer that copies nothing.

    pyarrow hands over a batch's data as `Buffer` views of DuckDB's Arrow memory,
    which stay valid after the write; they are kept as pieces and go to the socket
    as they are. Copying them into one bytes object cost a third of a large result's time.
    """

    closed = False

    def __init__(self) -> None:
        self.pieces: Pieces = []
        self.size = 0

    def write(self, chunk: Any) -> int:
        piece = chunk if isinstance(chunk, bytes) else memoryview(chunk)
        self.pieces.append(piece)
        self.size += len(piece)
        return len(piece)

    def flush(self) -> None:
        pass

    def take(self) -> Pieces:
        pieces, self.pieces, self.size = self.pieces, [], 0
        return pieces


def write_arrow(
    reader: pa.RecordBatchReader,
    *,
    inline_limit: int,
    send: Callable[[Pieces, bool], None] | None,
    check: Callable[[], None],
    whole_limit: int | None = None,
) -> Pieces | None:
    """Write an Arrow IPC stream (unframed: the session frames it).

    Returns the whole stream, as pieces, when it stays under `whole_limit` (default:
    `inline_limit`), or when there is no `send`. Otherwise it goes to `send(chunk, last)`
    in chunks of about `inline_limit` bytes, and None is returned. `check` raises to
    stop early.
    """
    buffer = _MessageBuffer()
    keep = inline_limit if whole_limit is None else whole_limit
    streaming = False
    with pa.ipc.new_stream(buffer, reader.schema, options=_IPC_OPTIONS) as writer:
        for batch in reader:
            check()
            writer.write_batch(batch)
            if send is not None and buffer.size >= (inline_limit if streaming else keep):
                streaming = True
                send(buffer.take(), False)
    if streaming:
        assert send is not None
        send(buffer.take(), True)
        return None
    return buffer.take()


# A JSON string, or a bare non-finite number as DuckDB writes it.
_NON_FINITE = re.compile(rb'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')
_FLOATS = frozenset({"DOUBLE", "FLOAT"})
_ROW = "__sqlrooms_row"


def _quote_non_finite(match: re.Match[bytes]) -> bytes:
    token = match.group(1)
    return b'"' + token + b'"' if token else match.group(0)


def escape_json_text(text: bytes) -> bytes:
    """JSON text as the content of a JSON string (DuckDB's JSON has no raw control characters)."""
    return text.replace(b"\\", b"\\\\").replace(b'"', b'\\"')


class ResultTooLarge(Refused):
    """A result that would be built whole in memory over the server's bound."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"JSON result over this server's limit of {limit:,} bytes (a JSON result is "
            "built whole in memory); ask for it as Arrow (type 'arrow'), which is streamed, "
            "or add a LIMIT"
        )


def json_records(
    relation: duckdb.DuckDBPyRelation, *, max_bytes: int | None = None, batch_rows: int = 65_536
) -> Pieces:
    """The rows as a JSON array text, escaped as the content of a JSON string, which is how
    the protocol carries it (docs/protocol.md, "JSON values", has the mapping). Pieces of it,
    in fact: one per record batch, never joined.

    DuckDB writes each row already escaped and followed by a comma, so the text
    is the Arrow column's value buffer as it is: nothing is escaped, split or
    joined in Python. Numbers need no escaping; NaN and ±Infinity become strings.
    Over `max_bytes`, `ResultTooLarge` is raised as soon as that is known (batch by batch).
    """
    relation = _blobs_as_base64(relation)
    columns, types = relation.columns, [str(t) for t in relation.types]
    nested_floats = any(f in t for t in types if t not in _FLOATS for f in _FLOATS)
    if nested_floats or len(set(columns)) != len(columns):
        return [escape_json_text(_plain_records(relation, max_bytes, batch_rows))]
    rows = record_batches(relation.project(_escaped_row(columns, types)), batch_rows)
    out: Pieces = [b"["]
    size = 0
    for batch in rows:
        if len(batch):
            piece = _value_bytes(batch.column(0))
            size += len(piece)
            if max_bytes is not None and size > max_bytes:
                raise ResultTooLarge(max_bytes)
            out.append(piece)
    if len(out) > 1:
        out[-1] = out[-1][:-1]  # the last row's comma
    out.append(b"]")
    return out


# Types DuckDB's to_json writes as bare numbers or booleans: nothing to escape.
_BARE = frozenset(
    {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)


def _escaped_row(columns: list[str], types: list[str]) -> str:
    """SQL for one row as escaped JSON object text plus a comma: `{\\"a\\":1},`."""
    parts = []
    for i, (name, type_) in enumerate(zip(columns, types, strict=True)):
        key = escape_json_text(json.dumps(name, ensure_ascii=False).encode()).decode()
        parts.append(_sql_string(("{" if i == 0 else ",") + key + ":"))
        parts.append(_escaped_value(quote_identifier(name), type_))
    parts.append("'},'")
    return f"concat({', '.join(parts)})"


def _escaped_value(column: str, type_: str) -> str:
    # to_json widens a FLOAT to DOUBLE (0.1 -> 0.10000000149011612); its own text is shortest.
    as_json = f"{column}::VARCHAR" if type_ == "FLOAT" else f"to_json({column})::VARCHAR"
    if type_ in _FLOATS:
        return (
            f"CASE WHEN isfinite({column}) THEN {as_json} WHEN {column} IS NULL THEN 'null' "
            f"""WHEN isnan({column}) THEN '\\"NaN\\"' WHEN {column} > 0 THEN '\\"Infinity\\"' """
            f"""ELSE '\\"-Infinity\\"' END"""
        )
    if type_ in _BARE or type_.startswith("DECIMAL"):
        return f"coalesce({as_json}, 'null')"
    return f"""coalesce(replace(replace({as_json}, '\\', '\\\\'), '"', '\\"'), 'null')"""


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value_bytes(chunk: pa.Array) -> memoryview:
    """A string array's values back to back, without copying them."""
    if chunk.type == pa.string():
        width = 4
    elif chunk.type == pa.large_string():
        width = 8
    else:
        return _value_bytes(chunk.cast(pa.large_string()))
    offsets, data = memoryview(chunk.buffers()[1]), memoryview(chunk.buffers()[2])

    def offset(i: int) -> int:
        return int.from_bytes(offsets[i * width : (i + 1) * width], "little", signed=True)

    return data[offset(chunk.offset) : offset(chunk.offset + len(chunk))]


def _join(values: pa.Array) -> pa.Buffer:
    offsets = pa.array([0, len(values)], pa.int32())
    return pc.binary_join(pa.ListArray.from_arrays(offsets, values), ",")[0].as_buffer()


def _blobs_as_base64(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    columns = relation.columns
    types = [str(t) for t in relation.types]
    if "BLOB" not in types:
        return relation
    # Positional references (`#1`): names may repeat.
    return relation.project(
        ", ".join(
            (f"base64(#{i})" if t == "BLOB" else f"#{i}") + f" AS {quote_identifier(c)}"
            for i, (c, t) in enumerate(zip(columns, types, strict=True), start=1)
        )
    )


def _plain_records(
    relation: duckdb.DuckDBPyRelation, max_bytes: int | None, batch_rows: int
) -> bytes:
    """The rows as plain JSON text, non-finite numbers quoted (the general, slower path)."""
    rows = record_batches(relation.set_alias(_ROW).project(f"to_json({_ROW})"), batch_rows)
    parts, size = [], 0
    for batch in rows:
        if len(batch):
            part = _join(batch.column(0)).to_pybytes()
            size += len(part) + 1
            if max_bytes is not None and size > max_bytes:
                raise ResultTooLarge(max_bytes)
            parts.append(part)
    if not parts:
        return b"[]"
    text: bytes = b"[" + b",".join(parts) + b"]"
    if b"NaN" in text or b"Infinity" in text:
        text = _NON_FINITE.sub(_quote_non_finite, text)
    return text
