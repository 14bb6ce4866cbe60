"""The engine: one DuckDB connection, its threads, shared objects, queries and meta tables.

A composition: the `Workers` owns the pool and cursors (`engine.workers`:
tasks, cancel, progress), `SharedObjects` the notebook's shared objects, the
`QueryRunner` turns a request into a result, `MetaTables` the server's own
tables. A request enters by `run`, the one path for every kind. Several engines can live in one
process, and an engine can be closed and another opened on the same file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ..backpressure import Scheduler
from ..protocol import Export, ProtocolError, Query
from . import lake, results
from .cache import ResultCache
from .errors import Refused
from .meta_tables import MetaTables
from .query import Outcome, QueryRunner, Sink, Upload
from .sandbox import Sandbox
from .shared_objects import SharedObjects
from .workers import (
    Cancelled,
    Exhausted,
    Lane,
    Task,
    Unavailable,
    Work,
    Workers,
    default_pool_size,
)

log = logging.getLogger(__name__)

__all__ = [
    "Cancelled",
    "Engine",
    "EngineConfig",
    "Exhausted",
    "Outcome",
    "Sink",
    "Task",
    "Unavailable",
    "Upload",
    "is_expected_error",
]


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
    # The largest result built whole in memory (outside DuckDB's memory limit): a JSON
    # result over it is refused, a `persist` Arrow result over it is streamed, not cached.
    # The same as a connection's send buffer (`ServerConfig.send_buffer_limit`).
    max_whole_result: int = 64 << 20
    # Statements run once on the server's connection after it opens (`--init-sql`).
    init_sql: str = ""
    sandbox: Sandbox = field(default_factory=Sandbox)


# What a user loses without an extension, for the one-line start-up warning.
_EXTENSION_GIVES = {"httpfs": "https:// and s3:// paths are unavailable"}


def extension_warning(name: str, error: str) -> str:
    """One short line: what does not work and why (DuckDB's download error is a long URL)."""
    first = error.strip().splitlines()[0] if error.strip() else "unknown error"
    offline = "download" in first.lower()
    lost = _EXTENSION_GIVES.get(name)
    if lost:
        why = "is not installed (offline)" if offline else f"could not be loaded: {first[:80]}"
        return f"{lost}: the {name} extension {why}"
    why = "not installed (offline)" if offline else first[:80]
    return f"DuckDB extension '{name}' is unavailable: {why}"


def is_expected_error(exc: BaseException) -> bool:
    """Errors a client causes (bad SQL, cancels, refusals); anything else is a bug to log."""
    if isinstance(exc, (duckdb.Error, Cancelled, Unavailable, ProtocolError, Refused)):
        return True
    return type(exc).__module__.startswith("pyarrow")  # e.g. a truncated Arrow upload


class Engine:
    def __init__(
        self,
        config: EngineConfig | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.meta = MetaTables(self.config.meta_namespace, self.config.meta_db)
        self.shared = SharedObjects()
        self.workers = Workers(
            self.config.pool_size, self.config.conflict_retries, prepare=self._prepare_lane
        )
        self._given_connection = connection
        self._con: duckdb.DuckDBPyConnection | None = None
        self.runner: QueryRunner | None = None
        self.cache: ResultCache | None = None
        self.warnings: list[str] = []
        self.lakes: list[str] = []  # attached DuckLake catalogs (e.g. by --init-sql)

    # -- lifecycle ---------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Open, and not refusing work for lack of workers (see `Exhausted`)."""
        return self.workers.open and not self.workers.exhausted

    @property
    def blocked(self) -> int:
        """Cancelled queries still running: a read that `interrupt()` does not reach."""
        tasks = self.workers.tasks()
        return sum(task.cancelled.is_set() and not task.future.done() for task in tasks)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("engine is not open")
        return self._con

    def open(self) -> None:
        """Connect, load extensions and create the meta tables (blocking)."""
        cfg = self.config
        sandbox = cfg.sandbox
        con = self._given_connection or _connect(cfg.db_path, read_only=sandbox.read_only)
        try:
            # A connection lent by a notebook is in use on the kernel's thread too;
            # a cursor of its own keeps the set-up off that object.
            setup = con.cursor() if self._given_connection is not None else con
            lake.install_packaged_extensions(setup)
            for spec in cfg.extensions:
                self._load_extension(setup, spec)
            if not sandbox.read_only or cfg.meta_db:  # a read-only database gets no new tables
                self.meta.create(setup)
            if cfg.init_sql.strip():
                setup.execute(cfg.init_sql)
            use = lake.cursor_setup(setup)
            self.lakes = lake.ducklake_catalogs(setup)
            sandbox.apply(setup)  # last: it locks the configuration
            direct_select = results.direct_select(setup)
        except Exception:
            if self._given_connection is None:
                con.close()
            raise
        self.cache = ResultCache(cfg.cache_dir)
        self.runner = QueryRunner(
            cache=self.cache,
            direct_select=direct_select,
            read_only=sandbox.read_only,
            batch_rows=cfg.batch_rows,
            stream_chunk_bytes=cfg.stream_chunk_bytes,
            max_whole_result=cfg.max_whole_result,
            version=self._lake_version if self.lakes else None,
        )
        self._con = con
        self.workers.start(con, (lambda cursor: cursor.execute(use)) if use else None)

    def close(self, timeout: float = 3.0) -> None:
        """Cancel everything, checkpoint, close the connection (if ours) and the pool."""
        if self._con is None:
            return
        self.workers.stop(timeout)
        con, self._con = self._con, None
        if self._given_connection is None:
            for statement in ("FORCE CHECKPOINT", "CHECKPOINT"):
                try:
                    con.execute(statement)
                    break
                except duckdb.Error as exc:
                    log.warning("%s failed: %s", statement, exc)
            try:
                con.close()
            except duckdb.Error:
                if not self.blocked:
                    raise
                log.warning(
                    "%d queries are still blocked in reads that do not respond to cancel: "
                    "the database is closed when the process exits",
                    self.blocked,
                )
        else:
            self.meta.detach(con.cursor())
        if self.cache is not None:
            self.cache.close()
        self.workers.closing = False

    def _load_extension(self, con: duckdb.DuckDBPyConnection, spec: str) -> None:
        name, _, repository = spec.partition("@")
        try:
            con.load_extension(name)
            return
        except duckdb.Error:
            pass
        try:
            if "://" in repository:  # a mirror's address
                con.install_extension(name, repository_url=repository)
            elif repository:
                con.install_extension(name, repository=repository)
            else:
                con.install_extension(name)
            con.load_extension(name)
        except duckdb.Error as exc:
            message = extension_warning(name, str(exc))
            log.warning(message)
            self.warnings.append(message)

    # -- shared kernel objects ---------------------------------------------

    def share(self, name: str, obj: object) -> None:
        """Make a dataframe, Arrow table or relation queryable by clients as `name`."""
        probe = self._con.cursor() if self._con is not None else None
        self.shared.add(name, obj, probe)
        self._shared_changed()

    def unshare(self, name: str) -> bool:
        if not self.shared.remove(name):
            return False
        self._shared_changed()
        return True

    def _shared_changed(self) -> None:
        self.workers.retire_lanes()  # they may hold an object no longer shared
        if self.cache is not None:
            self.cache.invalidate()

    def _prepare_lane(self, lane: Lane, task: Task) -> None:
        if self.shared:
            self.shared.apply(lane, task.sql)

    # -- work ----------------------------------------------------------------

    def run(
        self,
        task: Task,
        request: Query | Export | Upload,
        sink: Sink,
        then: Callable[[Task], object],
        on: Scheduler,
    ) -> None:
        """Run one client request in the pool, its result through `sink`; `then(task)` is
        called through `on` (the event loop) once the outcome is in `task.future`."""
        self.workers.submit(task, self._work(request, sink), then, on)

    def _work(self, request: Query | Export | Upload, sink: Sink) -> Work:
        runner = self.runner
        if runner is None:
            return _not_open
        if isinstance(request, Query):
            return lambda cursor, task: runner.run(cursor, task, request, sink)
        if isinstance(request, Export):
            return lambda cursor, task: runner.export(cursor, task, request, sink)
        return lambda cursor, task: runner.upload_arrow(cursor, task, request)

    def _lake_version(self, cursor: duckdb.DuckDBPyConnection) -> str:
        return lake.snapshot_version(cursor, self.lakes)

    def status(self) -> dict[str, Any]:
        return {
            "shared": self.shared.names(),
            "cache": self.cache.stats() if self.cache else None,
            "warnings": list(self.warnings),
            "workers": self.workers.stats(),
        }


def _connect(db_path: str, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    if read_only:
        if db_path == ":memory:":
            raise ValueError("--read-only needs a database file (--db-path)")
        return duckdb.connect(str(Path(db_path).expanduser()), read_only=True)
    if db_path != ":memory:":
        path = Path(db_path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()  # e.g. made by mktemp: not a database yet
    return duckdb.connect(db_path)


def _not_open(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
    raise Unavailable("engine is not open")
