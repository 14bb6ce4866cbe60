"""One client connection's state, independent of the transport: frames in, auth, dispatch.

A transport (a door) feeds the session the frames it receives and gives it a
`Connection` to answer through. The session checks auth (and its timer), parses
each frame and hands it on: queries to its `InFlightQueries`, channels and rooms
to its `Routing`. It runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .. import protocol
from ..protocol import ProtocolError
from .connection import Connection
from .inflight import InFlightQueries
from .routing import Routing
from .state import ServerState

_NOT_UPLOAD = (
    "binary frames must be uploadArrow messages: "
    "[4-byte header length][header JSON][Arrow IPC stream]"
)


class Session:
    def __init__(
        self, state: ServerState, connection: Connection, *, authenticated: bool, peer: str = ""
    ) -> None:
        self.state = state
        self.connection = connection
        self.peer = peer
        self.authenticated = authenticated or state.auth_token is None
        self.closed = False
        self.queries = InFlightQueries(state, connection, self)
        self.routing = Routing(state, self)
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "auth": self._on_auth,
            "arrow": self.queries.query,
            "json": self.queries.query,
            "exec": self.queries.query,
            "export": self.queries.export,
            "cancel": self._on_cancel,
            "subscribe": self.routing.subscribe,
            "unsubscribe": self.routing.unsubscribe,
            "notify": self.routing.notify,
        }
        state.sessions.add(self)
        self._auth_timer: asyncio.TimerHandle | None = None
        if not self.authenticated:
            self._auth_timer = state.loop.call_later(state.limits.auth_timeout, self._auth_expired)
            state.wait_for_auth(self)

    @property
    def subscriptions(self) -> set[str]:
        return self.routing.subscriptions

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
                return self.routing.room_message(message)
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
        if framed is None or framed[0].get("type") != "uploadArrow":
            if not self.routing.room_update(data):
                self._error(_NOT_UPLOAD)
            return
        header, payload = framed
        try:
            self.queries.upload(header, payload)
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
        self.queries.cancel_all()
        self.connection.budget.close()
        self.state.unauthenticated.pop(self, None)
        self.routing.close()
        self.state.sessions.discard(self)

    def shutdown(self, reason: str) -> None:
        """The server is stopping: answer every in-flight query, then close."""
        self.queries.cancel_all(reason)
        self.connection.close(protocol.CLOSE_GOING_AWAY, reason)
        self.close()

    # -- auth ----------------------------------------------------------------

    def _on_auth(self, message: dict[str, Any]) -> None:
        if self.authenticated:
            self.send_text('{"type":"authAck"}')
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
            self.send_text('{"type":"authAck"}')
        else:
            self.refuse(protocol.message_query_id(message))

    def evict(self) -> None:
        """Make room for a newer connection waiting to authenticate."""
        self.send_text(
            protocol.error(f"{protocol.UNAUTHORIZED}: too many connections waiting to authenticate")
        )
        self.connection.close(protocol.CLOSE_TRY_AGAIN_LATER, protocol.UNAUTHORIZED)
        self.close()

    def _auth_expired(self) -> None:
        if not self.authenticated and not self.closed:
            timeout = self.state.limits.auth_timeout
            self.send_text(protocol.error(f"{protocol.UNAUTHORIZED}: no auth within {timeout:g} s"))
            self.connection.close(protocol.CLOSE_POLICY_VIOLATION, protocol.UNAUTHORIZED)
            self.close()

    def refuse(self, query_id: str | None = None) -> None:
        self.send_text(protocol.error(protocol.UNAUTHORIZED, query_id))
        self.connection.close(protocol.CLOSE_POLICY_VIOLATION, protocol.UNAUTHORIZED)
        self.close()

    # -- cancel --------------------------------------------------------------

    def _on_cancel(self, message: dict[str, Any]) -> None:
        query_id = protocol.message_query_id(message)
        cancelled = self.queries.cancel(query_id)
        self.send_text(
            protocol.dumps({"type": "cancelAck", "queryId": query_id, "cancelled": cancelled})
        )
        if cancelled and query_id is not None:
            self._error(protocol.CANCELLED, query_id)

    def cancel(self, query_id: str) -> bool:
        """Cancel on the server's behalf (e.g. from the notebook): the client gets the error."""
        cancelled = self.queries.cancel(query_id)
        if cancelled:
            self._error(protocol.CANCELLED, query_id)
        return cancelled

    # -- frames out --------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Every text frame out (also the hub's and the rooms' way to this client)."""
        if not self.closed:
            self.connection.send(text, binary=False)

    def _error(self, message: str, query_id: str | None = None) -> None:
        self.send_text(protocol.error(message, query_id))
