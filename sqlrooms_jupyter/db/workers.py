"""The threads that query one DuckDB connection, and how their work is cancelled.

Each task runs in the pool on a cursor of its own (a DuckDB connection to the
same database), so tasks run concurrently and `interrupt()` stops exactly one
of them. A cursor that only ran SELECTs is kept for the next task ("lanes"): a
fresh one costs a fifth of a small aggregate's time. No module-level state.

A cancelled task whose worker does not return (blocked in a read that
`interrupt()` cannot reach: a FIFO, a hung network file system) is written
off: a replacement takes its place, and the thread exits whenever it returns.
At most `max_written_off` threads are written off at once; a stuck worker beyond
that keeps its place, and new work is refused (`Exhausted`) until some return. So that
one client cannot use that bound up alone, an owner (a connection) with
`max_written_off_per_owner` written-off threads gets no new work started
(`OwnerStuck`) until some of them return: it can hold at most that many plus the
pool's size (the ones already running when it reached it).
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

from ..backpressure import Aborted, Flag, Scheduler

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


class Exhausted(Unavailable):
    """Too many workers are stuck in reads that do not answer to cancel."""

    def __init__(self, stuck: int) -> None:
        super().__init__(
            f"the server is out of workers: {stuck} cancelled queries are stuck in reads "
            "that do not respond to cancel (e.g. a FIFO or a hung network file system); "
            "new queries are refused until they return"
        )


class OwnerStuck(Unavailable):
    """This client's own stuck queries hold too many written-off workers."""

    def __init__(self, stuck: int) -> None:
        super().__init__(
            f"this connection has {stuck} cancelled queries stuck in reads that do not "
            "respond to cancel (e.g. a FIFO, /dev/stdin or a hung network file system); "
            "its new queries are refused until they return"
        )


# How long a cancelled task's worker may take to return before it is written off.
WRITE_OFF_AFTER = 1.0


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
        # When (time.monotonic) a worker started it; a query's time limit counts from here.
        self.started: float | None = None
        # Called on the worker when it starts the task (e.g. to arm the time limit).
        self.on_start: Callable[[Task], object] | None = None
        # The pool thread running it; set by that thread.
        self.worker: threading.Thread | None = None
        self.written_off = False
        # Why a task withdrawn before it ran was withdrawn, if not cancelled by its client.
        self.refusal: Exception | None = None

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    @property
    def running(self) -> bool:
        return self.cursor is not None


