"""The engine owns one DuckDB connection and the threads that query it.

Each query runs in the engine's pool on a cursor of its own (a DuckDB
connection to the same database), so queries run concurrently and
`interrupt()` stops exactly one of them. A cursor that only ran SELECTs is
kept for the next query: a fresh one costs a fifth of a small aggregate's
time. No module-level state: several engines can live in one process, and an
engine can be closed and another opened on the same file.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from . import results
from .cache import ResultCache
from .flow import Aborted, Pieces, StreamSender
from .protocol import Query, arrow_prefix, quote_identifier, table_reference

log = logging.getLogger(__name__)
T = TypeVar("T")

_CONFLICT_MARKERS = ("transaction conflict", "conflict on", "write-write conflict")


def default_pool_size() -> int:
    # DuckDB parallelises each query internally, so pool threads mostly wait; a
    # pool much larger than the core count keeps short queries from queueing
    # behind long ones.
    return max(16, 4 * (os.cpu_count() or 2))


@dataclass
class EngineConfig:
    db_path: str = ":memory:"
    extensions: tuple[str, ...] = ("httpfs",)
    meta_namespace: str = "__sqlrooms"
    meta_db: str | None = None
    cache_dir: str | None = None
    pool_size: int = field(default_factory=default_pool_size)
    conflict_retries: int = 5
    batch_rows: int = 65_536
    # Arrow results larger than this are streamed in chunks of about this size.
    stream_chunk_bytes: int = 4 << 20


class Cancelled(Exception):
    pass


class Task:
    """One unit of work in the pool, cancellable until it finishes."""

    def __init__(self, kind: str, sql: str, query_id: str, owner: object = None) -> None:
        self.kind = kind
        self.sql = sql
        self.query_id = query_id
        self.owner = owner
        self.submitted = time.time()
        self.cancelled = threading.Event()
        self.cursor: duckdb.DuckDBPyConnection | None = None
        # Held while `cursor` is handed back, so that no interrupt meant for this
        # task reaches the cursor's next query.
        self.cursor_lock = threading.Lock()
        # Set by work that left no state on its cursor (only SELECTs ran).
        self.cursor_reusable = False
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    @property
    def running(self) -> bool:
        return self.cursor is not None


@dataclass
class _Lane:
    """A cursor kept between queries, with the shared objects registered on it."""

    cursor: duckdb.DuckDBPyConnection
    generation: int
    registered: set[str] = field(default_factory=set)


@dataclass
class Outcome:
    """What a query produced: `ok`, a whole payload, or a payload already streamed."""

    kind: str  # "ok" | "arrow" | "json"
    payload: bytes | bytearray | Pieces | None = None


class Engine:
    def __init__(
        self,
        config: EngineConfig | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self._given_connection = connection
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._tasks: set[Task] = set()
        self._tasks_lock = threading.Lock()
        self._shared: dict[str, object] = {}
        # Bumped when the registry changes: lanes from before are not reused.
        self._generation = 0
        self._idle_lanes: list[_Lane] = []
        self._lanes_lock = threading.Lock()
        self.cache: ResultCache | None = None
        self.warnings: list[str] = []
        self.closing = False
        self._direct_select = False

    # -- lifecycle ---------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._con is not None and not self.closing

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("engine is not open")
        return self._con

    def open(self) -> None:
        """Connect, load extensions and create the meta tables (blocking)."""
        cfg = self.config
        if self._given_connection is not None:
            con = self._given_connection
        else:
            if cfg.db_path != ":memory:":
                path = Path(cfg.db_path).expanduser()
                path.parent.mkdir(parents=True, exist_ok=True)
                if path.is_file() and path.stat().st_size == 0:
                    path.unlink()  # e.g. made by mktemp: not a database yet
            con = duckdb.connect(cfg.db_path)
        try:
            # A connection lent by a notebook is in use on the kernel's thread too;
            # a cursor of its own keeps the set-up off that object.
            setup = con.cursor() if self._given_connection is not None else con
            for spec in cfg.extensions:
                self._load_extension(setup, spec)
            self._create_meta_storage(setup)
            self._direct_select = results.direct_select(setup)
        except Exception:
            if self._given_connection is None:
                con.close()
            raise
        self.cache = ResultCache(cfg.cache_dir)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=cfg.pool_size, thread_name_prefix="sqlrooms-query"
        )
        self._con = con

    def close(self, timeout: float = 3.0) -> None:
        """Cancel everything, checkpoint, close the connection (if ours) and the pool."""
        if self._con is None:
            return
        self.closing = True
        for task in self.tasks():
            self.cancel(task)
        deadline = time.monotonic() + timeout
        for task in self.tasks():
            with contextlib.suppress(
                concurrent.futures.TimeoutError, concurrent.futures.CancelledError
            ):
                task.future.exception(timeout=max(0.0, deadline - time.monotonic()))
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lanes_lock:  # a query that outlives the wait above closes its cursor
            self._generation += 1
        self._drop_idle_lanes()
        con, self._con = self._con, None
        if self._given_connection is None:
            for statement in ("FORCE CHECKPOINT", "CHECKPOINT"):
                try:
                    con.execute(statement)
                    break
                except duckdb.Error as exc:
                    log.warning("%s failed: %s", statement, exc)
            con.close()
        elif self.config.meta_db:
            con.cursor().execute(f"DETACH {quote_identifier(self.config.meta_namespace)}")
        if self.cache is not None:
            self.cache.close()
        self.closing = False

    def _load_extension(self, con: duckdb.DuckDBPyConnection, spec: str) -> None:
        name, _, repository = spec.partition("@")
        try:
            con.load_extension(name)
            return
        except duckdb.Error:
            pass
        try:
            if repository:
                con.install_extension(name, repository=repository)
            else:
                con.install_extension(name)
            con.load_extension(name)
        except duckdb.Error as exc:
            message = f"DuckDB extension '{spec}' is not available: {str(exc).splitlines()[0]}"
            log.warning(message)
            self.warnings.append(message)

    def _create_meta_storage(self, con: duckdb.DuckDBPyConnection) -> None:
        namespace = quote_identifier(self.config.meta_namespace)
        if self.config.meta_db:
            meta_path = Path(self.config.meta_db).expanduser()
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            attached = {
                row[0]
                for row in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
            }
            if self.config.meta_namespace not in attached:
                con.execute(
                    f"ATTACH '{str(meta_path).replace(chr(39), chr(39) * 2)}' AS {namespace}"
                )
        else:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {namespace}")
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {namespace}.ui_state ("
            "key TEXT PRIMARY KEY, payload_json JSON, updated_at TIMESTAMPTZ DEFAULT now())"
        )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {namespace}.sync_rooms ("
            "room_id TEXT PRIMARY KEY, snapshot BLOB, updated_at TIMESTAMPTZ DEFAULT now())"
        )

    # -- shared kernel objects ---------------------------------------------

    def share(self, name: str, obj: object) -> None:
        """Make a dataframe, Arrow table or relation queryable by clients as `name`.

        `register()`-ed views live on one cursor only, so the registry is applied
        to each query's cursor. A RecordBatchReader can be read once, so it is
        read into a table here.
        """
        import pyarrow as pa

        table_reference(name)  # plain identifiers only
        if isinstance(obj, pa.RecordBatchReader):
            obj = obj.read_all()
        if self._con is not None:  # fail now, in the notebook, rather than in every query
            probe = self._con.cursor()
            try:
                probe.register(name, obj)
                probe.sql(f"SELECT * FROM {quote_identifier(name)} LIMIT 0")
            except duckdb.Error as exc:
                raise ValueError(
                    f"cannot share {type(obj).__name__} as '{name}': {str(exc).splitlines()[0]}"
                ) from None
            finally:
                probe.close()
        self._shared = {**self._shared, name: obj}
        self._registry_changed()

    def unshare(self, name: str) -> bool:
        if name not in self._shared:
            return False
        self._shared = {k: v for k, v in self._shared.items() if k != name}
        self._registry_changed()
        return True

    @property
    def shared(self) -> dict[str, object]:
        return dict(self._shared)

    def _registry_changed(self) -> None:
        with self._lanes_lock:
            self._generation += 1
        self._drop_idle_lanes()  # they may hold an object no longer shared
        self.invalidate_cache()

    def _register_shared(self, lane: _Lane, sql: str) -> None:
        # Registering costs about half a millisecond per object, so only the
        # objects a statement can name are registered on its cursor.
        text = sql.lower()
        for name, obj in self._shared.items():
            if name not in lane.registered and name.lower() in text:
                lane.cursor.register(name, obj)
                lane.registered.add(name)

    # -- cursors -----------------------------------------------------------

    def _take_lane(self, con: duckdb.DuckDBPyConnection) -> _Lane:
        with self._lanes_lock:
            if self._idle_lanes:
                return self._idle_lanes.pop()
            generation = self._generation
        return _Lane(con.cursor(), generation)

    def _give_back(self, lane: _Lane, reusable: bool) -> None:
        with self._lanes_lock:
            if reusable and lane.generation == self._generation and not self.closing:
                self._idle_lanes.append(lane)
                return
        lane.cursor.close()

    def _drop_idle_lanes(self) -> None:
        with self._lanes_lock:
            lanes, self._idle_lanes = self._idle_lanes, []
        for lane in lanes:
            with contextlib.suppress(duckdb.Error):
                lane.cursor.close()

    # -- running work ------------------------------------------------------

    def tasks(self) -> list[Task]:
        with self._tasks_lock:
            return list(self._tasks)

    def submit(self, task: Task, work: Callable[[duckdb.DuckDBPyConnection, Task], Any]) -> Task:
        """Run `work(cursor, task)` in the pool; the result lands in `task.future`."""
        if not self.ready or self._pool is None:
            raise RuntimeError("server is shutting down" if self.closing else "engine is not open")
        with self._tasks_lock:
            self._tasks.add(task)
        task.future.add_done_callback(lambda _: self._forget(task))
        try:
            self._pool.submit(self._run, task, work)
        except RuntimeError:
            task.future.set_exception(RuntimeError("server is shutting down"))
        return task

    def _forget(self, task: Task) -> None:
        with self._tasks_lock:
            self._tasks.discard(task)

    def _run(self, task: Task, work: Callable[[duckdb.DuckDBPyConnection, Task], Any]) -> None:
        if task.future.done() or not task.future.set_running_or_notify_cancel():
            return
        con = self._con
        try:
            if task.cancelled.is_set():
                raise Cancelled()
            if con is None:
                raise RuntimeError("server is shutting down")
            lane = self._take_lane(con)
            task.cursor = lane.cursor
            succeeded = False
            try:
                if self._shared:
                    self._register_shared(lane, task.sql)
                result = self._with_conflict_retry(task, lane.cursor, work)
                succeeded = True
            finally:
                with task.cursor_lock:
                    task.cursor = None
                # A cancelled task's cursor may have been interrupted after its query ended.
                reusable = succeeded and task.cursor_reusable and not task.cancelled.is_set()
                self._give_back(lane, reusable)
        except BaseException as exc:
            if task.cancelled.is_set() or isinstance(exc, (duckdb.InterruptException, Aborted)):
                exc = Cancelled()
            task.future.set_exception(exc)
        else:
            task.future.set_result(result)

    def _with_conflict_retry(
        self, task: Task, cursor: duckdb.DuckDBPyConnection, work: Callable[..., Any]
    ) -> Any:
        attempt = 0
        while True:
            try:
                return work(cursor, task)
            except duckdb.Error as exc:
                message = str(exc).lower()
                conflict = any(marker in message for marker in _CONFLICT_MARKERS)
                if (
                    not conflict
                    or attempt >= self.config.conflict_retries
                    or task.cancelled.is_set()
                ):
                    raise
                delay = min(0.01 * 2**attempt, 0.5) * (1 + 0.3 * random.random())
                log.info("transaction conflict, retry %d in %.0f ms", attempt + 1, delay * 1000)
                attempt += 1
                time.sleep(delay)

    def cancel(self, task: Task) -> bool:
        """Stop a task: a queued one never runs, a running one is interrupted."""
        if task.future.done():
            return False
        task.cancelled.set()
        if task.future.cancel():
            return True
        # An interrupt that lands just before DuckDB starts the statement is lost,
        # so keep interrupting until the worker gives up.
        threading.Thread(target=self._interrupt_until_done, args=(task,), daemon=True).start()
        return True

    @staticmethod
    def _interrupt_until_done(task: Task, limit: float = 10.0) -> None:
        deadline = time.monotonic() + limit
        while not task.future.done() and time.monotonic() < deadline:
            with task.cursor_lock:
                if task.cursor is not None:
                    with contextlib.suppress(duckdb.Error):
                        task.cursor.interrupt()
            try:
                task.future.exception(timeout=0.01)
            except concurrent.futures.TimeoutError:
                continue
            except concurrent.futures.CancelledError:
                return

    # -- queries -----------------------------------------------------------

    def run_query(
        self,
        cursor: duckdb.DuckDBPyConnection,
        task: Task,
        query: Query,
        stream: StreamSender | None,
    ) -> Outcome:
        """Execute one protocol query (in a worker thread)."""
        types = results.statement_types(cursor, query.sql)
        read_only = results.is_read_only(types)
        task.cursor_reusable = read_only
        if query.kind == "exec":
            try:
                cursor.execute(query.sql)
            finally:
                if not read_only:
                    self.invalidate_cache()
            return Outcome("ok")
        cache = self.cache if query.persist and read_only else None
        if cache is None:
            try:
                return self._compute(cursor, task, query, types, stream)
            finally:
                if not read_only:
                    self.invalidate_cache()
        key = ResultCache.key(query.kind, query.sql)
        with cache.computing(key):
            stored = cache.get(key)
            if stored is not None:
                return self._from_cache(query, stored)
            generation = cache.generation
            outcome = self._compute(cursor, task, query, types, None)
            if outcome.payload is not None:
                cache.put(key, self._cacheable(query, outcome.payload), generation)
            return outcome

    def _compute(
        self,
        cursor: duckdb.DuckDBPyConnection,
        task: Task,
        query: Query,
        types: list[Any],
        stream: StreamSender | None,
    ) -> Outcome:
        task.check()
        if query.kind == "arrow" and self._direct_select and types == [duckdb.StatementType.SELECT]:
            reader = results.select_batches(cursor, query.sql, self.config.batch_rows)
        else:
            relation = cursor.sql(query.sql)
            if relation is None or results.answers_ok(types):
                return Outcome("ok")
            if query.kind == "json":
                return Outcome("json", results.json_records(relation))
            reader = results.record_batches(relation, self.config.batch_rows)
        payload = results.write_arrow(
            reader,
            arrow_prefix(query.query_id),
            inline_limit=self.config.stream_chunk_bytes,
            stream=stream,
            check=task.check,
        )
        return Outcome("arrow", payload)

    @staticmethod
    def _cacheable(query: Query, payload: bytes | bytearray | Pieces) -> bytes:
        if isinstance(payload, list):  # JSON records
            return b"".join(payload)
        if query.kind == "arrow":  # store without the per-query frame prefix
            return bytes(payload[len(arrow_prefix(query.query_id)) :])
        return bytes(payload)

    @staticmethod
    def _from_cache(query: Query, stored: bytes) -> Outcome:
        if query.kind == "arrow":
            return Outcome("arrow", arrow_prefix(query.query_id) + stored)
        return Outcome("json", [stored])

    def invalidate_cache(self) -> None:
        if self.cache is not None:
            self.cache.invalidate()

    def upload_arrow(
        self, cursor: duckdb.DuckDBPyConnection, task: Task, table: str, ipc: memoryview
    ) -> None:
        """CREATE OR REPLACE `table` (already validated and quoted) from an IPC stream."""
        import pyarrow as pa

        reader = pa.ipc.open_stream(pa.py_buffer(ipc))
        view = f"__sqlrooms_upload_{threading.get_ident()}_{id(task)}"
        cursor.register(view, reader)
        try:
            task.check()
            cursor.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {quote_identifier(view)}"
            )
        finally:
            cursor.unregister(view)
            self.invalidate_cache()
