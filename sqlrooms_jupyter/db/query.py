"""One protocol query on a worker's cursor: what it does, results, the cache, uploads.

Results leave unframed through a `Sink` (the session's framing): whole ones once
computed, large Arrow results and export files chunk by chunk. The cache keeps
them unframed too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb

from ..backpressure import Pieces
from ..protocol import Export, Query, quote_identifier
from . import export, ipc_size, parse_cost, results, statements
from .cache import ResultCache
from .errors import READ_ONLY_REFUSAL, Refused
from .statements import Statements
from .workers import Task

ST = duckdb.StatementType

# Longer SQL is not split into statements in Python: DuckDB's Python API holds the GIL
# in `extract_statements`, which stalls every other client for as long (a 250 KB text of
# flat CTEs: 7 s). It is classified by a query that parses it, GIL released
# (statements.classify_long), and a long SELECT is run as `SELECT * FROM query('...')`:
# DuckDB parses the text inside while binding, with the GIL released.
_CLASSIFY_BELOW = 16 << 10
# JSON text is counted against its bound batch by batch: smaller batches overshoot less
# (a batch of 64k rows of 1 KB is 64 MB on top of the bound).
_JSON_BATCH_ROWS = 8192
# An export's file goes to the client in binary messages of about this size.
EXPORT_CHUNK_BYTES = 1 << 20
# query() refuses anything but one SELECT with these; such text runs the usual way.
_NOT_ONE_SELECT = ("Expected a single SELECT statement", "not supported in query() function")


@dataclass
class Outcome:
    """What a query produced: `ok`, a whole payload, or a payload already streamed."""

    kind: str  # "ok" | "arrow" | "json"
    payload: Pieces | None = None


@dataclass(frozen=True)
class Upload:
    """An uploadArrow request: `table` validated and quoted, `data` an Arrow IPC stream
    whose data (decompressed) may be at most `max_bytes`."""

    query_id: str
    table: str
    data: memoryview
    max_bytes: int = 1 << 30


class Sink(Protocol):
    """Where one request's result goes, called on the worker computing it."""

    def whole(self, payload: Pieces) -> Pieces:
        """A whole result: framed, once the connection has room for it."""

    def chunk(self, pieces: Pieces, last: bool) -> None:
        """The next piece of a result sent as it is computed (waits for room)."""

    def abort(self) -> None:
        """The request failed: end a result already partly sent."""


