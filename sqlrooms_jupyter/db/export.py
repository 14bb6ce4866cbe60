"""A SELECT's result as a CSV or Parquet file, written in memory and sent in chunks.

Rows leave DuckDB as Arrow record batches and go through pyarrow's CSV or Parquet
writer into a buffer that is handed over chunk by chunk, each chunk waiting for the
connection's budget. No file is written on the server, so the sandbox stays whole: a
`COPY … TO` would need write access (`--read-only`) and a path outside
`--allowed-directories`. Memory stays bounded by a chunk and one Parquet row group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from ..backpressure import Pieces
from ..protocol import quote_identifier

# Column types pyarrow's writers take as DuckDB hands them over; others go as DuckDB's text.
_CSV_NATIVE = frozenset(
    {"boolean", "tinyint", "smallint", "integer", "bigint", "hugeint"}
    | {"utinyint", "usmallint", "uinteger", "ubigint", "float", "double", "decimal"}
    | {"varchar", "uuid", "enum"}
)
_PARQUET_AS_TEXT = frozenset({"interval", "union"})

# A Parquet row group is written once this many rows (or bytes of Arrow data) are buffered.
ROW_GROUP_ROWS = 1 << 17
ROW_GROUP_BYTES = 32 << 20


@dataclass
class Exported:
    rows: int = 0
    size: int = 0


def writable(relation: duckdb.DuckDBPyRelation, fmt: str) -> duckdb.DuckDBPyRelation:
    """The relation with every column the format's writer cannot take cast to VARCHAR."""
    ids = [str(t.id) for t in relation.types]
    if fmt == "csv":
        as_text = [i not in _CSV_NATIVE for i in ids]
    else:
        as_text = [i in _PARQUET_AS_TEXT for i in ids]
    if not any(as_text):
        return relation
    return relation.project(
        ", ".join(
            f"{quote_identifier(c)}::VARCHAR AS {quote_identifier(c)}"
            if text
            else quote_identifier(c)
            for c, text in zip(relation.columns, as_text, strict=True)
        )
    )


class _ChunkSink:
    """File-like target for pyarrow's writers: keeps what they write until it is taken."""

    closed = False

    def __init__(self) -> None:
        self.pieces: Pieces = []
        self.size = 0
        self.position = 0

    def write(self, data: Any) -> int:
        piece = bytes(data)  # the writers reuse their buffers
        self.pieces.append(piece)
        self.size += len(piece)
        self.position += len(piece)
        return len(piece)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> Pieces:
        pieces, self.pieces, self.size = self.pieces, [], 0
        return pieces


def write(
    reader: pa.RecordBatchReader,
    fmt: str,
    *,
    chunk_bytes: int,
    send: Callable[[Pieces], None],
    check: Callable[[], None],
) -> Exported:
    """Write the batches as `fmt`, calling `send` with each chunk of about `chunk_bytes`.

    `check` raises to stop early; at least one chunk is sent (a CSV header, a Parquet footer).
    """
    sink = _ChunkSink()
    done = Exported()

    def flush(force: bool = False) -> None:
        if sink.size and (force or sink.size >= chunk_bytes):
            done.size += sink.size
            send(sink.take())

    if fmt == "csv":
        with pa_csv.CSVWriter(sink, reader.schema) as csv_writer:
            for batch in reader:
                check()
                csv_writer.write_batch(batch)
                done.rows += batch.num_rows
                flush()
    else:
        pending: list[pa.RecordBatch] = []
        with pa_parquet.ParquetWriter(sink, reader.schema) as parquet_writer:
            for batch in reader:
                check()
                pending.append(batch)
                done.rows += batch.num_rows
                if (
                    sum(b.num_rows for b in pending) >= ROW_GROUP_ROWS
                    or sum(b.nbytes for b in pending) >= ROW_GROUP_BYTES
                ):
                    parquet_writer.write_table(pa.Table.from_batches(pending))
                    pending.clear()
                    flush()
            check()
            if pending:
                parquet_writer.write_table(pa.Table.from_batches(pending))
    flush(force=True)
    return done
