"""A session's queries from submit to their one terminal answer.

Every queryId in flight gets exactly one terminal answer: its result, its
error, or a cancellation (by the client, a time limit, the queue bound, the
server shutting down). Runs on the event loop; the work runs in the engine's pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import protocol
from ..backpressure import size_of
from ..db.engine import Cancelled, Outcome, Task, Unavailable, Upload, is_expected_error
from ..db.errors import Refused
from ..protocol import Export, ProtocolError, Query
from .framing import ExportReply, QueryReply, Reply

if TYPE_CHECKING:
    from .connection import Connection
    from .dispatch import Session
    from .state import ServerState

log = logging.getLogger(__name__)

# How often a query that asked for progress is looked at.
PROGRESS_INTERVAL = 0.1


@dataclass(eq=False)
class InFlight:
    task: Task
    reply: Reply
    # The query's time limit (armed when a worker starts it).
    deadline: asyncio.TimerHandle | None = None
    # The bound on waiting for a worker (armed once the database is open).
    wait_deadline: asyncio.TimerHandle | None = None

    def answered(self) -> None:
        """Out of the table: its one terminal answer is (being) sent."""
        self.reply.answered = True
        for timer in (self.deadline, self.wait_deadline):
            if timer is not None:
                timer.cancel()


class InFlightQueries:
    """The queries of one session, by queryId."""

    def __init__(self, state: ServerState, connection: Connection, session: Session) -> None:
        self._state = state
        self._connection = connection
        self._session = session
        self.flights: dict[str, InFlight] = {}
        # Queries waiting for the database, progress reporters.
        self._background: set[asyncio.Future[None]] = set()

    # -- requests ------------------------------------------------------------

    def query(self, message: dict[str, Any]) -> None:
        query = protocol.parse_query(message)
        protocol.check_sql_cost(query.sql, self._state.limits.max_sql_chars, query.query_id)
        task = Task(query.kind, query.sql, query.query_id, owner=self._session)
        reply = QueryReply(
            query, self._connection, self._session.send_text, self._state.inbox, task.cancelled
        )
        self.submit(task, query, reply, query.progress)

    def export(self, message: dict[str, Any]) -> None:
        request = protocol.parse_export(message)
        protocol.check_sql_cost(request.sql, self._state.limits.max_sql_chars, request.query_id)
        task = Task("export", request.sql, request.query_id, owner=self._session)
        reply = ExportReply(
            request, self._connection, self._session.send_text, self._state.inbox, task.cancelled
        )
        self.submit(task, request, reply, request.progress)

    def upload(self, header: dict[str, Any], payload: memoryview) -> None:
        query_id = protocol.parse_query_id(header)
        table = protocol.table_reference(header.get("tableName"))
        task = Task("upload", f"uploadArrow {header['tableName']}", query_id, owner=self._session)
        request = Upload(query_id, table, payload, self._state.max_message_size)
        self.submit(task, request, Reply(query_id, self._connection, self._session.send_text))

    # -- progress ------------------------------------------------------------

    def _start_progress(self, flight: InFlight) -> None:
        self._keep(asyncio.ensure_future(self._report_progress(flight)))

    def _keep(self, future: asyncio.Future[None]) -> None:
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    async def _report_progress(self, flight: InFlight) -> None:
        """While the query runs, its progress whenever it changes (opt-in per query)."""
        task, last = flight.task, None
        while self.flights.get(task.query_id) is flight and not self._session.closed:
            await asyncio.sleep(PROGRESS_INTERVAL)
            percentage = self._state.engine.workers.progress(task)
            if percentage is not None and percentage != last and task.query_id in self.flights:
                last = percentage
                self._session.send_text(
                    protocol.dumps(
                        {"type": "progress", "queryId": task.query_id, "percentage": percentage}
                    )
                )

    # -- lifecycle -----------------------------------------------------------

    def submit(
        self, task: Task, request: Query | Export | Upload, reply: Reply, progress: bool = False
    ) -> None:
        """Track the task from now on (cancellable, one terminal answer), and run it
        once the database is open."""
        query_id = task.query_id
        if query_id in self.flights:
            raise ProtocolError(f"queryId '{query_id}' is already in flight", query_id)
        limit = self._state.limits.max_in_flight
        if len(self.flights) >= limit:
            raise ProtocolError(
                f"too many queries in flight on this connection (limit {limit}); "
                "send more as answers arrive",
                query_id,
            )
        if self._state.engine.workers.closing:
            raise ProtocolError("server is shutting down", query_id)
        flight = self.flights[query_id] = InFlight(task, reply)
        timeout = self._state.limits.query_timeout
        if timeout:
            inbox, arm = self._state.inbox, self._arm_deadline
            task.on_start = lambda _: inbox.call_soon_threadsafe(arm, flight, timeout)
        if self._state.ready.is_set():
            self._run(flight, request)
        else:
            self._keep(asyncio.ensure_future(self._run_when_ready(flight, request)))
        if progress:
            self._start_progress(flight)

    async def _run_when_ready(self, flight: InFlight, request: Query | Export | Upload) -> None:
        await self._state.ready.wait()
        self._run(flight, request)

    def _run(self, flight: InFlight, request: Query | Export | Upload) -> None:
        task = flight.task
        if task.future.done():  # cancelled while it waited
            return
        bound = self._state.limits.wait_bound()
        if bound and self.flights.get(task.query_id) is flight:
            flight.wait_deadline = self._state.loop.call_later(
                bound, self._waited_too_long, flight, bound
            )
        self._state.engine.run(task, request, flight.reply, self._finish, self._state.inbox)

    def _finish(self, task: Task) -> None:
        flight = self.flights.get(task.query_id)
        if flight is None or flight.task is not task or self._session.closed:
            # Already answered (cancelled, timed out) or nobody is listening: a whole result
            # counted in the budget is never sent, so its bytes go back (or the connection
            # wedges once enough such races have leaked its budget).
            self._release_unsent(task)
            return
        del self.flights[task.query_id]
        flight.answered()
        try:
            result = task.future.result()
        except (Cancelled, concurrent.futures.CancelledError):
            self._error(str(task.refusal or protocol.CANCELLED), task.query_id)
        except Exception as exc:
            if not is_expected_error(exc):
                log.error("query %s failed unexpectedly", task.query_id, exc_info=exc)
            self._error(error_message(exc), task.query_id)
        else:
            flight.reply.deliver(result)

    def _release_unsent(self, task: Task) -> None:
        if task.future.cancelled() or task.future.exception() is not None:
            return
        outcome = task.future.result()
        if isinstance(outcome, Outcome) and outcome.payload is not None:
            self._connection.budget.release(size_of(outcome.payload))

    def _arm_deadline(self, flight: InFlight, seconds: float) -> None:
        """The query started on a worker: its time limit counts from then."""
        task = flight.task
        if self.flights.get(task.query_id) is not flight or task.started is None:
            return
        if flight.wait_deadline is not None:
            flight.wait_deadline.cancel()
        left = max(0.0, task.started + seconds - time.monotonic())
        flight.deadline = self._state.loop.call_later(left, self._time_out, flight, seconds)

    def _time_out(self, flight: InFlight, seconds: float) -> None:
        query_id = flight.task.query_id
        if self.flights.get(query_id) is flight and self.cancel(query_id):
            self._error(f"query timed out after {seconds:g} s", query_id)

    def _waited_too_long(self, flight: InFlight, seconds: float) -> None:
        """No worker took the query in time: it is withdrawn, never run."""
        query_id = flight.task.query_id
        if flight.task.started is not None:
            return  # it just started: its own time limit applies
        if self.flights.get(query_id) is flight and self.cancel(query_id):
            self._error(f"the server is busy: waited {seconds:g} s for a free worker", query_id)

    def cancel(self, query_id: str | None) -> bool:
        """Withdraw a query (no answer sent: the caller sends the terminal one)."""
        flight = self.flights.get(query_id) if query_id else None
        if (
            flight is None
            or flight.reply.finished
            or not self._state.engine.workers.cancel(flight.task)
        ):
            return False
        del self.flights[flight.task.query_id]
        flight.answered()
        return True

    def cancel_all(self, reason: str | None = None) -> None:
        """Cancel every query; with a `reason`, answer each with it."""
        for query_id, flight in self.flights.items():
            self._state.engine.workers.cancel(flight.task)
            flight.answered()
            if reason is not None:
                self._error(reason, query_id)
        self.flights.clear()

    def _error(self, message: str, query_id: str) -> None:
        self._session.send_text(protocol.error(message, query_id))


def error_message(exc: BaseException) -> str:
    """DuckDB's own message; other failures keep their type for context."""
    import duckdb

    if isinstance(exc, (duckdb.Error, Refused, Unavailable)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