class QueryRunner:
    def __init__(
        self,
        *,
        cache: ResultCache | None,
        direct_select: bool,
        read_only: bool = False,
        batch_rows: int,
        stream_chunk_bytes: int,
        max_whole_result: int = 64 << 20,
        version: Callable[[duckdb.DuckDBPyConnection], str] | None = None,
    ) -> None:
        self.cache = cache
        self._direct_select = direct_select
        self._read_only = read_only
        self._batch_rows = batch_rows
        self._stream_chunk_bytes = stream_chunk_bytes
        # JSON results and results to be cached are built whole: at most this large.
        self._max_whole_result = max_whole_result
        # The data's version (a lake's snapshot ids): part of a cached result's key, so a
        # result is never served once another replica changed the data.
        self._version = version
        # The database's functions and macros, read once (and again after a write).
        self._functions = statements.Functions()

    def run(
        self,
        cursor: duckdb.DuckDBPyConnection,
        task: Task,
        query: Query,
        sink: Sink | None = None,
    ) -> Outcome:
        """Execute one protocol query (in a worker thread); the outcome's payload is
        framed by `sink` (without one: unframed, never streamed)."""
        try:
            outcome = self._run(cursor, task, query, sink)
        except BaseException:
            if sink is not None:
                sink.abort()
            raise
        if sink is not None and outcome.payload is not None:
            outcome.payload = sink.whole(outcome.payload)
        return outcome

    def _run(
        self,
        cursor: duckdb.DuckDBPyConnection,
        task: Task,
        query: Query,
        sink: Sink | None,
    ) -> Outcome:
        parse_cost.check_nesting(query.sql)
        if query.progress:
            _track_progress(cursor, task)
        found = self._classify(cursor, query.sql)
        pure_read = found.pure_read
        types = found.types
        if self._read_only and not pure_read:
            raise Refused(READ_ONLY_REFUSAL)
        relation = None
        long_select = len(query.sql) >= _CLASSIFY_BELOW and found.types == (ST.SELECT,)
        if long_select and query.kind != "exec":
            relation = _long_select(cursor, query.sql)
        if query.kind == "exec":
            # `execute` leaves a SELECT's result open on the cursor: it is not kept.
            try:
                cursor.execute(query.sql)
            finally:
                if not pure_read:
                    self._changed()
            return Outcome("ok")
        # Only a cursor that ran nothing but reads, and nothing that changes the cursor's own
        # state (a random seed, profiling), goes back to the pool: anything else may have
        # left temporary objects, variables, settings or a transaction on it.
        task.cursor_reusable = pure_read and found.cursor_clean and not query.progress
        cache = self.cache if query.persist and pure_read else None
        if cache is None:
            try:
                return self._compute(cursor, task, query, types, sink, relation)
            finally:
                if not pure_read:
                    self._changed()
        version = self._version(cursor) if self._version else ""
        key = ResultCache.key(query.kind, f"{version}\n{query.sql}")
        with cache.computing(key):
            stored = cache.get(key)
            if stored is not None:
                return Outcome(query.kind, [stored])
            generation = cache.generation
            # Kept whole for the cache up to a bound; a larger one is streamed, not cached.
            outcome = self._compute(
                cursor, task, query, types, sink, relation, whole=self._max_whole_result
            )
            unchanged = not self._version or self._version(cursor) == version
            if outcome.payload is not None and unchanged:
                cache.put(key, b"".join(outcome.payload), generation)
            return outcome

    def _classify(self, cursor: duckdb.DuckDBPyConnection, sql: str) -> Statements:
        """What the text does (a long text parsed with the GIL released)."""
        if len(sql) >= _CLASSIFY_BELOW:
            return statements.classify_long(cursor, sql, self._functions)
        return statements.classify(cursor, sql, self._functions)

    def _changed(self) -> None:
        """After anything but a pure read: cached results and known macros may be stale."""
        self._functions.forget()
        self._invalidate()

    def _invalidate(self) -> None:
        if self.cache is not None:
            self.cache.invalidate()

    def _compute(
        self,
        cursor: duckdb.DuckDBPyConnection,
        task: Task,
        query: Query,
        types: tuple[Any, ...] | None,
        sink: Sink | None,
        relation: duckdb.DuckDBPyRelation | None = None,
        whole: int | None = None,
    ) -> Outcome:
        """The result; an Arrow one streamed past `stream_chunk_bytes` (or, given `whole`,
        past that many bytes)."""
        task.check()
        one_select = types == (duckdb.StatementType.SELECT,)
        direct = relation is None and self._direct_select and one_select
        if query.kind == "arrow" and direct:
            reader = results.select_batches(cursor, query.sql, self._batch_rows)
        else:
            if relation is None:
                relation = cursor.sql(query.sql)
            if relation is None or results.answers_ok(types or ()):
                return Outcome("ok")
            if query.kind == "json":
                records = results.json_records(
                    relation,
                    max_bytes=self._max_whole_result,
                    batch_rows=min(self._batch_rows, _JSON_BATCH_ROWS),
                )
                return Outcome("json", records)
            reader = results.record_batches(relation, self._batch_rows)
        payload = results.write_arrow(
            reader,
            inline_limit=self._stream_chunk_bytes,
            send=sink.chunk if sink is not None else None,
            check=task.check,
            whole_limit=whole,
        )
        return Outcome("arrow", payload)

    def export(
        self,
        cursor: duckdb.DuckDBPyConnection,
        task: Task,
        request: Export,
        sink: Sink,
    ) -> export.Exported:
        """Run one SELECT and send its result as a file, chunk by chunk (in a worker thread)."""
        parse_cost.check_nesting(request.sql)
        if request.progress:
            _track_progress(cursor, task)
        found = self._classify(cursor, request.sql)
        if not found.one_select:
            raise Refused("export: only a single SELECT statement that only reads can be exported")
        task.cursor_reusable = found.cursor_clean and not request.progress
        task.check()
        relation = export.writable(cursor.sql(request.sql), request.format)
        return export.write(
            results.record_batches(relation, self._batch_rows),
            request.format,
            chunk_bytes=EXPORT_CHUNK_BYTES,
            send=lambda chunk: sink.chunk(chunk, False),
            check=task.check,
        )

    def upload_arrow(
        self,
        cursor: duckdb.DuckDBPyConnection,
        task: Task,
        upload: Upload,
    ) -> None:
        """CREATE OR REPLACE the table from the IPC stream; one over its bound creates nothing."""
        import pyarrow as pa

        if self._read_only:
            raise Refused(READ_ONLY_REFUSAL)
        table = upload.table
        data = pa.py_buffer(upload.data)
        ipc_size.check_stream_size(data, upload.max_bytes, "uploadArrow")
        reader = pa.ipc.open_stream(data)
        view = f"__sqlrooms_upload_{threading.get_ident()}_{id(task)}"
        cursor.register(view, reader)
        try:
            task.check()
            cursor.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {quote_identifier(view)}"
            )
        finally:
            cursor.unregister(view)
            self._invalidate()


def _long_select(cursor: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyRelation | None:
    """A long text that is one SELECT, as a relation whose text DuckDB parses while binding
    (the GIL released); None when it is not one SELECT (or its result would differ)."""
    try:
        relation = cursor.sql("SELECT * FROM query(" + quote_literal(sql) + ")")
    except duckdb.ParserException as exc:
        if any(marker in str(exc) for marker in _NOT_ONE_SELECT):
            return None
        raise  # the text's own syntax error, as running it would have said
    if _renamed_duplicates(relation.columns):
        return None  # a subquery renames a duplicate column `a` to `a_1`; a query does not
    return relation


def _renamed_duplicates(columns: list[str]) -> bool:
    names = set(columns)
    return any(name.rpartition("_")[0] in names for name in columns if "_" in name)


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _track_progress(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
    """Have DuckDB track progress on this cursor (silently: no bar printed); a locked
    configuration (the sandbox) refuses it, and the query runs without progress."""
    try:
        cursor.execute("SET enable_progress_bar = true")
        cursor.execute("SET enable_progress_bar_print = false")
    except duckdb.Error:
        pass
