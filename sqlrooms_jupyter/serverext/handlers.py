"""Tornado handlers: authentication, authorization and HTTP; the work is in `manager` and `relay`.

Every route needs a Jupyter-authenticated user (token or cookie) allowed to
`execute` on `kernels`, like a kernel's own channels; Jupyter's origin checks
apply unchanged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.websocket import WebSocketHandler, WebSocketProtocol

from ..web.transport import lenient_protocol
from .discovery import NoServer
from .redact import RedactedLogMixin
from .relay import (
    CLOSE_KERNEL_SERVER_LOST,
    CLOSE_REASONS,
    BrowserGone,
    FrameWriter,
    Relay,
    open_upstream,
)

if TYPE_CHECKING:
    from .extension import SqlroomsServerExtension
    from .manager import RelayManager, Target

AUTH_RESOURCE = "kernels"
AUTH_ACTION = "execute"
_Method = TypeVar("_Method", bound=Callable[..., Any])


def authorized_to_execute(method: _Method) -> _Method:
    """Jupyter's `@authorized("execute")`, with the method's type kept (the original's is lost)."""
    return cast(_Method, authorized(AUTH_ACTION)(method))


KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"


class _Extension(RedactedLogMixin, ExtensionHandlerMixin):
    @property
    def sqlrooms(self) -> SqlroomsServerExtension:
        return cast("SqlroomsServerExtension", self.extensionapp)

    @property
    def relay_manager(self) -> RelayManager:
        return self.sqlrooms.relay_manager


class KernelServersHandler(_Extension, APIHandler):
    """`GET {base_url}sqlrooms/api/kernels`: the running kernels that have a SQLRooms server."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized_to_execute
    async def get(self) -> None:
        self.finish(json.dumps(await self.relay_manager.list_servers()))


class KernelServerHandler(_Extension, APIHandler):
    """`GET {base_url}sqlrooms/api/kernels/<kernel_id>`: that kernel's server status."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized_to_execute
    async def get(self, kernel_id: str) -> None:
        try:
            status = await self.relay_manager.status(kernel_id)
        except NoServer as exc:
            raise web.HTTPError(404, exc.message) from None
        except TimeoutError as exc:
            raise web.HTTPError(504, str(exc)) from None
        self.finish(json.dumps(status))


class RelayHandler(_Extension, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """`WS {base_url}sqlrooms/kernels/<kernel_id>/ws`: the kernel's SQLRooms server, relayed."""

    auth_resource = AUTH_RESOURCE
    kernel_id = ""
    target: Target | None = None
    relay: Relay | None = None
    _pump: asyncio.Future[None] | None = None
    _upstream_closing: asyncio.Future[None] | None = None
    _closing = False  # the relay decided to close the browser's socket
    _browser_closed = False

    def set_default_headers(self) -> None:
        """Jupyter's page headers (CSP and such) mean nothing to a WebSocket."""

    def get_compression_options(self) -> dict[str, Any] | None:
        return None  # frames are forwarded as they are: no permessage-deflate

    @property
    def max_message_size(self) -> int:
        return self.sqlrooms.max_message_size

    @property
    def ping_interval(self) -> float | None:
        # Tornado's keepalive, in seconds; a client that does not answer a ping within
        # one interval is dropped. (Not WebSocketMixin's pings: see `open`.)
        return self.sqlrooms.ping_interval or None

    @property
    def ping_timeout(self) -> float | None:
        return None  # Tornado's default: the ping interval

    @ws_authenticated
    async def get(self, kernel_id: str) -> None:
        # Origin first: a foreign page must not learn which kernels exist.
        if not self.check_origin():
            raise web.HTTPError(403)
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, AUTH_ACTION, AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)
        try:
            self.target = self.relay_manager.find(kernel_id)
        except NoServer as exc:
            raise web.HTTPError(404, exc.message) from None
        self.kernel_id = kernel_id
        await super().get(kernel_id=kernel_id)

    async def open(self, kernel_id: str) -> None:
        # WebSocketMixin.open is not called: it would start a second, millisecond-based
        # pinger; Tornado's own (`ping_interval`) keeps the socket alive.
        self.set_nodelay(True)
        assert self.target is not None
        try:
            upstream = await open_upstream(self.target.discovery, self.sqlrooms.connect_timeout)
        except Exception as exc:
            self.log.warning("Cannot reach the SQLRooms server of kernel %s: %r", kernel_id, exc)
            self.shut(CLOSE_KERNEL_SERVER_LOST, CLOSE_REASONS[CLOSE_KERNEL_SERVER_LOST])
            return
        self.relay = Relay(upstream, FrameWriter(self, self.sqlrooms.max_buffered_bytes))
        if self._browser_closed:
            await self.relay.close()
            return
        self.relay_manager.add(self)
        self._pump = asyncio.ensure_future(self._to_browser(self.relay, self.target))

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        # Invalid UTF-8 is relayed rather than fatal; an oversized message's 1009
        # close reaches the browser (see `transport._LenientProtocol`).
        return lenient_protocol(self)

    async def on_message(self, message: str | bytes) -> None:
        # Awaited by Tornado before it reads the next message: backpressure upstream.
        if self.relay is not None and not self._closing:
            await self.relay.to_kernel(message)

    async def on_invalid_text(self, data: bytes) -> None:
        if self.relay is not None and not self._closing:
            await self.relay.to_kernel(data, text=True)

    def on_close(self) -> None:
        self._browser_closed = True
        self.relay_manager.discard(self)
        if self.relay is not None:
            self._upstream_closing = asyncio.ensure_future(self.relay.close())

    def shut(self, code: int, reason: str) -> None:
        """Close the browser's socket with a code saying why (the upstream follows)."""
        if self._closing or self._browser_closed:
            return
        self._closing = True
        self.close(code, reason)

    async def _to_browser(self, relay: Relay, target: Target) -> None:
        try:
            close = await relay.to_browser()
        except BrowserGone:
            await relay.close()
            return
        except Exception:
            self.log.exception("SQLRooms relay for kernel %s failed", self.kernel_id)
            self.shut(1011, "relay error")
            await relay.close()
            return
        if self._closing or self._browser_closed:
            return
        code, reason = await self.relay_manager.explain_close(target, close)
        self.log.debug("Closing relayed socket of kernel %s: %d %s", self.kernel_id, code, reason)
        self.shut(code, reason)


def routes() -> list[tuple[str, type[web.RequestHandler]]]:
    """The extension's routes, relative to the server's base_url."""
    return [
        (r"sqlrooms/api/kernels", KernelServersHandler),
        (rf"sqlrooms/api/kernels/{KERNEL_ID}", KernelServerHandler),
        (rf"sqlrooms/kernels/{KERNEL_ID}/ws", RelayHandler),
    ]