class _Pool:
    """Worker threads reading one queue; a thread is started when no worker is idle.

    What `ThreadPoolExecutor` does for this workers, minus its per-submit work
    item, shutdown lock and idle semaphore (a Python-level condition): submitting
    is one C queue put and a lock-guarded counter. Written-off threads do not
    count against `size`.
    """

    def __init__(self, size: int, name: str, max_written_off: int) -> None:
        self._size = size
        self._name = name
        self._max_written_off = max_written_off
        # Written-off threads by their task's owner (tasks without an owner not counted).
        self._written_off_by: dict[object, int] = {}
        self._queue: queue.SimpleQueue[tuple[Task, Callable[[Task], None]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._started = 0
        self._live = 0  # threads counted against `size`
        self._idle = 0  # live threads with no queued task meant for them
        self._backlog = 0  # queued tasks no thread is meant for yet
        self._written_off: set[threading.Thread] = set()
        # Cancelled tasks stuck on a thread that could not be written off (the limit).
        self._overdue: set[Task] = set()
        self._shut = False

    @property
    def exhausted(self) -> bool:
        """A stuck worker holds a place and cannot be written off (the limit is reached)."""
        return bool(self._overdue)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "size": self._size,
                "threads": self._live,
                "idle": self._idle,
                "queued": self._backlog,
                "written_off": len(self._written_off),
                "max_written_off": self._max_written_off,
                "stuck_unreplaced": len(self._overdue),
            }

    def submit(self, task: Task, run: Callable[[Task], None]) -> None:
        with self._lock:
            if self._shut:
                raise RuntimeError("pool is shut down")
            if self._overdue:
                raise Exhausted(len(self._written_off) + len(self._overdue))
            if self._idle:
                self._idle -= 1  # that worker is this task's
            elif self._live < self._size:
                self._start_thread()
            else:
                self._backlog += 1
        self._queue.put((task, run))

    def _start_thread(self) -> None:  # holding the lock
        thread = threading.Thread(
            target=self._work, name=f"{self._name}_{self._started}", daemon=True
        )
        self._started += 1
        self._live += 1
        thread.start()

    def write_off(self, task: Task) -> Exhausted | None:
        """Stop counting the thread that runs `task` (cancelled, not returning) and start
        another for queued work; at the limit, it waits until a written-off thread returns,
        and new work is refused meanwhile (returned: why)."""
        with self._lock:
            thread = task.worker
            # A done future: its thread has not yet looked whether it is written off.
            if thread is None or task.future.done() or thread in self._written_off:
                return None
            if len(self._written_off) < self._max_written_off:
                self._write_off(task, thread)
                return None
            self._overdue.add(task)
            refusal = Exhausted(len(self._written_off) + len(self._overdue))
        log.warning(
            "query %s does not respond to cancel, and %d threads are already written off: "
            "new queries are refused until some return",
            task.query_id,
            self._max_written_off,
        )
        return refusal

    def written_off_by(self, owner: object) -> int:
        """How many written-off threads are still stuck in `owner`'s tasks."""
        return self._written_off_by.get(owner, 0) if owner is not None else 0

    def _write_off(self, task: Task, thread: threading.Thread) -> None:  # holding the lock
        self._written_off.add(thread)
        task.written_off = True
        if task.owner is not None:
            self._written_off_by[task.owner] = self._written_off_by.get(task.owner, 0) + 1
        self._live -= 1
        if self._backlog:
            self._backlog -= 1
            self._start_thread()
        log.warning(
            "query %s does not respond to cancel (blocked in a read?): its thread is written "
            "off and replaced (%d written off, at most %d)",
            task.query_id,
            len(self._written_off),
            self._max_written_off,
        )

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            item = self._queue.get()
            if item is None:
                return
            task, run = item
            task.worker = me
            run(task)
            with self._lock:
                self._overdue.discard(task)
                if me in self._written_off:
                    self._written_off.discard(me)  # its place was taken: it ends here
                    self._returned(task.owner)
                    while self._overdue and len(self._written_off) < self._max_written_off:
                        waiting = self._overdue.pop()
                        if waiting.worker is not None and not waiting.future.done():
                            self._write_off(waiting, waiting.worker)
                    return
                if self._backlog:
                    self._backlog -= 1  # the next queued task is this thread's
                else:
                    self._idle += 1
            del item, task, run

    def _returned(self, owner: object) -> None:  # holding the lock
        if owner is None:
            return
        left = self._written_off_by.get(owner, 0) - 1
        if left > 0:
            self._written_off_by[owner] = left
        else:
            self._written_off_by.pop(owner, None)

    def shutdown(self) -> None:
        """Queued tasks are cancelled; running ones finish on their own."""
        with self._lock:
            self._shut = True
            threads = self._live
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


class Workers:
    def __init__(
        self,
        pool_size: int,
        conflict_retries: int = 5,
        *,
        max_written_off: int | None = None,
        max_written_off_per_owner: int | None = None,
        write_off_after: float = WRITE_OFF_AFTER,
        prepare: Prepare | None = None,
    ) -> None:
        self.pool_size = pool_size
        self.conflict_retries = conflict_retries
        # Threads stuck in uninterruptible reads beyond which new work is refused (a
        # blocked thread costs little: its stack and an idle cursor).
        self.max_written_off = 4 * pool_size if max_written_off is None else max_written_off
        # ... and beyond which one owner's new work is refused (4 by default, fewer for a
        # small pool, so that one owner holds at most a part of the bound).
        self.max_written_off_per_owner = (
            max(1, min(4, self.max_written_off // 4))
            if max_written_off_per_owner is None
            else max_written_off_per_owner
        )
        self.write_off_after = write_off_after
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pool: _Pool | None = None
        self._tasks: set[Task] = set()
        self._tasks_lock = threading.Lock()
        # Bumped when what lanes hold goes stale: lanes from before are not reused.
        self._generation = 0
        self._idle_lanes: list[Lane] = []
        self._lanes_lock = threading.Lock()
        self._prepare = prepare
        # Run on each new cursor, e.g. the `USE` that set-up SQL did on the connection.
        self._on_cursor: Callable[[duckdb.DuckDBPyConnection], object] | None = None
        self.closing = False

    @property
    def open(self) -> bool:
        return self._con is not None and not self.closing

    def start(
        self,
        con: duckdb.DuckDBPyConnection,
        on_cursor: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
    ) -> None:
        """Serve `con`; `on_cursor` runs on each new cursor of it."""
        self._on_cursor = on_cursor
        self.closing = False
        self._pool = _Pool(self.pool_size, "sqlrooms-query", self.max_written_off)
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

    @property
    def exhausted(self) -> bool:
        """Too many threads are written off: new work is refused until some return."""
        return self._pool is not None and self._pool.exhausted

    def stats(self) -> dict[str, int] | None:
        return self._pool.stats() if self._pool is not None else None

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
        if self._on_cursor is not None:
            try:
                self._on_cursor(cursor)
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

    def submit(
        self,
        task: Task,
        work: Work,
        then: Callable[[Task], object] | None = None,
        on: Scheduler | None = None,
    ) -> Task:
        """Run `work(cursor, task)` in the pool; the result lands in `task.future`, and
        `then(task)` is called through `on` (e.g. the event loop) once it is there.

        A task cancelled before it is submitted is not run (its future is done)."""
        if then is not None and on is not None:
            task.future.add_done_callback(lambda _: on.call_soon_threadsafe(then, task))
        if not self.open or self._pool is None:
            refusal = Unavailable(
                "server is shutting down" if self.closing else "engine is not open"
            )
            if then is None:
                raise refusal
            if not task.future.done():
                task.future.set_exception(refusal)
            return task
        if task.future.done():
            return task
        with self._tasks_lock:
            self._tasks.add(task)
        task.future.add_done_callback(lambda _: self._forget(task))
        try:
            self._check_owner(task)
            self._pool.submit(task, lambda task: self._run(task, work))
        except (Exhausted, OwnerStuck) as exc:
            task.future.set_exception(exc)
        except RuntimeError:
            task.future.set_exception(Unavailable("server is shutting down"))
        return task

    def _check_owner(self, task: Task) -> None:
        """Refuse to start work for an owner whose stuck tasks hold its share of workers."""
        stuck = self._pool.written_off_by(task.owner) if self._pool is not None else 0
        if stuck >= self.max_written_off_per_owner:
            raise OwnerStuck(stuck)

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
            self._check_owner(task)  # it may have waited while its owner's reads got stuck
            lane = self._take_lane(con)
            task.cursor = lane.cursor
            task.started = time.monotonic()
            succeeded = False
            try:
                if task.on_start is not None:
                    task.on_start(task)
                if self._prepare is not None:
                    self._prepare(lane, task)
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
        threading.Thread(target=self._interrupt_until_done, args=(task,), daemon=True).start()
        return True

    def _refuse_queued(self, refusal: Exhausted) -> None:
        """Queued tasks would wait for a stuck worker: they are answered now."""
        for task in self.tasks():
            if task.started is None and not task.future.done():
                task.refusal = refusal
                if not task.future.cancel():  # it just started
                    task.refusal = None

    def _interrupt_until_done(self, task: Task, limit: float = 10.0) -> None:
        """Interrupt until the task ends; a worker that has not returned after
        `write_off_after` is written off (its read may never return)."""
        now = time.monotonic()
        deadline, write_off_at = now + limit, now + self.write_off_after
        pool = self._pool
        while not task.future.done() and time.monotonic() < deadline:
            if pool is not None and time.monotonic() >= write_off_at:
                refusal = pool.write_off(task)
                if refusal is not None:
                    self._refuse_queued(refusal)
                pool = None
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
