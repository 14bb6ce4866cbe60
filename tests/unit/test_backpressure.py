"""backpressure: the byte budget between worker threads and the loop, and streamed results."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pyarrow as pa
import pytest

from sqlrooms_jupyter.backpressure import (
    BROKEN_STREAM_TAIL,
    Aborted,
    Backpressure,
    Pieces,
    ResultStream,
    StreamSender,
    size_of,
)
from tests.polling import stays_blocked, wait_until, wait_until_async


def _reserve_in_thread(
    budget: Backpressure, size: int, cancelled: threading.Event
) -> tuple[threading.Thread, list[BaseException | None]]:
    outcome: list[BaseException | None] = []

    def reserve() -> None:
        try:
            budget.reserve(size, cancelled)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=reserve, daemon=True)
    thread.start()
    return thread, outcome


def test_reserve_within_the_limit_accounts_at_once() -> None:
    budget = Backpressure(limit=100)
    budget.reserve(60, threading.Event())
    budget.reserve(40, threading.Event())
    assert budget.pending == 100
    budget.release(30)
    assert budget.pending == 70


def test_reserve_over_the_limit_waits_for_a_release() -> None:
    budget = Backpressure(limit=100)
    budget.reserve(80, threading.Event())
    thread, outcome = _reserve_in_thread(budget, 30, threading.Event())
    assert stays_blocked(thread)
    assert budget.pending == 80
    budget.release(80)
    thread.join(5)
    assert outcome == [None]
    assert budget.pending == 30


def test_a_chunk_larger_than_the_limit_passes_once_nothing_is_pending() -> None:
    budget = Backpressure(limit=10)
    budget.reserve(1_000, threading.Event())
    assert budget.pending == 1_000
    thread, outcome = _reserve_in_thread(budget, 1, threading.Event())
    assert stays_blocked(thread)
    budget.release(1_000)
    thread.join(5)
    assert outcome == [None]


def test_add_accounts_without_waiting_even_over_the_limit() -> None:
    budget = Backpressure(limit=10)
    budget.reserve(10, threading.Event())
    budget.add(5)
    assert budget.pending == 15


def test_cancelling_a_waiting_worker_aborts_it_and_accounts_nothing() -> None:
    budget = Backpressure(limit=10)
    budget.reserve(10, threading.Event())
    cancelled = threading.Event()
    thread, outcome = _reserve_in_thread(budget, 5, cancelled)
    assert stays_blocked(thread)
    cancelled.set()
    thread.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], Aborted)
    assert budget.pending == 10


def test_closing_aborts_waiting_workers_and_every_later_reserve() -> None:
    budget = Backpressure(limit=10)
    budget.reserve(10, threading.Event())
    thread, outcome = _reserve_in_thread(budget, 5, threading.Event())
    assert stays_blocked(thread)
    budget.close()
    thread.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], Aborted)
    budget.release(10)
    with pytest.raises(Aborted):
        budget.reserve(1, threading.Event())  # fits, but the connection is gone


def test_a_cancelled_query_cannot_reserve_even_when_it_fits() -> None:
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(Aborted):
        Backpressure(limit=100).reserve(1, cancelled)


def test_size_of_counts_pieces_and_whole_payloads() -> None:
    assert size_of(b"abc") == 3
    assert size_of(bytearray(b"abcd")) == 4
    assert size_of([b"ab", memoryview(b"cde"), b""]) == 5


def test_result_stream_yields_chunks_in_order_until_the_last() -> None:
    async def scenario() -> list[tuple[Pieces, bool]]:
        stream = ResultStream()
        stream.push([b"a"])
        stream.push([b"b", b"c"])
        stream.push([b"d"], last=True)
        stream.push([b"never read"], last=True)
        return [item async for item in stream.chunks()]

    assert asyncio.run(scenario()) == [([b"a"], False), ([b"b", b"c"], False), ([b"d"], True)]


async def _drain(
    sender_work: Callable[[StreamSender], None], budget: Backpressure, cancelled: threading.Event
) -> tuple[list[bytes], list[bool], int]:
    """Run `sender_work(sender)` in a worker thread; read the stream on this loop,
    releasing the budget as a socket would. Returns chunks, last flags, streams started."""
    loop = asyncio.get_running_loop()
    started: list[ResultStream] = []
    sender = StreamSender(loop, budget, cancelled, started.append)
    worker = loop.run_in_executor(None, sender_work, sender)
    chunks: list[bytes] = []
    lasts: list[bool] = []
    await wait_until_async(lambda: started or worker.done(), "the stream", interval=0.001)
    if started:
        async for chunk, last in started[0].chunks():
            data = b"".join(bytes(piece) for piece in chunk)
            chunks.append(data)
            lasts.append(last)
            budget.release(len(data))
    await worker
    return chunks, lasts, len(started)


def test_stream_sender_opens_once_and_delivers_every_chunk_within_the_budget() -> None:
    budget = Backpressure(limit=10)
    cancelled = threading.Event()
    peak: list[int] = []

    def work(sender: StreamSender) -> None:
        assert not sender.started
        for i in range(20):
            sender.send([b"x" * 4, bytes([i])], last=i == 19)
            peak.append(budget.pending)
        assert sender.started and sender.finished

    chunks, lasts, streams = asyncio.run(_drain(work, budget, cancelled))
    assert streams == 1
    assert chunks == [b"xxxx" + bytes([i]) for i in range(20)]
    assert lasts == [False] * 19 + [True]
    assert max(peak) <= 10  # two 5-byte chunks at most were waiting for the socket
    assert budget.pending == 0


def test_abort_ends_a_started_stream_with_a_broken_tail() -> None:
    budget = Backpressure(limit=1 << 20)

    def work(sender: StreamSender) -> None:
        sender.send([b"first"])
        sender.abort()
        sender.abort()  # once only

    chunks, lasts, _ = asyncio.run(_drain(work, budget, threading.Event()))
    assert chunks == [b"first", BROKEN_STREAM_TAIL]
    assert lasts == [False, True]
    assert budget.pending == 0


def test_abort_before_start_or_after_the_last_chunk_sends_nothing() -> None:
    budget = Backpressure(limit=1 << 20)

    def never_started(sender: StreamSender) -> None:
        sender.abort()
        assert not sender.started

    def finished(sender: StreamSender) -> None:
        sender.send([b"all"], last=True)
        sender.abort()

    assert asyncio.run(_drain(never_started, budget, threading.Event()))[2] == 0
    chunks, lasts, _ = asyncio.run(_drain(finished, budget, threading.Event()))
    assert (chunks, lasts) == ([b"all"], [True])


def test_a_cancelled_sender_raises_aborted_while_waiting_for_the_socket() -> None:
    async def scenario() -> BaseException | None:
        loop = asyncio.get_running_loop()
        budget = Backpressure(limit=4)
        cancelled = threading.Event()
        streams: list[ResultStream] = []
        sender = StreamSender(loop, budget, cancelled, streams.append)

        def work() -> BaseException | None:
            sender.send([b"1234"])
            try:
                sender.send([b"5678"])  # nobody reads: waits until cancelled
            except Aborted as exc:
                return exc
            return None

        worker = loop.run_in_executor(None, work)
        await asyncio.to_thread(wait_until, lambda: budget.pending == 4)
        finished, _ = await asyncio.wait([worker], timeout=0.1)
        assert not finished  # blocked on the budget, not failed
        cancelled.set()
        return await worker

    assert isinstance(asyncio.run(scenario()), Aborted)


def test_the_broken_tail_makes_an_arrow_reader_fail_instead_of_truncating() -> None:
    table = pa.table({"x": list(range(1000))})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    whole = sink.getvalue().to_pybytes()
    end_of_stream = 8  # continuation marker + zero length
    cut = whole[:-end_of_stream]
    assert pa.ipc.open_stream(cut).read_all().num_rows == 1000  # silently fine without a tail
    with pytest.raises((pa.ArrowInvalid, OSError)):
        pa.ipc.open_stream(cut + BROKEN_STREAM_TAIL).read_all()


def test_loop_inbox_runs_callbacks_in_order_with_one_wake_up_per_batch() -> None:
    from sqlrooms_jupyter.backpressure import LoopInbox

    async def body() -> tuple[list[int], int]:
        loop = asyncio.get_running_loop()
        inbox = LoopInbox(loop)
        ran: list[int] = []
        wakes = 0
        schedule = loop.call_soon_threadsafe

        def counting(callback: Callable[..., object], *args: object) -> asyncio.Handle:
            nonlocal wakes
            wakes += 1
            return schedule(callback, *args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]

        def post_many() -> None:
            for i in range(100):
                inbox.call_soon_threadsafe(ran.append, i)

        thread = threading.Thread(target=post_many)
        thread.start()  # the loop is not running callbacks meanwhile: one batch
        thread.join()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        inbox.call_soon_threadsafe(ran.append, 100)  # a new batch
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return ran, wakes

    ran, wakes = asyncio.run(body())
    assert ran == list(range(101))
    assert wakes == 2


def test_loop_inbox_keeps_going_after_a_failing_callback() -> None:
    from sqlrooms_jupyter.backpressure import LoopInbox

    async def body() -> tuple[list[str], list[dict[str, object]]]:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _, context: errors.append(context))
        inbox = LoopInbox(loop)
        ran: list[str] = []
        inbox.call_soon_threadsafe(lambda: 1 / 0)
        inbox.call_soon_threadsafe(ran.append, "after")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return ran, errors

    ran, errors = asyncio.run(body())
    assert ran == ["after"]
    assert isinstance(errors[0]["exception"], ZeroDivisionError)
