"""Encode DuckDB results as protocol payloads, in the worker thread that ran the query.

Arrow results are streamed: record batches from a streaming DuckDB result go
through pyarrow's IPC writer into the outgoing message buffer, so a large
result is never held as a table, then as bytes, then as a frame. JSON results
are serialised by DuckDB itself (`to_json`), which keeps every value exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .flow import StreamSender

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
# Statements that cannot change data; anything else invalidates the result cache.
READ_ONLY_STATEMENTS = frozenset({ST.SELECT, ST.EXPLAIN})


def statement_types(cursor: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    return [statement.type for statement in cursor.extract_statements(sql)]


def is_read_only(types: list[Any]) -> bool:
    return all(t in READ_ONLY_STATEMENTS for t in types)


def answers_ok(types: list[Any]) -> bool:
    return bool(types) and types[-1] in NO_RESULT_STATEMENTS


def record_batches(relation: duckdb.DuckDBPyRelation, rows: int) -> pa.RecordBatchReader:
    if hasattr(relation, "to_arrow_reader"):  # DuckDB >= 1.4 names
        return relation.to_arrow_reader(rows)
    return relation.fetch_record_batch(rows)


def arrow_table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    if hasattr(relation, "to_arrow_table"):
        return relation.to_arrow_table()
    return relation.arrow()


class _MessageBuffer:
    """File-like target for pyarrow's IPC writer; starts with the frame prefix."""

    closed = False

    def __init__(self, prefix: bytes) -> None:
        self.data = bytearray(prefix)

    def write(self, chunk: Any) -> int:
        self.data += chunk
        return len(chunk)

    def flush(self) -> None:
        pass

    def take(self) -> bytearray:
        data, self.data = self.data, bytearray()
        return data


def write_arrow(
    reader: pa.RecordBatchReader,
    prefix: bytes,
    *,
    inline_limit: int,
    stream: StreamSender | None,
    check: Callable[[], None],
) -> bytearray | None:
    """Write `prefix` + an Arrow IPC stream.

    Returns the whole message when it stays under `inline_limit` (or when no
    stream is given). Otherwise it is sent through `stream` in chunks of about
    `inline_limit` bytes, and None is returned. `check` raises to stop early.
    """
    buffer = _MessageBuffer(prefix)
    with pa.ipc.new_stream(buffer, reader.schema) as writer:
        for batch in reader:
            check()
            writer.write_batch(batch)
            if stream is not None and len(buffer.data) >= inline_limit:
                stream.send(buffer.take())
    if stream is not None and stream.started:
        stream.send(buffer.take(), last=True)
        return None
    return buffer.take()


# A JSON string, or a bare non-finite number as DuckDB writes it.
_NON_FINITE = re.compile(rb'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


def _quote_non_finite(match: re.Match[bytes]) -> bytes:
    token = match.group(1)
    return b'"' + token + b'"' if token else match.group(0)


def json_records(relation: duckdb.DuckDBPyRelation) -> bytes:
    """The rows as a JSON array text; see README "JSON values" for the mapping."""
    columns = relation.columns
    types = [str(t) for t in relation.types]
    if "BLOB" in types and len(set(columns)) == len(columns):
        from .protocol import quote_identifier

        projection = ", ".join(
            f"base64({quote_identifier(c)}) AS {quote_identifier(c)}"
            if t == "BLOB"
            else quote_identifier(c)
            for c, t in zip(columns, types, strict=True)
        )
        relation = relation.project(projection)
    rows = arrow_table(relation.set_alias("__sqlrooms_row").project("to_json(__sqlrooms_row)"))
    values = rows.column(0).combine_chunks()
    if len(values) == 0:
        return b"[]"
    offsets = pa.array([0, len(values)], pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, values), ",")[0]
    text = b"[" + joined.as_buffer().to_pybytes() + b"]"
    if b"NaN" in text or b"Infinity" in text:
        text = _NON_FINITE.sub(_quote_non_finite, text)
    return text
