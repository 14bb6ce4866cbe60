"""One client connection's state, independent of the transport.

A transport feeds the session the frames it receives and gives it a
`Connection` to answer through. The session enforces auth, tracks in-flight
queries (every queryId gets exactly one terminal answer), subscriptions and,
later, the CRDT room. It runs on the server's event loop; DuckDB work runs in
the engine's pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import protocol, security
from .engine import Cancelled, Engine, Outcome, Task, Unavailable, is_expected_error
from .flow import Backpressure, LoopInbox, Pieces, ResultStream, StreamSender, size_of
from .protocol import ProtocolError, Query
from .pubsub import Hub, server_channel
from .sandbox import Refused

log = logging.getLogger(__name__)

# How often a query that asked for progress is looked at.
PROGRESS_INTERVAL = 0.1
# With --query-timeout and no --queue-timeout: how long a query may wait for a worker.
DEFAULT_QUEUE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Limits:
    """What one connection may hold at once; each refusal is an error, the socket stays."""

    max_in_flight: int = 256
    max_subscriptions: int = 1024
    # Messages pushed to a connection without waiting for it (notifies, CRDT updates, acks)
    # that its socket has not taken; a connection over this is closed (1008).
    max_unread_pushed: int = 16 << 20
    # With a token: how long a connection may stay unauthenticated before it is closed.
    auth_timeout: float = 10.0
    # Longest SQL text; DuckDB's parser can take far more memory than the text's size.
    max_sql_chars: int = 256 << 10
    # A query still running this many seconds after it started is cancelled (None: never).
    # Its clock starts on a worker: waiting for the database to open or for a worker
    # does not count.
    query_timeout: float | None = None
    # A query still waiting for a worker after this many seconds (counted once the
    # database is open) is refused as "server is busy". None: DEFAULT_QUEUE_TIMEOUT with
    # a query timeout, else no bound; 0: no bound.
    queue_timeout: float | None = None
    # Authenticated connections the server accepts at once (across all its sockets).
    max_connections: int = 1024
    # With a token: connections still waiting to authenticate, counted apart from the above
    # so that they cannot lock token holders out; beyond it the oldest waiting one is closed.
    max_unauthenticated: int = 64
    # With a token: the largest message a connection may send before it authenticates
    # (an auth message is far smaller); a larger one closes it (1009) unread.
    max_unauthenticated_message: int = 4 << 10

    def wait_bound(self) -> float | None:
        """How long a query may wait for a worker (None: no bound)."""
        if self.queue_timeout is not None:
            return self.queue_timeout or None
        return DEFAULT_QUEUE_TIMEOUT if self.query_timeout else None


class Rooms(Protocol):
    """CRDT rooms (`--sync`); the session routes room traffic here."""

    def handle_message(self, session: Session, message: dict[str, Any]) -> None:
        """A `crdt-*` JSON message."""

    def handle_update(self, session: Session, data: bytes) -> None:
        """A binary frame that is not an uploadArrow message."""

    def leave(self, session: Session) -> None:
        """The session closed."""


class Connection(Protocol):
    """What a session needs from its transport (called on the event loop)."""

    budget: Backpressure

    def send(
        self, data: str | bytes | bytearray | Pieces, *, binary: bool, reserved: bool = False
    ) -> None:
        """Queue one whole message; `reserved` bytes were already counted in `budget`."""

    def send_stream(self, stream: ResultStream) -> None:
        """Queue one binary message whose chunks arrive later."""

    def close(self, code: int, reason: str) -> None: ...


@dataclass
class ServerState:
    """What all sessions of one server share."""

    engine: Engine
    hub: Hub
    loop: asyncio.AbstractEventLoop
    auth_token: str | None = None
    limits: Limits = field(default_factory=Limits)
    # The largest message (`--max-message-size`); an upload's data, decompressed, too.
    max_message_size: int = 1 << 30
    rooms: Rooms | None = None
    # Why room messages are refused when `rooms` is None.
    rooms_unavailable: str = "CRDT sync is disabled on this server (start it with --sync)"
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    sessions: set[Session] = field(default_factory=set)
    # The sessions not authenticated yet, oldest first (a dict keeps insertion order).
    unauthenticated: dict[Session, None] = field(default_factory=dict)
    # Workers' results reach the loop through here: one wake-up per batch.
    inbox: LoopInbox = field(init=False)

    def __post_init__(self) -> None:
        self.inbox = LoopInbox(self.loop)

    def token_matches(self, candidate: object) -> bool:
        return security.tokens_match(candidate, self.auth_token)

    @property
    def authenticated_count(self) -> int:
        return len(self.sessions) - len(self.unauthenticated)

    def wait_for_auth(self, session: Session) -> None:
        """Track a session until it authenticates; make room by closing the oldest waiting."""
        self.unauthenticated[session] = None
        while len(self.unauthenticated) > self.limits.max_unauthenticated:
            oldest = next(iter(self.unauthenticated))
            oldest.evict()


@dataclass(eq=False)
class InFlight:
    task: Task
    stream: StreamSender | None = None
    # The query's time limit (armed when a worker starts it).
    deadline: asyncio.TimerHandle | None = None
    # The bound on waiting for a worker (armed once the database is open).
    wait_deadline: asyncio.TimerHandle | None = None

    def disarm(self) -> None:
        for timer in (self.deadline, self.wait_deadline):
            if timer is not None:
                timer.cancel()


class Session:
    def __init__(
        self, state: ServerState, connection: Connection, *, authenticated: bool, peer: str = ""
    ) -> None:
        self.state = state
        self.connection = connection
        self.peer = peer
        self.authenticated = authenticated or state.auth_token is None
        self.closed = False
        self.inflight: dict[str, InFlight] = {}
        self.subscriptions: set[str] = set()
        # Queries waiting for the database, progress reporters.
        self._background: set[asyncio.Future[None]] = set()
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "auth": self._on_auth,
            "arrow": self._on_query,
            "json": self._on_query,
            "exec": self._on_query,
            "export": self._on_export,
            "cancel": self._on_cancel,
            "subscribe": self._on_subscribe,
            "unsubscribe": self._on_unsubscribe,
            "notify": self._on_notify,
        }
        state.sessions.add(self)
        self._auth_timer: asyncio.TimerHandle | None = None
        if not self.authenticated:
            self._auth_timer = state.loop.call_later(state.limits.auth_timeout, self._auth_expired)
            state.wait_for_auth(self)

    # -- frames in ---------------------------------------------------------

    def receive_text(self, text: str) -> None:
        if self.closed:
            return
        try:
            protocol.check_text_size(text, self.state.limits.max_sql_chars)
            message = protocol.parse_text(text)
        except ProtocolError as exc:
            if not self.authenticated:
                return self.refuse(exc.query_id)
            return self._error(str(exc), exc.query_id)
        kind = message["type"]
        if not self.authenticated and kind != "auth":
            return self.refuse(protocol.message_query_id(message))
        handler = self._handlers.get(kind)
        try:
            if handler is None and kind.startswith("crdt-"):
                if self.state.rooms is None:
                    raise ProtocolError(self.state.rooms_unavailable)
                return self.state.rooms.handle_message(self, message)
            if handler is None:
                raise ProtocolError(
                    f"unknown message type '{kind}'", protocol.message_query_id(message)
                )
            handler(message)
        except ProtocolError as exc:
            self._error(str(exc), exc.query_id)

    def receive_binary(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.authenticated:
            return self.refuse()
        framed = protocol.parse_binary(data)
        if (framed is None or framed[0].get("type") != "uploadArrow") and self.state.rooms:
            return self.state.rooms.handle_update(self, data)
        if framed is None or framed[0].get("type") != "uploadArrow":
            return self._error(
                "binary frames must be uploadArrow messages: "
                "[4-byte header length][header JSON][Arrow IPC stream]"
            )
        header, payload = framed
        try:
            query_id = protocol.parse_query_id(header)
            table = protocol.table_reference(header.get("tableName"))
            task = Task("upload", f"uploadArrow {header['tableName']}", query_id, owner=self)
            engine, max_bytes = self.state.engine, self.state.max_message_size
            self._submit(
                task,
                lambda cursor, t: engine.upload_arrow(cursor, t, table, payload, max_bytes),
                lambda _: self._send_text(
                    protocol.dumps({"type": "uploadAck", "queryId": query_id})
                ),
            )
        except ProtocolError as exc:
            self._error(str(exc), exc.query_id or protocol.message_query_id(header))

    def receive_text_too_long(self, head: str, tail: str) -> None:
        """A text message over `protocol.max_text_bytes`, of which only the ends were kept."""
        if self.closed:
            return
        error = protocol.text_too_long(self.state.limits.max_sql_chars, head, tail)
        if not self.authenticated:
            return self.refuse(error.query_id)
        self._error(str(error), error.query_id)

    def receive_invalid_text(self) -> None:
        if self.closed:
            return
        if not self.authenticated:
            return self.refuse()
        self._error("invalid message: text frame is not valid UTF-8")

    def close(self) -> None:
        """The connection is gone: cancel its queries and drop its subscriptions."""
        if self.closed:
            return
        self.closed = True
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        for flight in self.inflight.values():
            self.state.engine.cancel(flight.task)
        self.inflight.clear()
        self.connection.budget.close()
        self.state.unauthenticated.pop(self, None)
        if self.state.rooms is not None:
            self.state.rooms.leave(self)
        self.state.hub.drop(self)
        self.subscriptions.clear()
        self.state.sessions.discard(self)

    def shutdown(self, reason: str) -> None:
        """The server is stopping: answer every in-flight query, then close."""
        for query_id, flight in self.inflight.items():
            self.state.engine.cancel(flight.task)
            self._error(reason, query_id)
        self.inflight.clear()
        self.connection.close(protocol.CLOSE_GOING_AWAY, reason)
        self.close()

    # -- handlers ----------------------------------------------------------

    def _on_auth(self, message: dict[str, Any]) -> None:
        if self.authenticated:
            self._send_text('{"type":"authAck"}')
        elif self.state.token_matches(message.get("token")):
            if self._auth_timer is not None:
                self._auth_timer.cancel()
            del self.state.unauthenticated[self]
            limit = self.state.limits.max_connections
            if self.state.authenticated_count >= limit:
                self._error(f"too many connections (this server accepts {limit}); try again later")
                self.connection.close(protocol.CLOSE_TRY_AGAIN_LATER, "too many connections")
                return self.close()
            self.authenticated = True
            self._send_text('{"type":"authAck"}')
        else:
            self.refuse(protocol.message_query_id(message))

    def evict(self) -> None:
        """Make room for a newer connection waiting to authenticate."""
        self._send_text(
            protocol.error(f"{protocol.UNAUTHORIZED}: too many connections waiting to authenticate")
        )
        self.connection.close(protocol.CLOSE_TRY_AGAIN_LATER, protocol.UNAUTHORIZED)
        self.close()

    def _auth_expired(self) -> None:
        if not self.authenticated and not self.closed:
            timeout = self.state.limits.auth_timeout
            self._send_text(
                protocol.error(f"{protocol.UNAUTHORIZED}: no auth within {timeout:g} s")
            )
            self.connection.close(protocol.CLOSE_POLICY_VIOLATION, protocol.UNAUTHORIZED)
            self.close()

    def _on_query(self, message: dict[str, Any]) -> None:
        query = protocol.parse_query(message)
        protocol.check_sql_cost(query.sql, self.state.limits.max_sql_chars, query.query_id)
        engine = self.state.engine
        task = Task(query.kind, query.sql, query.query_id, owner=self)
        stream = None
        if query.kind == "arrow":  # a persist result too, when too large to keep whole
            stream = StreamSender(
                self.state.inbox,
                self.connection.budget,
                task.cancelled,
                self.connection.send_stream,
            )
        budget = self.connection.budget

        def work(cursor: Any, task: Task) -> Outcome:
            try:
                outcome = engine.run_query(cursor, task, query, stream)
                if outcome.kind == "json" and isinstance(outcome.payload, list):
                    outcome.payload = protocol.json_result(query.query_id, outcome.payload)
                if outcome.payload is not None:
                    budget.reserve(size_of(outcome.payload), task.cancelled)
                return outcome
            except BaseException:
                if stream is not None:
                    stream.abort()
                raise

        self._submit(task, work, lambda outcome: self._deliver(query, outcome), stream)
        if query.progress:
            self._start_progress(self.inflight[query.query_id])

    def _on_export(self, message: dict[str, Any]) -> None:
        request = protocol.parse_export(message)
        protocol.check_sql_cost(request.sql, self.state.limits.max_sql_chars, request.query_id)
        engine, loop, budget = self.state.engine, self.state.loop, self.connection.budget
        task = Task("export", request.sql, request.query_id, owner=self)
        prefix = protocol.export_prefix(request.query_id, request.format)

        def send(chunk: Pieces) -> None:  # worker side: waits for the connection's budget
            size = len(prefix) + size_of(chunk)
            budget.reserve(size, task.cancelled)
            loop.call_soon_threadsafe(self._send_export_chunk, task, [prefix, *chunk], size)

        def done(exported: Any) -> None:
            self._send_text(
                protocol.export_done(request.query_id, request.format, exported.rows, exported.size)
            )

        self._submit(task, lambda cursor, t: engine.export(cursor, t, request, send), done)
        if request.progress:
            self._start_progress(self.inflight[request.query_id])

    def _send_export_chunk(self, task: Task, chunk: Pieces, size: int) -> None:
        """One chunk of a file, unless its export was answered meanwhile (cancelled)."""
        flight = self.inflight.get(task.query_id)
        if self.closed or flight is None or flight.task is not task:
            self.connection.budget.release(size)
        else:
            self.connection.send(chunk, binary=True, reserved=True)

    def _start_progress(self, flight: InFlight) -> None:
        reporter = asyncio.ensure_future(self._report_progress(flight))
        self._background.add(reporter)
        reporter.add_done_callback(self._background.discard)

    async def _report_progress(self, flight: InFlight) -> None:
        """While the query runs, its progress whenever it changes (opt-in per query)."""
        task, last = flight.task, None
        while self.inflight.get(task.query_id) is flight and not self.closed:
            await asyncio.sleep(PROGRESS_INTERVAL)
            percentage = self.state.engine.progress(task)
            if percentage is not None and percentage != last and task.query_id in self.inflight:
                last = percentage
                self._send_text(
                    protocol.dumps(
                        {"type": "progress", "queryId": task.query_id, "percentage": percentage}
                    )
                )

    def _deliver(self, query: Query, outcome: Outcome) -> None:
        if outcome.kind == "ok":
            self._send_text(protocol.ok(query.query_id))
        elif outcome.payload is not None:
            self.connection.send(outcome.payload, binary=outcome.kind == "arrow", reserved=True)
        # else: an Arrow result already sent as a stream

    def _submit(
        self,
        task: Task,
        work: Callable[[Any, Task], Any],
        on_result: Callable[[Any], None],
        stream: StreamSender | None = None,
    ) -> None:
        """Track the task from now on (cancellable, one terminal answer), and run it
        once the database is open."""
        query_id = task.query_id
        if query_id in self.inflight:
            raise ProtocolError(f"queryId '{query_id}' is already in flight", query_id)
        limit = self.state.limits.max_in_flight
        if len(self.inflight) >= limit:
            raise ProtocolError(
                f"too many queries in flight on this connection (limit {limit}); "
                "send more as answers arrive",
                query_id,
            )
        engine = self.state.engine
        if engine.closing:
            raise ProtocolError("server is shutting down", query_id)
        flight = self.inflight[query_id] = InFlight(task, stream)
        inbox = self.state.inbox
        timeout = self.state.limits.query_timeout
        if timeout:
            arm = self._arm_deadline
            task.on_start = lambda _: inbox.call_soon_threadsafe(arm, flight, timeout)

        def done(_: concurrent.futures.Future[Any]) -> None:
            inbox.call_soon_threadsafe(self._finish, task, on_result)

        task.future.add_done_callback(done)
        if self.state.ready.is_set():
            self._run(task, work)
        else:
            held = asyncio.ensure_future(self._run_when_ready(task, work))
            self._background.add(held)
            held.add_done_callback(self._background.discard)

    async def _run_when_ready(self, task: Task, work: Callable[[Any, Task], Any]) -> None:
        await self.state.ready.wait()
        self._run(task, work)

    def _run(self, task: Task, work: Callable[[Any, Task], Any]) -> None:
        if task.future.done():  # cancelled while it waited
            return
        flight = self.inflight.get(task.query_id)
        bound = self.state.limits.wait_bound()
        if bound and flight is not None and flight.task is task:
            flight.wait_deadline = self.state.loop.call_later(
                bound, self._waited_too_long, flight, bound
            )
        try:
            self.state.engine.submit(task, work)
        except RuntimeError as exc:
            if not task.future.done():
                task.future.set_exception(exc)

    def _finish(self, task: Task, on_result: Callable[[Any], None]) -> None:
        flight = self.inflight.get(task.query_id)
        if flight is None or flight.task is not task or self.closed:
            return  # already answered (cancelled) or nobody is listening
        del self.inflight[task.query_id]
        flight.disarm()
        try:
            result = task.future.result()
        except (Cancelled, concurrent.futures.CancelledError):
            self._error(str(task.refusal or protocol.CANCELLED), task.query_id)
        except Exception as exc:
            if not is_expected_error(exc):
                log.error("query %s failed unexpectedly", task.query_id, exc_info=exc)
            self._error(error_message(exc), task.query_id)
        else:
            on_result(result)

    def _arm_deadline(self, flight: InFlight, seconds: float) -> None:
        """The query started on a worker: its time limit counts from then."""
        task = flight.task
        if self.inflight.get(task.query_id) is not flight or task.started is None:
            return
        if flight.wait_deadline is not None:
            flight.wait_deadline.cancel()
        left = max(0.0, task.started + seconds - time.monotonic())
        flight.deadline = self.state.loop.call_later(left, self._time_out, flight, seconds)

    def _time_out(self, flight: InFlight, seconds: float) -> None:
        query_id = flight.task.query_id
        if self.inflight.get(query_id) is flight and self._cancel_flight(query_id):
            self._error(f"query timed out after {seconds:g} s", query_id)

    def _waited_too_long(self, flight: InFlight, seconds: float) -> None:
        """No worker took the query in time: it is withdrawn, never run."""
        query_id = flight.task.query_id
        if flight.task.started is not None:
            return  # it just started: its own time limit applies
        if self.inflight.get(query_id) is flight and self._cancel_flight(query_id):
            self._error(f"the server is busy: waited {seconds:g} s for a free worker", query_id)

    def _on_cancel(self, message: dict[str, Any]) -> None:
        query_id = protocol.message_query_id(message)
        cancelled = self._cancel_flight(query_id)
        self._send_text(
            protocol.dumps({"type": "cancelAck", "queryId": query_id, "cancelled": cancelled})
        )
        if cancelled and query_id is not None:
            self._error(protocol.CANCELLED, query_id)

    def cancel(self, query_id: str) -> bool:
        """Cancel on the server's behalf (e.g. from the notebook): the client gets the error."""
        cancelled = self._cancel_flight(query_id)
        if cancelled:
            self._error(protocol.CANCELLED, query_id)
        return cancelled

    def _cancel_flight(self, query_id: str | None) -> bool:
        flight = self.inflight.get(query_id) if query_id else None
        if (
            flight is None
            or (flight.stream is not None and flight.stream.finished)
            or not self.state.engine.cancel(flight.task)
        ):
            return False
        del self.inflight[flight.task.query_id]
        flight.disarm()
        return True

    def _on_subscribe(self, message: dict[str, Any]) -> None:
        channel = protocol.parse_channel(message)
        limit = self.state.limits.max_subscriptions
        if channel not in self.subscriptions and len(self.subscriptions) >= limit:
            raise ProtocolError(f"too many subscriptions on this connection (limit {limit})")
        self.state.hub.subscribe(channel, self)
        self.subscriptions.add(channel)
        self._send_text(protocol.dumps({"type": "subscribed", "channel": channel}))

    def _on_unsubscribe(self, message: dict[str, Any]) -> None:
        channel = protocol.parse_channel(message)
        self.state.hub.unsubscribe(channel, self)
        self.subscriptions.discard(channel)
        self._send_text(protocol.dumps({"type": "unsubscribed", "channel": channel}))

    def _on_notify(self, message: dict[str, Any]) -> None:
        channel = protocol.parse_channel(message)
        if server_channel(channel):
            raise ProtocolError(
                f"channel '{channel}' is the server's own (it announces shared tables there): "
                "clients may subscribe to it, not publish on it"
            )
        payload = message.get("payload")
        self.state.hub.publish(channel, payload, exclude=self)
        self._send_text(protocol.dumps({"type": "notify", "channel": channel, "payload": payload}))
        self._send_text(protocol.dumps({"type": "notifyAck", "channel": channel}))

    # -- frames out --------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Subscriber side of the hub."""
        if not self.closed:
            self.connection.send(text, binary=False)

    _send_text = send_text

    def _error(self, message: str, query_id: str | None = None) -> None:
        self._send_text(protocol.error(message, query_id))

    def refuse(self, query_id: str | None = None) -> None:
        self._send_text(protocol.error(protocol.UNAUTHORIZED, query_id))
        self.connection.close(protocol.CLOSE_POLICY_VIOLATION, protocol.UNAUTHORIZED)
        self.close()


def error_message(exc: BaseException) -> str:
    """DuckDB's own message; other failures keep their type for context."""
    import duckdb

    if isinstance(exc, (duckdb.Error, Refused, Unavailable)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
