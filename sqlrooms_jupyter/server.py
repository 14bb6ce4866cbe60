"""The Tornado door: WebSocket protocol endpoint, health routes and server lifecycle.

`SqlroomsServer` runs on whatever event loop starts it: the CLI's main loop,
or (inside a kernel) a loop on a thread of its own. The handler only moves
frames between the socket and a `Session`; `TornadoConnection` is the
session's view of the socket, with ordered sends, streamed results and
backpressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import platform
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import duckdb
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket
from tornado.httputil import HTTPServerRequest
from tornado.iostream import StreamClosedError
from tornado.log import access_log

from . import __version__
from .engine import Engine, EngineConfig
from .flow import Backpressure, Pieces, ResultStream, size_of
from .protocol import CLOSE_TOO_BIG
from .pubsub import Hub
from .session import ServerState, Session

if TYPE_CHECKING:
    from .crdt import Rooms

log = logging.getLogger(__name__)

_TEXT, _BINARY, _CONTINUATION = 0x1, 0x2, 0x0
# Pieces smaller than this are copied into one write with their neighbours.
_COALESCE_BELOW = 64 << 10
_DRAIN_SECONDS = 5.0
# Room for a burst of simultaneous connections (Tornado's default is 128).
_LISTEN_BACKLOG = 2048


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4000
    auth_token: str | None = None
    allow_origins: tuple[str, ...] = ()
    sync: bool = False
    max_message_size: int = 1 << 30
    # Bytes queued for one client before its queries wait for it to read.
    send_buffer_limit: int = 64 << 20
    ping_interval: float = 30.0
    # CRDT rooms may be seeded from a client's snapshot; None: only for a :memory: database.
    allow_client_snapshots: bool | None = None
    # Delay before a room's update log is folded into its snapshot.
    save_debounce_ms: int = 500
    # A private Unix socket (mode 0600) for the Jupyter server extension's relay;
    # every request on it must carry `relay_secret` as a Bearer token.
    unix_socket: str | None = None
    relay_secret: str | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)


def frame_header(fin: bool, opcode: int, size: int) -> bytes:
    """An unmasked (server to client) WebSocket frame header, RFC 6455 section 5.2."""
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        return struct.pack("!BB", first, size)
    if size <= 0xFFFF:
        return struct.pack("!BBH", first, 126, size)
    return struct.pack("!BBQ", first, 127, size)


def is_loopback_origin(origin: str) -> bool:
    host = urlparse(origin).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bearer_token(request: HTTPServerRequest) -> str | None:
    """The token from `?token=` (browsers cannot set headers) or `Authorization: Bearer`."""
    values = request.query_arguments.get("token")
    if values:
        return values[-1].decode(errors="replace")
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class _Protocol(tornado.websocket.WebSocketProtocol13):
    """Tornado's protocol with two changes: invalid UTF-8 text goes to the handler's
    `on_invalid_text` instead of dropping the socket, and an oversized message ends
    in a close frame the client can actually read.
    """

    _draining: asyncio.Task[None] | None = None
    _too_big = False

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if code == CLOSE_TOO_BIG and not self.server_terminated:
            self._too_big = True
        super().close(code, reason)

    def _abort(self) -> None:
        # Tornado drops the socket right after its 1009 close frame, while the client
        # is still sending the oversized message: the reset that follows can destroy
        # the close frame before the client reads it. Discard its bytes until it closes.
        if self._too_big and self.stream is not None and not self.stream.closed():
            if self._draining is None:
                self.client_terminated = self.server_terminated = True
                self._draining = asyncio.ensure_future(self._drain())
            return
        super()._abort()

    async def _drain(self) -> None:
        stream = self.stream
        deadline = asyncio.get_running_loop().call_later(_DRAIN_SECONDS, stream.close)
        try:
            while True:
                await stream.read_bytes(1 << 16, partial=True)
        except StreamClosedError:
            pass
        finally:
            deadline.cancel()
            self._too_big = False
            super()._abort()

    def _handle_message(self, opcode: int, data: bytes) -> Any:
        if opcode == _TEXT and not self.client_terminated and not self._frame_compressed:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                # Awaited like on_message's result, so the next message waits for it.
                return self.handler.on_invalid_text(data)  # type: ignore[attr-defined]
        return super()._handle_message(opcode, data)


def lenient_protocol(
    handler: tornado.websocket.WebSocketHandler,
) -> tornado.websocket.WebSocketProtocol | None:
    """`WebSocketHandler.get_websocket_protocol` with `_Protocol`; the handler must define
    `on_invalid_text(data)`."""
    if handler.request.headers.get("Sec-WebSocket-Version") != "13":
        return None
    params = tornado.websocket._WebSocketParams(
        ping_interval=handler.ping_interval,
        ping_timeout=handler.ping_timeout,
        max_message_size=handler.max_message_size,
        compression_options=handler.get_compression_options(),
    )
    return _Protocol(handler, False, params)


def _coalesced(header: bytes, pieces: Pieces) -> Pieces:
    """The frame as few writes: each `IOStream.write` is a send(2) and, with
    TCP_NODELAY, a packet, so small pieces are joined and only large ones stay views."""
    out: Pieces = []
    small = bytearray(header)
    for piece in pieces:
        if len(piece) < _COALESCE_BELOW:
            small += piece
            continue
        if small:
            out.append(small)
            small = bytearray()
        out.append(piece)
    if small:
        out.append(small)
    return out


class TornadoConnection:
    """A session's outgoing side of one WebSocket: messages leave in order.

    Whole messages are written at once; a `ResultStream` is written as one
    fragmented binary message, chunk by chunk as the socket takes them, and
    later messages wait behind it (WebSocket messages cannot interleave).
    """

    def __init__(self, handler: QueryWebSocket, budget_limit: int) -> None:
        self._handler = handler
        self.budget = Backpressure(budget_limit)
        self._outbox: deque[Any] = deque()
        self._pumping = False
        self.closed = False

    def send(
        self, data: str | bytes | bytearray | Pieces, *, binary: bool, reserved: bool = False
    ) -> None:
        payload = data.encode() if isinstance(data, str) else data
        if not reserved:
            self.budget.add(size_of(payload))
        if self.closed:
            self.budget.release(size_of(payload))
        elif self._pumping:
            self._outbox.append((payload, binary))
        else:
            self._write(True, _BINARY if binary else _TEXT, payload)

    def send_stream(self, stream: ResultStream) -> None:
        self._outbox.append(stream)
        if not self._pumping and not self.closed:
            self._pumping = True
            self._pump_task = asyncio.ensure_future(self._pump())

    def close(self, code: int, reason: str) -> None:
        if self._pumping:
            self._outbox.append((code, reason))
        else:
            self._handler.close(code, reason)

    def _write(self, fin: bool, opcode: int, payload: bytes | bytearray | Pieces) -> Any:
        # Header and payload go to the IOStream separately: it keeps large buffers
        # as views, where Tornado's own frame writer would copy the payload once more.
        pieces = payload if isinstance(payload, list) else [payload]
        size = sum(map(len, pieces))
        ws = self._handler.ws_connection
        try:
            if ws is None or self.closed:
                raise StreamClosedError()
            for piece in _coalesced(frame_header(fin, opcode, size), pieces):
                written = ws.stream.write(piece)
        except StreamClosedError:
            self.budget.release(size)
            self.closed = True
            return None
        written.add_done_callback(lambda f: self._written(f, size))
        return written

    def _written(self, future: asyncio.Future[None], size: int) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.closed = True
        self.budget.release(size)

    async def _pump(self) -> None:
        try:
            while self._outbox and not self.closed:
                item = self._outbox.popleft()
                if isinstance(item, ResultStream):
                    await self._write_stream(item)
                elif isinstance(item[0], int):
                    self._handler.close(*item)
                else:
                    payload, binary = item
                    self._write(True, _BINARY if binary else _TEXT, payload)
        finally:
            self._pumping = False
            for item in self._outbox:
                if not isinstance(item, ResultStream) and not isinstance(item[0], int):
                    self.budget.release(size_of(item[0]))
            if self.closed:
                self._outbox.clear()

    async def _write_stream(self, stream: ResultStream) -> None:
        opcode = _BINARY
        async for chunk, last in stream.chunks():
            written = self._write(last, opcode, chunk)
            opcode = _CONTINUATION
            if written is None:
                return
            try:
                await written
            except StreamClosedError:
                return


def relay_secret_matches(server: SqlroomsServer, request: HTTPServerRequest) -> bool:
    secret, token = server.config.relay_secret, bearer_token(request)
    return secret is not None and token is not None and hmac.compare_digest(token, secret)


class QueryWebSocket(tornado.websocket.WebSocketHandler):
    def initialize(self, server: SqlroomsServer, relay: bool = False) -> None:
        self.server = server
        self.relay = relay
        self.session: Session | None = None
        self._token_state = "none"  # "none" | "valid" | "invalid"

    def prepare(self) -> None:
        if self.relay:
            # The relay has authenticated its user with Jupyter; it proves itself with the secret.
            if not relay_secret_matches(self.server, self.request):
                raise tornado.web.HTTPError(403)
            self._token_state = "valid"
            return
        token = bearer_token(self.request)
        if token is not None and self.server.state.auth_token is not None:
            self._token_state = "valid" if self.server.state.token_matches(token) else "invalid"

    def check_origin(self, origin: str) -> bool:
        return (
            self._token_state == "valid"
            or is_loopback_origin(origin)
            or origin in self.server.config.allow_origins
            or "*" in self.server.config.allow_origins
        )

    @property
    def max_message_size(self) -> int:
        return self.server.config.max_message_size

    @property
    def ping_interval(self) -> float | None:
        return self.server.config.ping_interval or None

    def get_websocket_protocol(self) -> tornado.websocket.WebSocketProtocol | None:
        return lenient_protocol(self)

    def on_invalid_text(self, data: bytes) -> None:
        if self.session is not None:
            self.session.receive_invalid_text()

    def open(self, *args: str, **kwargs: str) -> None:
        self.set_nodelay(True)
        connection = TornadoConnection(self, self.server.config.send_buffer_limit)
        self.outgoing = connection
        self.session = Session(
            self.server.state,
            connection,
            authenticated=self._token_state == "valid",
            peer="relay" if self.relay else self.request.remote_ip or "",
        )
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
        self.outgoing.closed = True
        if self.session is not None:
            self.session.close()


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Successful requests (every WebSocket upgrade among them) only at debug level."""
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.WARNING
    request = handler.request
    access_log.log(level, "%d %s %s (%s)", status, request.method, request.uri, request.remote_ip)


class HealthHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("ok")


class ReadyHandler(tornado.web.RequestHandler):
    def initialize(self, server: SqlroomsServer) -> None:
        self.server = server

    def get(self) -> None:
        if self.server.state.ready.is_set() and self.server.engine.ready:
            self.write("ok")
        else:
            self.set_status(503)
            self.write("not ready")


class RelayStatusHandler(tornado.web.RequestHandler):
    """`server.status()` for the Jupyter server extension, on the private socket only."""

    def initialize(self, server: SqlroomsServer) -> None:
        self.server = server

    def get(self) -> None:
        if not relay_secret_matches(self.server, self.request):
            raise tornado.web.HTTPError(403)
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.server.status()))


class VersionHandler(tornado.web.RequestHandler):
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


class SqlroomsServer:
    """The protocol server on one event loop: `await start()`, then `await stop()`."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.engine = Engine(self.config.engine, connection)
        self.hub = Hub()
        self.state: ServerState
        self.rooms: Rooms | None = None  # CRDT rooms, with `config.sync`
        self.started_at: float | None = None
        self._http: tornado.httpserver.HTTPServer | None = None
        self._relay_http: tornado.httpserver.HTTPServer | None = None
        self._sockets: list[socket.socket] = []

    @property
    def port(self) -> int:
        return self._sockets[0].getsockname()[1] if self._sockets else self.config.port

    @property
    def url(self) -> str:
        host = self.config.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}/"

    def make_app(self) -> tornado.web.Application:
        routes: list[Any] = [
            (r"/healthz", HealthHandler),
            (r"/readyz", ReadyHandler, {"server": self}),
            (r"/version", VersionHandler),
            (r"/.*", QueryWebSocket, {"server": self}),
        ]
        return tornado.web.Application(
            routes, websocket_ping_interval=self.config.ping_interval, log_function=_log_request
        )

    def make_relay_app(self) -> tornado.web.Application:
        routes: list[Any] = [
            (r"/api/status", RelayStatusHandler, {"server": self}),
            (r"/.*", QueryWebSocket, {"server": self, "relay": True}),
        ]
        return tornado.web.Application(
            routes, websocket_ping_interval=self.config.ping_interval, log_function=_log_request
        )

    def _listen(self) -> None:
        self._sockets = tornado.netutil.bind_sockets(
            self.config.port, self.config.host, backlog=_LISTEN_BACKLOG
        )
        self._http = tornado.httpserver.HTTPServer(
            self.make_app(), max_buffer_size=self.config.max_message_size + (1 << 20)
        )
        self._http.add_sockets(self._sockets)
        if self.config.unix_socket is not None:
            if self.config.relay_secret is None:
                raise ValueError("a unix_socket needs a relay_secret")
            unix = tornado.netutil.bind_unix_socket(self.config.unix_socket, mode=0o600)
            self._relay_http = tornado.httpserver.HTTPServer(
                self.make_relay_app(), max_buffer_size=self.config.max_message_size + (1 << 20)
            )
            self._relay_http.add_socket(unix)

    async def _stop_listening(self) -> None:
        for http in (self._http, self._relay_http):
            if http is not None:
                http.stop()
                await http.close_all_connections()
        self._http = self._relay_http = None
        self._sockets = []
        if self.config.unix_socket is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.config.unix_socket)

    async def start(self) -> None:
        """Listen, then open the database; /readyz answers 503 until it is open."""
        loop = asyncio.get_running_loop()
        self.state = ServerState(self.engine, self.hub, loop, self.config.auth_token)
        if self.config.sync:
            from .crdt import Rooms

            allow = self.config.allow_client_snapshots
            if allow is None:  # as the published server: only when nothing is persisted
                allow = self.config.engine.db_path == ":memory:"
            self.rooms = Rooms(
                self.engine,
                loop,
                allow_client_snapshots=allow,
                save_debounce_ms=self.config.save_debounce_ms,
            )
            self.state.rooms = self.rooms
        try:
            self._listen()
        except BaseException:
            await self._stop_listening()
            raise
        try:
            await loop.run_in_executor(None, self.engine.open)
            if self.rooms is not None:
                await self.rooms.start()
        except BaseException:
            if self.rooms is not None:
                await self.rooms.storage.stop()
                await loop.run_in_executor(None, self.engine.close)
            await self._stop_listening()
            raise
        self.started_at = time.time()
        self.state.ready.set()

    async def stop(self, reason: str = "server shutting down") -> None:
        """Stop accepting, answer and cancel in-flight queries, close sockets and the database."""
        if self._http is None:
            return
        self._http.stop()
        if self._relay_http is not None:
            self._relay_http.stop()
        self.engine.closing = True
        for session in list(self.state.sessions):
            session.shutdown(reason)
        await asyncio.sleep(0.05)  # let the close frames go out
        if self.rooms is not None:
            await self.rooms.close()  # every room into its snapshot, before the checkpoint
        await asyncio.get_running_loop().run_in_executor(None, self.engine.close)
        await self._stop_listening()
        self.state.ready.clear()

    def status(self) -> dict[str, Any]:
        now = time.time()
        return {
            "url": self.url,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "uptime_seconds": round(now - self.started_at, 1) if self.started_at else None,
            "database": self.config.engine.db_path,
            "auth": self.config.auth_token is not None,
            "sync": self.config.sync,
            "connections": len(self.state.sessions),
            "queries": [
                {
                    "queryId": task.query_id,
                    "type": task.kind,
                    "sql": task.sql,
                    "age_seconds": round(now - task.submitted, 3),
                    "running": task.running,
                }
                for task in self.engine.tasks()
            ],
            "channels": self.hub.channels(),
            "shared": sorted(self.engine.shared),
            "rooms": self.rooms.summary() if self.rooms is not None else None,
            "cache": self.engine.cache.stats() if self.engine.cache else None,
            "warnings": list(self.engine.warnings),
        }
