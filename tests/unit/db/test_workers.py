"""workers: the pool, cursors ("lanes"), cancellation and conflict retries."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from sqlrooms_jupyter.db.workers import Cancelled, Exhausted, Lane, Task, Unavailable, Workers
from tests.polling import wait_until

ENDLESS = "SELECT count(*) FROM range(1000000000000) a"


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture
def workers(con: duckdb.DuckDBPyConnection) -> Iterator[Workers]:
    pool = Workers(pool_size=2, conflict_retries=3)
    pool.start(con)
    yield pool
    pool.stop(timeout=5)


def _task(sql: str = "select 1", query_id: str = "q") -> Task:
    return Task("arrow", sql, query_id)


def _fetch(cursor: duckdb.DuckDBPyConnection, task: Task) -> Any:
    return cursor.sql(task.sql).fetchall()


def _select_only(cursor: duckdb.DuckDBPyConnection, task: Task) -> Any:
    task.cursor_reusable = True
    return cursor


def _not_reusable(cursor: duckdb.DuckDBPyConnection, task: Task) -> Any:
    return cursor


def test_submit_runs_work_on_a_cursor_and_resolves_the_future(workers: Workers) -> None:
    task = workers.submit(_task("select 40 + 2"), _fetch)
    assert task.future.result(5) == [(42,)]
    wait_until(lambda: workers.tasks() == [])


def test_an_error_in_the_work_reaches_the_future(workers: Workers) -> None:
    task = workers.submit(_task("select * from missing_table"), _fetch)
    with pytest.raises(duckdb.CatalogException):
        task.future.result(5)


def test_tasks_lists_what_is_in_flight(workers: Workers) -> None:
    release = threading.Event()

    def wait(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
        release.wait(5)

    task = workers.submit(_task(), wait)
    wait_until(lambda: task.running)
    assert workers.tasks() == [task]
    release.set()
    task.future.result(5)
    wait_until(lambda: workers.tasks() == [])
    assert not task.running


def test_submit_before_start_is_unavailable() -> None:
    pool = Workers(pool_size=1)
    assert not pool.open
    with pytest.raises(Unavailable, match="not open"):
        pool.submit(_task(), _fetch)


def test_submit_after_stop_is_unavailable(con: duckdb.DuckDBPyConnection) -> None:
    pool = Workers(pool_size=1)
    pool.start(con)
    pool.stop(timeout=1)
    assert not pool.open
    with pytest.raises(Unavailable, match="shutting down"):
        pool.submit(_task(), _fetch)


def test_cancel_a_running_query_interrupts_duckdb(workers: Workers) -> None:
    task = workers.submit(_task(ENDLESS), _fetch)
    wait_until(lambda: task.running)
    assert workers.cancel(task)
    with pytest.raises(Cancelled):
        task.future.result(10)
    assert not workers.cancel(task)  # already over


def test_cancel_a_queued_task_never_runs_it(con: duckdb.DuckDBPyConnection) -> None:
    pool = Workers(pool_size=1)
    pool.start(con)
    release = threading.Event()
    ran: list[str] = []

    def busy(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
        release.wait(5)

    def record(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
        ran.append(task.query_id)

    first = pool.submit(_task(query_id="busy"), busy)
    wait_until(lambda: first.running)
    queued = pool.submit(_task(query_id="queued"), record)
    assert not queued.running
    assert pool.cancel(queued)
    assert queued.future.cancelled()
    release.set()
    first.future.result(5)
    after = pool.submit(_task(query_id="after"), record)
    after.future.result(5)
    assert ran == ["after"]
    pool.stop(timeout=1)


def test_a_task_cancelled_before_submit_is_not_run(workers: Workers) -> None:
    ran: list[Task] = []
    task = _task()
    assert workers.cancel(task)

    def record(cursor: duckdb.DuckDBPyConnection, t: Task) -> None:
        ran.append(t)

    assert workers.submit(task, record) is task
    assert task.future.cancelled()
    assert workers.tasks() == []
    assert ran == []


def test_a_cancel_that_lands_before_duckdb_starts_is_not_lost(workers: Workers) -> None:
    """The interrupt may reach the cursor before its statement starts; the workers
    keeps interrupting until the worker gives up."""
    started = threading.Event()
    go = threading.Event()

    def late_start(cursor: duckdb.DuckDBPyConnection, task: Task) -> Any:
        started.set()
        go.wait(5)  # the cancel arrives now, while no statement runs
        return cursor.sql(ENDLESS).fetchall()

    task = workers.submit(_task(), late_start)
    wait_until(started.is_set)
    assert workers.cancel(task)
    go.set()
    with pytest.raises(Cancelled):
        task.future.result(10)


def test_a_cursor_that_ran_only_selects_is_reused(con: duckdb.DuckDBPyConnection) -> None:
    pool = Workers(pool_size=1)
    pool.start(con)
    first = pool.submit(_task(), _select_only).future.result(5)
    second = pool.submit(_task(), _select_only).future.result(5)
    assert second is first
    pool.stop(timeout=1)


def test_a_cursor_after_other_work_is_closed_not_reused(con: duckdb.DuckDBPyConnection) -> None:
    pool = Workers(pool_size=1)
    pool.start(con)
    first = pool.submit(_task(), _not_reusable).future.result(5)
    second = pool.submit(_task(), _select_only).future.result(5)
    assert second is not first
    with pytest.raises(duckdb.ConnectionException):
        first.sql("select 1")
    pool.stop(timeout=1)


def test_a_failed_or_cancelled_task_does_not_give_its_cursor_back(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pool = Workers(pool_size=1)
    pool.start(con)
    cursors: list[duckdb.DuckDBPyConnection] = []

    def fails(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
        task.cursor_reusable = True
        cursors.append(cursor)
        raise ValueError("boom")

    with pytest.raises(ValueError):
        pool.submit(_task(), fails).future.result(5)

    def cancelled_after_its_query(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
        task.cursor_reusable = True
        cursors.append(cursor)
        task.cancelled.set()  # as a cancel arriving right after the statement ended

    pool.submit(_task(), cancelled_after_its_query).future.result(5)  # it did finish
    third = pool.submit(_task(), _select_only).future.result(5)
    assert all(third is not c for c in cursors)
    pool.stop(timeout=1)


def test_retire_lanes_closes_idle_cursors_and_stales_busy_ones(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pool = Workers(pool_size=2)
    pool.start(con)
    inside = threading.Event()
    release = threading.Event()

    def busy(cursor: duckdb.DuckDBPyConnection, task: Task) -> Any:
        task.cursor_reusable = True
        inside.set()
        release.wait(5)
        return cursor

    running = pool.submit(_task(), busy)
    wait_until(inside.is_set)
    idle = pool.submit(_task(), _select_only).future.result(5)  # a second lane, now idle
    busy_cursor = running.cursor
    assert busy_cursor is not None and busy_cursor is not idle
    pool.retire_lanes()
    with pytest.raises(duckdb.ConnectionException):
        idle.sql("select 1")
    release.set()
    assert running.future.result(5) is busy_cursor
    # the busy lane was taken before the retirement: it is closed, not kept
    with pytest.raises(duckdb.ConnectionException):
        busy_cursor.sql("select 1")
    fresh = pool.submit(_task(), _select_only).future.result(5)
    assert fresh is not idle and fresh is not busy_cursor
    pool.stop(timeout=1)


def test_prepare_runs_on_the_lane_before_the_work(con: duckdb.DuckDBPyConnection) -> None:
    prepared: list[tuple[str, int]] = []

    def prepare(lane: Lane, task: Task) -> None:
        lane.registered.add(task.query_id)
        prepared.append((task.query_id, len(lane.registered)))
        lane.cursor.execute("SET VARIABLE prepared_for = ?", [task.query_id])

    pool = Workers(pool_size=1, prepare=prepare)
    pool.start(con)

    def read(cursor: duckdb.DuckDBPyConnection, task: Task) -> Any:
        task.cursor_reusable = True
        return cursor.sql("SELECT getvariable('prepared_for')").fetchall()[0]

    assert pool.submit(_task(query_id="a"), read).future.result(5) == ("a",)
    assert pool.submit(_task(query_id="b"), read).future.result(5) == ("b",)
    assert prepared == [("a", 1), ("b", 2)]  # the same lane, remembered between tasks
    pool.stop(timeout=1)


def _conflicting_update(con: duckdb.DuckDBPyConnection, holds: int) -> tuple[Any, list[int], Any]:
    """Work whose UPDATE meets a real write-write conflict for its first `holds` attempts:
    another transaction holds the row until then."""
    con.execute("CREATE OR REPLACE TABLE counter(id INTEGER PRIMARY KEY, v INTEGER)")
    con.execute("INSERT INTO counter VALUES (1, 0)")
    side = con.cursor()
    side.begin()
    side.execute("UPDATE counter SET v = v + 100 WHERE id = 1")
    attempts: list[int] = []

    def work(cursor: duckdb.DuckDBPyConnection, task: Task) -> Any:
        attempts.append(len(attempts) + 1)
        try:
            cursor.execute("UPDATE counter SET v = v + 1 WHERE id = 1")
        finally:
            if len(attempts) == holds:
                side.commit()
        return cursor.sql("SELECT v FROM counter").fetchall()[0]

    return work, attempts, side


def test_a_transaction_conflict_is_retried(
    workers: Workers, con: duckdb.DuckDBPyConnection
) -> None:
    work, attempts, _ = _conflicting_update(con, holds=2)
    task = workers.submit(_task(), work)
    assert task.future.result(10) == (101,)
    assert attempts == [1, 2, 3]


def test_conflict_retries_are_bounded(workers: Workers, con: duckdb.DuckDBPyConnection) -> None:
    work, attempts, side = _conflicting_update(con, holds=100)
    task = workers.submit(_task(), work)
    with pytest.raises(duckdb.TransactionException, match=r"(?i)conflict"):
        task.future.result(10)
    assert len(attempts) == workers.conflict_retries + 1
    side.rollback()


def test_other_errors_are_not_retried(workers: Workers) -> None:
    attempts: list[int] = []

    def bad(cursor: duckdb.DuckDBPyConnection, task: Task) -> Any:
        attempts.append(1)
        return cursor.sql("SELEC 1")

    with pytest.raises(duckdb.ParserException):
        workers.submit(_task(), bad).future.result(5)
    assert attempts == [1]


def test_stop_cancels_running_tasks_and_refuses_new_ones(con: duckdb.DuckDBPyConnection) -> None:
    pool = Workers(pool_size=2)
    pool.start(con)
    running = pool.submit(_task(ENDLESS), _fetch)
    wait_until(lambda: running.running)
    pool.stop(timeout=5)
    assert running.future.done()
    with pytest.raises((Cancelled, concurrent.futures.CancelledError)):
        running.future.result(0)
    assert pool.tasks() == []
    with pytest.raises(Unavailable):
        pool.submit(_task(), _fetch)


def test_the_pool_reuses_idle_threads_and_never_exceeds_its_size(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pool = Workers(pool_size=3)
    pool.start(con)
    threads: set[int] = set()

    def which(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
        threads.add(threading.get_ident())

    for i in range(20):  # one after the other: the one idle thread takes each
        pool.submit(_task(query_id=f"s{i}"), which).future.result(5)
        # The worker counts itself idle just after it sets the result.
        wait_until(lambda: pool._pool is not None and pool._pool._idle == 1)
    assert len(threads) == 1
    release = threading.Event()
    busy = [pool.submit(_task(query_id=f"b{i}"), lambda c, t: release.wait(5)) for i in range(5)]
    wait_until(lambda: sum(t.running for t in busy) == 3)
    assert stays_blocked_count(busy, 3)  # the other two wait for a thread
    release.set()
    for task in busy:
        task.future.result(5)
    pool.stop(timeout=5)


def stays_blocked_count(tasks: list[Task], running: int, window: float = 0.1) -> bool:
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        if sum(t.running for t in tasks) != running:
            return False
        time.sleep(0.005)
    return True


def test_stop_cancels_what_is_still_queued(con: duckdb.DuckDBPyConnection) -> None:
    pool = Workers(pool_size=1)
    pool.start(con)
    release = threading.Event()
    first = pool.submit(_task(query_id="busy"), lambda c, t: release.wait(5))
    wait_until(lambda: first.running)
    queued = [pool.submit(_task(query_id=f"q{i}"), _fetch) for i in range(3)]
    stopping = threading.Thread(target=pool.stop, kwargs={"timeout": 5})
    stopping.start()
    wait_until(lambda: all(t.future.done() for t in queued))
    assert all(t.future.cancelled() for t in queued)
    release.set()
    stopping.join(5)
    assert first.future.done()


def _query_threads() -> int:
    return sum(t.name.startswith("sqlrooms-query") for t in threading.enumerate())


def _stuck(release: threading.Event) -> Any:
    """Work that ignores cancel, as a read of a FIFO nobody writes does."""

    def work(cursor: duckdb.DuckDBPyConnection, task: Task) -> None:
        release.wait(30)

    return work


def test_a_worker_that_ignores_cancel_is_written_off_and_replaced(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pool = Workers(pool_size=1, max_written_off=2, write_off_after=0.05)
    pool.start(con)
    release = threading.Event()
    before = _query_threads()
    try:
        stuck = pool.submit(_task(query_id="stuck"), _stuck(release))
        wait_until(lambda: stuck.running)
        queued = pool.submit(_task("select 1", "queued"), _fetch)
        assert pool.cancel(stuck)
        # the queued task runs on a replacement while the stuck one still waits
        assert queued.future.result(5) == [(1,)]
        assert stuck.written_off and not stuck.future.done()
        stats = pool.stats()
        assert stats is not None and stats["written_off"] == 1 and stats["threads"] == 1
        assert pool.submit(_task("select 2", "later"), _fetch).future.result(5) == [(2,)]
        assert _query_threads() == before + 2
    finally:
        release.set()
    stuck.future.exception(5)  # its work returned
    # the written-off thread ends once its work returns: its place is free again
    wait_until(lambda: (pool.stats() or {}).get("written_off") == 0)
    wait_until(lambda: _query_threads() == before + 1)
    pool.stop(timeout=5)


def test_written_off_workers_are_bounded_then_work_is_refused(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pool = Workers(pool_size=1, max_written_off=1, write_off_after=0.05)
    pool.start(con)
    release = threading.Event()
    try:
        first = pool.submit(_task(query_id="first"), _stuck(release))
        wait_until(lambda: first.running)
        pool.cancel(first)
        wait_until(lambda: first.written_off)
        second = pool.submit(_task(query_id="second"), _stuck(release))
        wait_until(lambda: second.running)
        assert not pool.exhausted  # one written off, the pool is whole again
        queued = pool.submit(_task("select 1", "queued"), _fetch)
        pool.cancel(second)  # the limit is reached: this one keeps its place
        wait_until(lambda: pool.exhausted)
        # what waited for that worker is answered now, not when a stuck read returns
        assert queued.future.cancelled() and isinstance(queued.refusal, Exhausted)
        refused = pool.submit(_task("select 1", "refused"), _fetch)
        with pytest.raises(Exhausted, match="out of workers: 2 cancelled queries are stuck"):
            refused.future.result(5)
        assert not second.written_off
        stats = pool.stats() or {}
        assert stats["written_off"] == 1 and stats["stuck_unreplaced"] == 1
    finally:
        release.set()
    wait_until(lambda: not pool.exhausted)
    assert pool.submit(_task("select 3", "again"), _fetch).future.result(5) == [(3,)]
    pool.stop(timeout=5)


def test_a_cancel_that_takes_effect_is_not_written_off(workers: Workers) -> None:
    task = workers.submit(_task(ENDLESS), _fetch)
    wait_until(lambda: task.running)
    workers.cancel(task)
    with pytest.raises(Cancelled):
        task.future.result(10)
    time.sleep(workers.write_off_after + 0.1)  # the test: nothing is written off meanwhile
    assert not task.written_off
    assert (workers.stats() or {}).get("written_off") == 0


def test_on_start_runs_on_the_worker_when_the_task_starts(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pool = Workers(pool_size=1)
    pool.start(con)
    release = threading.Event()
    first = pool.submit(_task(query_id="busy"), lambda c, t: release.wait(5))
    wait_until(lambda: first.running)
    seen: list[tuple[str, float | None, bool]] = []
    queued = _task(query_id="queued")
    queued.on_start = lambda t: seen.append((threading.current_thread().name, t.started, t.running))
    pool.submit(queued, _fetch)
    time.sleep(0.1)
    assert seen == [] and queued.started is None  # waiting for a worker is not running
    submitted = time.monotonic()
    release.set()
    assert queued.future.result(5) == [(1,)]
    [(thread, started, running)] = seen
    assert thread.startswith("sqlrooms-query") and running
    assert started is not None and started >= submitted
    pool.stop(timeout=1)


def test_a_returning_written_off_thread_lets_a_waiting_stuck_one_be_written_off(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pool = Workers(pool_size=1, max_written_off=1, write_off_after=0.05)
    pool.start(con)
    release_first, release_second = threading.Event(), threading.Event()
    try:
        first = pool.submit(_task(query_id="first"), _stuck(release_first))
        wait_until(lambda: first.running)
        pool.cancel(first)
        wait_until(lambda: first.written_off)
        second = pool.submit(_task(query_id="second"), _stuck(release_second))
        wait_until(lambda: second.running)
        pool.cancel(second)
        wait_until(lambda: pool.exhausted)
        release_first.set()
        wait_until(lambda: second.written_off)
        assert not pool.exhausted
        assert pool.submit(_task("select 4", "next"), _fetch).future.result(5) == [(4,)]
    finally:
        release_first.set()
        release_second.set()
    wait_until(lambda: (pool.stats() or {}).get("written_off") == 0)
    pool.stop(timeout=5)
