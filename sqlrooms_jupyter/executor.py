"""The threads that query one DuckDB connection, and how their work is cancelled.

Each task runs in the pool on a cursor of its own (a DuckDB connection to the
same database), so tasks run concurrently and `interrupt()` stops exactly one
of them. A cursor that only ran SELECTs is kept for the next task ("lanes"): a
fresh one costs a fifth of a small aggregate's time. No module-level state.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from .flow import Aborted, Flag

log = logging.getLogger(__name__)

_CONFLICT_MARKERS = ("transaction conflict", "conflict on", "write-write conflict")

Work = Callable[[duckdb.DuckDBPyConnection, "Task"], Any]
# Called on the worker, with the task's cursor, before its work runs.
Prepare = Callable[["Lane", "Task"], None]


def default_pool_size() -> int:
    # DuckDB parallelises each query internally, so pool threads mostly wait; a
    # pool much larger than the core count keeps short queries from queueing
    # behind long ones.
    return max(16, 4 * (os.cpu_count() or 2))


class Cancelled(Exception):
    pass


class Unavailable(RuntimeError):
    """The engine is not open yet, or shutting down."""


class Task:
    """One unit of work in the pool, cancellable from the moment it exists."""

    def __init__(self, kind: str, sql: str, query_id: str, owner: object = None) -> None:
        self.kind = kind
        self.sql = sql
        self.query_id = query_id
        self.owner = owner
        self.submitted = time.time()
        self.cancelled = Flag()
        self.cursor: duckdb.DuckDBPyConnection | None = None
        # Held while `cursor` is handed back, so that no interrupt meant for this
        # task reaches the cursor's next query.
        self.cursor_lock = threading.Lock()
        # Set by work that left no state on its cursor (only SELECTs ran, results drained).
        self.cursor_reusable = False
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    @property
    def running(self) -> bool:
        return self.cursor is not None


class _Pool:
    """Worker threads reading one queue; a thread is started when no worker is idle.

    What `ThreadPoolExecutor` does for this executor, minus its per-submit work
    item, shutdown lock and idle semaphore (a Python-level condition): submitting
    is one C queue put and a lock-guarded counter.
    """

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Task, Callable[[Task], None]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._shut = False

    def submit(self, task: Task, run: Callable[[Task], None]) -> None:
        with self._lock:
            if self._shut:
                raise RuntimeError("pool is shut down")
            if self._idle:
                self._idle -= 1  # that worker is this task's
            elif len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._queue.put((task, run))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            task, run = item
            run(task)
            del item, task, run
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        """Queued tasks are cancelled; running ones finish on their own."""
        with self._lock:
            self._shut = True
            threads = len(self._threads)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].future.cancel()
        for _ in range(threads):
            self._queue.put(None)


@dataclass
class Lane:
    """A cursor kept between tasks, with the shared objects registered on it."""

    cursor: duckdb.DuckDBPyConnection
    generation: int
    registered: set[str] = field(default_factory=set)


class Executor:
    def __init__(self, pool_size: int, conflict_retries: int = 5) -> None:
        self.pool_size = pool_size
        self.conflict_retries = conflict_retries
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pool: _Pool | None = None
        self._tasks: set[Task] = set()
        self._tasks_lock = threading.Lock()
        # Bumped when what lanes hold goes stale: lanes from before are not reused.
        self._generation = 0
        self._idle_lanes: list[Lane] = []
        self._lanes_lock = threading.Lock()
        self.prepare: Prepare | None = None
        # Run on each new cursor, e.g. the `USE` that set-up SQL did on the connection.
        self.on_cursor: Callable[[duckdb.DuckDBPyConnection], object] | None = None
        self.closing = False

    @property
    def open(self) -> bool:
        return self._con is not None and not self.closing

    def start(self, con: duckdb.DuckDBPyConnection) -> None:
        self._pool = _Pool(self.pool_size, "sqlrooms-query")
        self._con = con

    def stop(self, timeout: float) -> None:
        """Cancel every task, wait up to `timeout` for them, close the lanes."""
        self.closing = True
        for task in self.tasks():
            self.cancel(task)
        deadline = time.monotonic() + timeout
        for task in self.tasks():
            with contextlib.suppress(
                concurrent.futures.TimeoutError, concurrent.futures.CancelledError
            ):
                task.future.exception(timeout=max(0.0, deadline - time.monotonic()))
        if self._pool is not None:
            self._pool.shutdown()
        self.retire_lanes()  # a task that outlives the wait above closes its cursor
        self._con = None

    # -- lanes ---------------------------------------------------------------

    def retire_lanes(self) -> None:
        """Lanes in use are closed when their task ends; idle ones now."""
        with self._lanes_lock:
            self._generation += 1
            lanes, self._idle_lanes = self._idle_lanes, []
        for lane in lanes:
            with contextlib.suppress(duckdb.Error):
                lane.cursor.close()

    def _take_lane(self, con: duckdb.DuckDBPyConnection) -> Lane:
        with self._lanes_lock:
            if self._idle_lanes:
                return self._idle_lanes.pop()
            generation = self._generation
        cursor = con.cursor()
        if self.on_cursor is not None:
            try:
                self.on_cursor(cursor)
            except BaseException:
                cursor.close()
                raise
        return Lane(cursor, generation)

    def _give_back(self, lane: Lane, reusable: bool) -> None:
        with self._lanes_lock:
            if reusable and lane.generation == self._generation and not self.closing:
                self._idle_lanes.append(lane)
                return
        lane.cursor.close()

    # -- tasks ---------------------------------------------------------------

    def tasks(self) -> list[Task]:
        with self._tasks_lock:
            return list(self._tasks)

    def submit(self, task: Task, work: Work) -> Task:
        """Run `work(cursor, task)` in the pool; the result lands in `task.future`.

        A task cancelled before it is submitted is not run (its future is done)."""
        if not self.open or self._pool is None:
            raise Unavailable("server is shutting down" if self.closing else "engine is not open")
        if task.future.done():
            return task
        with self._tasks_lock:
            self._tasks.add(task)
        task.future.add_done_callback(lambda _: self._forget(task))
        try:
            self._pool.submit(task, lambda task: self._run(task, work))
        except RuntimeError:
            task.future.set_exception(Unavailable("server is shutting down"))
        return task

    def _forget(self, task: Task) -> None:
        with self._tasks_lock:
            self._tasks.discard(task)

    def _run(self, task: Task, work: Work) -> None:
        if task.future.done() or not task.future.set_running_or_notify_cancel():
            return
        con = self._con
        try:
            if task.cancelled.is_set():
                raise Cancelled()
            if con is None:
                raise Unavailable("server is shutting down")
            lane = self._take_lane(con)
            task.cursor = lane.cursor
            succeeded = False
            try:
                if self.prepare is not None:
                    self.prepare(lane, task)
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
        self, task: Task, cursor: duckdb.DuckDBPyConnection, work: Work
    ) -> Any:
        attempt = 0
        while True:
            try:
                return work(cursor, task)
            except duckdb.Error as exc:
                message = str(exc).lower()
                conflict = any(marker in message for marker in _CONFLICT_MARKERS)
                if not conflict or attempt >= self.conflict_retries or task.cancelled.is_set():
                    raise
                delay = min(0.01 * 2**attempt, 0.5) * (1 + 0.3 * random.random())
                log.info("transaction conflict, retry %d in %.0f ms", attempt + 1, delay * 1000)
                attempt += 1
                time.sleep(delay)

    @staticmethod
    def progress(task: Task) -> float | None:
        """DuckDB's progress (0-100) of the task's running statement, if it tracks one."""
        with task.cursor_lock:
            cursor = task.cursor
            if cursor is None:
                return None
            try:
                value = float(cursor.query_progress())
            except duckdb.Error:
                return None
        return value if value >= 0 else None

    def cancel(self, task: Task) -> bool:
        """Stop a task: a queued (or not yet submitted) one never runs, a running one is
        interrupted."""
        if task.future.done():
            return False
        task.cancelled.set()
        if task.future.cancel():
            return True
        # An interrupt that lands just before DuckDB starts the statement is lost,
        # so keep interrupting until the worker gives up.
        threading.Thread(target=_interrupt_until_done, args=(task,), daemon=True).start()
        return True


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
