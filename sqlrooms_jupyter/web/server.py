"""The server: its configuration, lifecycle, and the facade every door uses.

`SqlroomsServer` runs on whatever event loop starts it: the CLI's main loop,
or (inside a kernel) a loop on a thread of its own. Doors (CLI, kernel,
notebook, magics) use only the public methods here; they may call them from
any thread: `share`, `unshare`, `notify`, `cancel`, `status`, `subscriptions`,
`warnings`, `rooms`, `invalidate_cache` and `call` hop onto the server's loop
where they must.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import tornado.httpserver
import tornado.netutil
import tornado.web

from ..crdt import Rooms
from ..crdt.duckdb_store import DuckDBRoomStore
from ..crdt.store import RoomStore
from ..db.engine import Engine, EngineConfig
from ..pubsub import CATALOG_CHANNEL, TABLE_CHANNEL_PREFIX, Hub
from ..session import Connection, Limits, ServerState, Session
from . import listener, routes

if TYPE_CHECKING:
    from ..cluster.lakewatch import LakeWatch
    from ..cluster.postgres import Cluster

T = TypeVar("T")

# Room for a burst of simultaneous connections (Tornado's default is 128).
# No route takes a request body; this leaves room for a stray small one.
_MAX_HTTP_BODY = 64 << 10
_LISTEN_BACKLOG = 2048


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4000
    auth_token: str | None = None
    allow_origins: tuple[str, ...] = ()
    # Host names answered besides loopback ones when bound to loopback (DNS rebinding).
    allow_hosts: tuple[str, ...] = ()
    sync: bool = False
    max_message_size: int = 1 << 30
    # Bytes queued for one client before its queries wait for it to read.
    send_buffer_limit: int = 64 << 20
    ping_interval: float = 30.0
    limits: Limits = field(default_factory=Limits)
    # CRDT rooms may be seeded from a client's snapshot; None: only for a :memory: database.
    allow_client_snapshots: bool | None = None
    # Delay before a room's update log is folded into its snapshot.
    save_debounce_ms: int = 500
    # A private Unix socket (mode 0600) for the Jupyter server extension's relay;
    # every request on it must carry `relay_secret` as a Bearer token.
    unix_socket: str | None = None
    relay_secret: str | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    # PostgreSQL URL shared by the replicas: notify fan-out and CRDT rooms (`--cluster`).
    cluster: str | None = None
    # Connections still sending their HTTP request (before the upgrade); over it the oldest
    # is closed. None: half the descriptor limit, at most 1024 (`listener.max_pending_for`).
    max_pending_connections: int | None = None


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
        self.state: ServerState | None = None
        self.rooms: Rooms | None = None  # CRDT rooms, with `config.sync`
        self.cluster: Cluster | None = None  # with `config.cluster`
        self.lake_watch: LakeWatch | None = None  # when set-up SQL attached a DuckLake
        self.started_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._http: listener.BoundedHTTPServer | None = None
        self._relay_http: listener.BoundedHTTPServer | None = None
        self._sockets: list[socket.socket] = []

    # -- addresses -----------------------------------------------------------

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

    @property
    def connections(self) -> int:
        return len(self.state.sessions) if self.state is not None else 0

    @property
    def ready(self) -> bool:
        return (
            self.state is not None
            and self.state.ready.is_set()
            and self.engine.ready
            and (self.cluster is None or self.cluster.healthy)
            and (self.lake_watch is None or self.lake_watch.healthy)
        )

    # -- lifecycle -----------------------------------------------------------

    def make_app(self) -> tornado.web.Application:
        return self._application(routes.routes(self))

    def make_relay_app(self) -> tornado.web.Application:
        return self._application(routes.relay_routes(self))

    def _application(self, handlers: list[Any]) -> tornado.web.Application:
        return tornado.web.Application(
            handlers,
            websocket_ping_interval=self.config.ping_interval,
            log_function=routes.log_request,
        )

    def _listen(self) -> None:
        self._sockets = tornado.netutil.bind_sockets(
            self.config.port, self.config.host, backlog=_LISTEN_BACKLOG
        )
        max_buffer = self.config.max_message_size + (1 << 20)
        self._http = listener.BoundedHTTPServer(
            self.make_app(), max_buffer_size=max_buffer, **self._http_limits()
        )
        self._http.add_sockets(self._sockets)
        if self.config.unix_socket is not None:
            if self.config.relay_secret is None:
                raise ValueError("a unix_socket needs a relay_secret")
            unix = tornado.netutil.bind_unix_socket(self.config.unix_socket, mode=0o600)
            self._relay_http = listener.BoundedHTTPServer(
                self.make_relay_app(), max_buffer_size=max_buffer, **self._http_limits()
            )
            self._relay_http.add_socket(unix)

    def _http_limits(self) -> dict[str, Any]:
        """HTTP before the upgrade: no route takes a body, and a connection that sends no
        request is closed like a socket that does not authenticate (Tornado's defaults would
        buffer a body as large as a WebSocket message and keep an idle connection an hour)."""
        idle = self.config.limits.auth_timeout
        pending = self.config.max_pending_connections
        if pending is None:
            pending = listener.max_pending_for(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        return {
            "max_pending": pending,
            "max_body_size": _MAX_HTTP_BODY,
            "idle_connection_timeout": idle,
            "body_timeout": idle,
        }

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
        engine_config = self.config.engine
        if self.config.sync and engine_config.sandbox.read_only and not engine_config.meta_db:
            raise ValueError("CRDT rooms (--sync) with --read-only need --meta-db PATH")
        loop = asyncio.get_running_loop()
        self._loop, self._loop_thread = loop, threading.get_ident()
        self.state = ServerState(
            self.engine,
            self.hub,
            loop,
            self.config.auth_token,
            limits=self.config.limits,
            max_message_size=self.config.max_message_size,
        )
        if self.config.sync:
            allow = self.config.allow_client_snapshots
            if allow is None:  # as the published server: only when nothing is persisted
                allow = self.config.engine.db_path == ":memory:"
            store: RoomStore = DuckDBRoomStore(
                lambda: self.engine.connection.cursor(), self.engine.meta, loop
            )
            if self.config.cluster:
                store = self._cluster(loop).store
            self.rooms = Rooms(
                store,
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
            if self.config.cluster:
                await self._cluster(loop).start()
            if self.engine.lakes:
                from ..cluster.lakewatch import LakeWatch

                self.lake_watch = LakeWatch(self.engine, self.hub.deliver)
                await self.lake_watch.start()
            await self.hub.start()
            if self.rooms is not None:
                await self.rooms.start()
        except BaseException:
            for session in list(self.state.sessions):
                session.shutdown("server failed to start")
            if self.rooms is not None:
                await self.rooms.storage.stop()
            await self._stop_cluster()
            await loop.run_in_executor(None, self.engine.close)
            await self._stop_listening()
            raise
        self.started_at = time.time()
        self.state.ready.set()

    async def stop(self, reason: str = "server shutting down") -> None:
        """Stop accepting, answer and cancel in-flight queries, close sockets and the database."""
        if self._http is None or self.state is None:
            return
        self._http.stop()
        if self._relay_http is not None:
            self._relay_http.stop()
        self.engine.workers.closing = True
        for session in list(self.state.sessions):
            session.shutdown(reason)
        await asyncio.sleep(0.05)  # let the close frames go out
        if self.rooms is not None:
            await self.rooms.close()  # every room into its snapshot, before the checkpoint
        await self.hub.stop()
        await self._stop_cluster()
        await asyncio.get_running_loop().run_in_executor(None, self.engine.close)
        await self._stop_listening()
        self.state.ready.clear()

    def _cluster(self, loop: asyncio.AbstractEventLoop) -> Cluster:
        """The replicas' shared PostgreSQL (psycopg is imported only when asked for)."""
        if self.cluster is None:
            from ..cluster.postgres import Cluster

            assert self.config.cluster
            self.cluster = Cluster(self.config.cluster, loop)
            self.hub.fanout = self.cluster.fanout
        return self.cluster

    async def _stop_cluster(self) -> None:
        if self.lake_watch is not None:
            await self.lake_watch.stop()
            self.lake_watch = None
        if self.cluster is not None:
            await self.cluster.stop()

    def open_session(self, connection: Connection, *, authenticated: bool, peer: str) -> Session:
        """A new client connection (called by a transport on the server's loop)."""
        assert self.state is not None, "the server is not started"
        return Session(self.state, connection, authenticated=authenticated, peer=peer)

    # -- the facade: callable from any thread ----------------------------------

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 30) -> Any:
        """Run `fn(*args)` on the server's loop and wait for it; a coroutine function is
        awaited there. The one bridge between the loop and other threads."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the server is not running")
        if threading.get_ident() == self._loop_thread:
            if asyncio.iscoroutinefunction(fn):
                raise RuntimeError(
                    f"server.call({fn.__name__}) would block the server's event loop; "
                    f"await {fn.__name__}() instead"
                )
            return fn(*args)

        async def run() -> Any:
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def share(self, name: str, obj: object) -> bool:
        """Make a dataframe, Arrow table or relation queryable as `name`, and tell
        subscribers of `table:<name>` and of `catalog`. Returns whether it replaced a shared
        object."""
        replaced = name in self.engine.shared
        self.engine.share(name, obj)
        self._table_changed(name, "replace" if replaced else "create")
        return replaced

    def unshare(self, name: str) -> bool:
        removed = self.engine.unshare(name)
        if removed:
            self._table_changed(name, "drop")
        return removed

    def _table_changed(self, name: str, op: str) -> None:
        self.notify(f"{TABLE_CHANNEL_PREFIX}{name}", {"op": op})
        # One fixed channel for schema browsers, which cannot subscribe to names yet unknown.
        self.notify(CATALOG_CHANNEL, {"op": op, "name": name})

    @property
    def shared(self) -> list[str]:
        return self.engine.shared.names()

    def shared_object(self, name: str) -> object:
        """The object shared as `name` (a RecordBatchReader as the table read from it)."""
        return self.engine.shared.items()[name]

    def notify(self, channel: str, payload: Any) -> int:
        """Publish on a channel; returns how many clients of this server received it."""
        return int(self.call(self.hub.publish, channel, payload))

    def subscriptions(self) -> dict[str, int]:
        return dict(self.call(self.hub.channels))

    def cancel(self, query_id: str) -> bool:
        """Cancel an in-flight query by its queryId; its client gets the cancellation error."""

        def cancel_on_loop() -> bool:
            assert self.state is not None
            return any(session.cancel(query_id) for session in list(self.state.sessions))

        return bool(self.call(cancel_on_loop))

    @property
    def warnings(self) -> list[str]:
        return list(self.engine.warnings)

    def invalidate_cache(self) -> None:
        """Forget cached results (e.g. a notebook cell wrote to the database)."""
        if self.engine.cache is not None:
            self.engine.cache.invalidate()

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
            "connections": self.connections,
            "queries": [
                {
                    "queryId": task.query_id,
                    "type": task.kind,
                    "sql": task.sql,
                    "age_seconds": round(now - task.submitted, 3),
                    "running": task.running,
                }
                for task in self.engine.workers.tasks()
            ],
            "channels": self.hub.channels(),
            "rooms": self.rooms.summary() if self.rooms is not None else None,
            **self.engine.status(),
        }
