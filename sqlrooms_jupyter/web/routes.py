"""The Tornado handlers: the protocol's WebSocket endpoint and the HTTP routes.

Handlers only check who is asking and move frames between the socket and a
`Session`; everything else is the server's.
"""

from __future__ import annotations

import functools
import json
import logging
import platform
from typing import TYPE_CHECKING, Any

import duckdb
import tornado.web
import tornado.websocket
from tornado.log import access_log

from .. import protocol, security
from .._version import __version__
from ..session import Session
from . import static_app
from .connection import TornadoConnection
from .redact import RedactedLogMixin
from .transport import lenient_protocol

if TYPE_CHECKING:
    from .server import SqlroomsServer

log = logging.getLogger(__name__)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Successful requests (every WebSocket upgrade among them) only at debug level;
    a `?token=` in the URL is never written to the log."""
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.WARNING
    request = handler.request
    path = request.path + ("?…" if request.query else "")
    access_log.log(level, "%d %s %s (%s)", status, request.method, path, request.remote_ip)


def host_ok(server: SqlroomsServer, handler: tornado.web.RequestHandler) -> bool:
    """Whether a request's Host is one `server` answers (DNS-rebinding protection)."""
    config = server.config
    if security.host_allowed(handler.request.host, config.host, config.allow_hosts):
        return True
    log.warning(
        "refused Host %r (DNS rebinding protection; allow it with --allow-host)",
        handler.request.host,
    )
    return False


class ServerHandler(RedactedLogMixin, tornado.web.RequestHandler):
    """Every route: a server bound to loopback answers only loopback Host names; a
    `?token=` never reaches the log, even in an error's request line."""

    server: SqlroomsServer

    def initialize(self, server: SqlroomsServer) -> None:
        self.server = server

    def prepare(self) -> None:
        if not host_ok(self.server, self):
            raise tornado.web.HTTPError(403, reason="Host not allowed")


class HealthHandler(ServerHandler):
    def get(self) -> None:
        self.write("ok")


class ReadyHandler(ServerHandler):
    def get(self) -> None:
        if self.server.ready:
            self.write("ok")
        else:
            self.set_status(503)
            self.write("not ready")


class VersionHandler(ServerHandler):
    def get(self) -> None:
        self.write(
            {
                "name": "sqlrooms-jupyter",
                "version": __version__,
                "python": platform.python_version(),
                "duckdb": duckdb.__version__,
                "tornado": tornado.version,
            }
        )


class RelayStatusHandler(RedactedLogMixin, tornado.web.RequestHandler):
    """`server.status()` for the Jupyter server extension, on the private socket only."""

    def initialize(self, server: SqlroomsServer) -> None:
        self.server = server

    def get(self) -> None:
        if not security.tokens_match(
            security.request_token(self.request), self.server.config.relay_secret
        ):
            raise tornado.web.HTTPError(403)
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.server.status()))


class QueryWebSocket(ServerHandler, tornado.websocket.WebSocketHandler):
    """The protocol endpoint (at `/`, `/ws/duckdb` and any other path)."""

    def initialize(self, server: SqlroomsServer, relay: bool = False) -> None:
        self.server = server
        self.relay = relay
        self.session: Session | None = None
        self.outgoing: TornadoConnection | None = None
        self._token_state = "none"  # "none" | "valid" | "invalid"

    def prepare(self) -> None:
        config = self.server.config
        limit = config.limits.max_connections
        # Connections waiting to authenticate have a quota of their own (see Session).
        if self.server.state is not None and self.server.state.authenticated_count >= limit:
            raise tornado.web.HTTPError(
                503, reason=f"Too many connections (this server accepts {limit})"
            )
        token = security.request_token(self.request)
        if self.relay:
            # The relay has authenticated its user with Jupyter; it proves itself with the secret.
            if not security.tokens_match(token, config.relay_secret):
                raise tornado.web.HTTPError(403)
            self._token_state = "valid"
            return
        super().prepare()
        if token is not None and config.auth_token is not None:
            valid = security.tokens_match(token, config.auth_token)
            self._token_state = "valid" if valid else "invalid"

    async def get(self, *args: Any, **kwargs: Any) -> None:
        # A browser opening the server's address wants the app, not a WebSocket error.
        # The query (a `?token=`) is dropped: the Location never carries it.
        upgrade = self.request.headers.get("Upgrade", "").lower() == "websocket"
        if not upgrade and not self.relay and self.request.path == "/":
            self.redirect("/app/", permanent=False)
            return
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        origins = self.server.config.allow_origins
        allowed = (
            self._token_state == "valid"
            or security.is_loopback_origin(origin)
            or security.is_same_origin(origin, self.request.headers.get("Host"))
            or origin in origins
            or "*" in origins
        )
        if not allowed:
            log.warning("refused a WebSocket from origin %r (allow it with --allow-origin)", origin)
        return allowed

    @property
    def max_message_size(self) -> int:
        return self.server.config.max_message_size

    @property
    def message_limit(self) -> int:
        """The largest message accepted next: small until the connection authenticates."""
        session = self.session
        if session is not None and not session.authenticated:
            return self.server.config.limits.max_unauthenticated_message
        return self.server.config.max_message_size

    @property
    def ping_interval(self) -> float | None:
        return self.server.config.ping_interval or None

    def get_websocket_protocol(self) -> tornado.websocket.WebSocketProtocol | None:
        return lenient_protocol(self)

    def on_invalid_text(self, data: bytes) -> None:
        if self.session is not None:
            self.session.receive_invalid_text()

    @property
    def max_text_bytes(self) -> int:
        return protocol.max_text_bytes(self.server.config.limits.max_sql_chars)

    def on_text_too_long(self, head: bytes, tail: bytes) -> None:
        if self.session is not None:
            self.session.receive_text_too_long(
                head.decode("utf-8", "replace"), tail.decode("utf-8", "replace")
            )

    def open(self, *args: str, **kwargs: str) -> None:
        self.set_nodelay(True)
        config = self.server.config
        self.outgoing = TornadoConnection(
            self, config.send_buffer_limit, config.limits.max_unread_pushed
        )
        self.session = self.server.open_session(
            self.outgoing,
            authenticated=self._token_state == "valid",
            peer="relay" if self.relay else self.request.remote_ip or "",
        )
        self.outgoing.on_drop = self.session.close
        if self._token_state == "invalid":
            self.session.refuse()

    def on_message(self, message: str | bytes) -> None:
        if self.session is None:
            return
        if isinstance(message, bytes):
            self.session.receive_binary(message)
        else:
            self.session.receive_text(message)

    def on_close(self) -> None:
        if self.outgoing is not None:
            self.outgoing.closed = True
        if self.session is not None:
            self.session.close()


def routes(server: SqlroomsServer) -> list[Any]:
    return [
        (r"/healthz", HealthHandler, {"server": server}),
        (r"/readyz", ReadyHandler, {"server": server}),
        (r"/version", VersionHandler, {"server": server}),
        # The SQLRooms app; it connects back to /ws/duckdb and keeps its state in ui_state.
        *static_app.app_routes(
            "/app/",
            config={
                "uiStateTable": server.engine.meta.ui_state,
                # Readers keep their own work in the browser; ui_state only seeds it.
                "readOnly": server.engine.config.sandbox.read_only,
            },
            host_check=functools.partial(host_ok, server),
        ),
        (r"/.*", QueryWebSocket, {"server": server}),
    ]


def relay_routes(server: SqlroomsServer) -> list[Any]:
    return [
        (r"/api/status", RelayStatusHandler, {"server": server}),
        (r"/.*", QueryWebSocket, {"server": server, "relay": True}),
    ]
