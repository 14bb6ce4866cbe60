"""In-flight queries: one terminal answer per queryId, cancel, time limits, queue, limits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from sqlrooms_jupyter import protocol
from sqlrooms_jupyter.backpressure import Backpressure, IsSet
from sqlrooms_jupyter.session import Limits

from .harness import send, server, until

SLOW = "SELECT sum(i) FROM range(100000000000) t(i)"


def test_each_kind_gets_its_answer() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            send(session, type="exec", sql="CREATE TABLE t AS SELECT 42 AS x", queryId="e")
            await until(lambda: connection.answers("e"))
            send(session, type="arrow", sql="SELECT x FROM t", queryId="a")
            send(session, type="json", sql="SELECT x FROM t", queryId="j")
            await until(lambda: connection.answers("a") and connection.answers("j"))
            assert connection.answers("e") == [{"type": "ok", "queryId": "e"}]
            assert connection.answers("a")[0].to_pydict() == {"x": [42]}
            assert connection.answers("j") == [
                {"type": "json", "queryId": "j", "data": '[{"x":42}]'}
            ]

    asyncio.run(main())


def test_every_query_gets_exactly_one_terminal_answer() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            ids = [f"q{i}" for i in range(40)]
            for i, query_id in enumerate(ids):
                sql = "SELECT nope" if i % 3 == 0 else f"SELECT {i} AS i"
                send(session, type="arrow" if i % 2 else "json", sql=sql, queryId=query_id)
            await until(lambda: not session.queries.flights)
            for query_id in ids:
                assert len(connection.answers(query_id)) == 1, query_id

    asyncio.run(main())


def test_a_queryid_in_flight_is_not_taken_twice() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            send(session, type="arrow", sql=SLOW, queryId="dup")
            send(session, type="arrow", sql="SELECT 1", queryId="dup")
            assert connection.answers("dup") == [
                {"type": "error", "error": "queryId 'dup' is already in flight", "queryId": "dup"}
            ]
            send(session, type="cancel", queryId="dup")
            await until(lambda: len(connection.answers("dup")) == 3)
            await asyncio.sleep(0.05)  # a late result would arrive now: none may
            assert [a["type"] for a in connection.answers("dup")] == ["error", "cancelAck", "error"]

    asyncio.run(main())


def test_cancel_answers_once_and_unknown_ids_are_not_cancelled() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            send(session, type="json", sql=SLOW, queryId="slow")
            engine = harness.state.engine
            await until(lambda: any(t.running for t in engine.workers.tasks()))
            send(session, type="cancel", queryId="slow")
            send(session, type="cancel", queryId="nobody")
            await until(lambda: not engine.workers.tasks())
            assert connection.answers("slow") == [
                {"type": "cancelAck", "queryId": "slow", "cancelled": True},
                {"type": "error", "error": protocol.CANCELLED, "queryId": "slow"},
            ]
            assert connection.answers("nobody") == [
                {"type": "cancelAck", "queryId": "nobody", "cancelled": False}
            ]

    asyncio.run(main())


def test_the_server_cancels_on_a_notebooks_behalf() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            send(session, type="arrow", sql=SLOW, queryId="slow")
            assert session.cancel("slow") and not session.cancel("slow")
            assert connection.answers("slow") == [
                {"type": "error", "error": protocol.CANCELLED, "queryId": "slow"}
            ]

    asyncio.run(main())


def test_a_query_over_its_time_limit_is_cancelled() -> None:
    async def main() -> None:
        async with server(limits=Limits(query_timeout=0.2)) as harness:
            session, connection = harness.connect()
            send(session, type="arrow", sql=SLOW, queryId="slow")
            await until(lambda: connection.answers("slow"))
            await until(lambda: not harness.state.engine.workers.tasks())
            assert connection.answers("slow") == [
                {"type": "error", "error": "query timed out after 0.2 s", "queryId": "slow"}
            ]

    asyncio.run(main())


def test_too_many_in_flight_is_refused_and_the_others_still_answer() -> None:
    async def main() -> None:
        async with server(limits=Limits(max_in_flight=1)) as harness:
            session, connection = harness.connect()
            send(session, type="json", sql="SELECT 1 AS a", queryId="one")
            send(session, type="json", sql="SELECT 2 AS b", queryId="two")
            await until(lambda: connection.answers("one"))
            assert "too many queries in flight" in connection.answers("two")[0]["error"]
            assert connection.answers("one")[0]["data"] == '[{"a":1}]'

    asyncio.run(main())


def test_sql_over_the_size_limit_is_refused() -> None:
    async def main() -> None:
        async with server(limits=Limits(max_sql_chars=20)) as harness:
            session, connection = harness.connect()
            send(session, type="json", sql="SELECT 1 " + " " * 30, queryId="big")
            assert "over this server's limit of 20" in connection.answers("big")[0]["error"]

    asyncio.run(main())


def test_queries_wait_for_the_database_then_run() -> None:
    async def main() -> None:
        async with server(ready=False) as harness:
            session, connection = harness.connect()
            send(session, type="json", sql="SELECT 5 AS five", queryId="early")
            await asyncio.sleep(0.05)
            assert connection.answers("early") == []
            harness.state.ready.set()
            await until(lambda: connection.answers("early"))
            assert connection.answers("early")[0]["data"] == '[{"five":5}]'

    asyncio.run(main())


def test_shutdown_answers_every_query_in_flight() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            send(session, type="arrow", sql=SLOW, queryId="a")
            send(session, type="json", sql=SLOW, queryId="b")
            session.shutdown("server shutting down")
            for query_id in ("a", "b"):
                assert connection.answers(query_id) == [
                    {"type": "error", "error": "server shutting down", "queryId": query_id}
                ]
            assert connection.closed_with == (protocol.CLOSE_GOING_AWAY, "server shutting down")

    asyncio.run(main())


class _CancelAfterReserve(Backpressure):
    """A budget that lets a cancel land just after a whole result was counted in it (the
    moment between the worker's reservation and its outcome reaching the loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, cancel: Callable[[], object]) -> None:
        super().__init__(64 << 20)
        self._loop, self._cancel = loop, cancel

    def reserve(self, size: int, cancelled: IsSet) -> None:
        super().reserve(size, cancelled)
        done = threading.Event()
        self._loop.call_soon_threadsafe(lambda: (self._cancel(), done.set()))
        done.wait(5)


def test_a_cancel_after_the_result_was_counted_gives_its_bytes_back() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            loop = asyncio.get_running_loop()
            cancel = lambda: send(session, type="cancel", queryId="late")  # noqa: E731
            connection.budget = _CancelAfterReserve(loop, cancel)
            send(session, type="json", sql="SELECT repeat('x', 100000) AS s", queryId="late")
            await until(lambda: not harness.state.engine.workers.tasks())
            await until(lambda: len(connection.answers("late")) == 2)
            await asyncio.sleep(0.05)  # the worker's outcome reaches the loop: dropped
            assert [a["type"] for a in connection.answers("late")] == ["cancelAck", "error"]
            assert connection.budget.pending == 0  # or the connection wedges, bit by bit

    asyncio.run(main())
