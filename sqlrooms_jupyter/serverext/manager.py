"""State of the relay: which kernels have a SQLRooms server, their status, open relays.

Handlers ask the manager; the manager asks Jupyter's kernel and session
managers, the kernels' discovery files, and (over the private Unix socket)
the kernels' servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from jupyter_core.utils import ensure_async
from tornado.httpclient import HTTPRequest
from tornado.netutil import Resolver
from tornado.simple_httpclient import HTTPTimeoutError, SimpleAsyncHTTPClient
from websockets.frames import Close

from .discovery import Discovery, NoServer, discovery_path, kernel_pid, read_discovery
from .relay import (
    CLOSE_KERNEL_RESTARTED,
    CLOSE_KERNEL_SERVER_LOST,
    CLOSE_KERNEL_SHUT_DOWN,
    CLOSE_REASONS,
    passable,
)

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

_POLL_SECONDS = 0.1
# A connection that ended without a close frame may be a kernel process on its
# way out that the kernel manager has not noticed yet: look again for this long.
_EXIT_GRACE_SECONDS = 2.0


@dataclass
class Limits:
    connect_timeout: float = 10.0
    status_timeout: float = 5.0
    restart_timeout: float = 60.0


@dataclass(frozen=True)
class Target:
    """A kernel's server the relay may connect to, and the kernel process it lives in."""

    kernel_id: str
    kernel_pid: int
    discovery: Discovery


class _UnixResolver(Resolver):
    """Resolves any host to one Unix socket, for Tornado's HTTP client."""

    def initialize(self, path: str) -> None:
        self.path = path

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        return [(socket.AF_UNIX, self.path)]


class ClosableRelay(Protocol):
    """What the manager knows of a relayed connection (the handler)."""

    kernel_id: str

    def shut(self, code: int, reason: str) -> None: ...


class RelayManager:
    def __init__(self, serverapp: ServerApp, limits: Limits, log: logging.Logger) -> None:
        self.serverapp = serverapp
        self.limits = limits
        self.log = log
        self.relays: set[ClosableRelay] = set()
        self._warned: set[tuple[str, str]] = set()

    # -- kernels and their servers ------------------------------------------

    def _kernel(self, kernel_id: str) -> Any | None:
        manager = self.serverapp.kernel_manager
        return manager.get_kernel(kernel_id) if kernel_id in manager else None

    def find(self, kernel_id: str) -> Target:
        """A live kernel's server, from its validated discovery file; NoServer otherwise."""
        kernel = self._kernel(kernel_id)
        if kernel is None:
            raise NoServer("no such kernel")
        connection_file = getattr(kernel, "connection_file", "") or ""
        pid = kernel_pid(kernel)
        if not connection_file or pid is None:
            raise NoServer("the kernel does not run on this machine: nothing to relay to")
        path = discovery_path(connection_file, kernel_id)
        try:
            discovery = read_discovery(path, kernel_id, pid)
        except NoServer as exc:
            key = (str(path), exc.detail)
            if exc.suspicious and key not in self._warned:
                self._warned.add(key)  # once: clients may poll
                self.log.warning("Not relaying to kernel %s: %s", kernel_id, exc.detail)
            raise
        return Target(kernel_id, pid, discovery)

    async def fetch_status(self, discovery: Discovery) -> dict[str, Any]:
        """`GET /api/status` of the kernel's server, over its Unix socket."""
        client = SimpleAsyncHTTPClient(
            force_instance=True, resolver=_UnixResolver(path=discovery.socket)
        )
        try:
            request = HTTPRequest(
                "http://sqlrooms-kernel/api/status",
                headers={"Authorization": f"Bearer {discovery.secret}"},
                connect_timeout=self.limits.status_timeout,
                request_timeout=self.limits.status_timeout,
            )
            response = await client.fetch(request)
            status: dict[str, Any] = json.loads(response.body)
            return status
        finally:
            client.close()

    async def notebook_paths(self) -> dict[str, str | None]:
        """Kernel id to the path of the notebook (or other document) it belongs to."""
        sessions = await ensure_async(self.serverapp.session_manager.list_sessions())
        return {s["kernel"]["id"]: s.get("path") for s in sessions if s.get("kernel")}

    def ws_path(self, kernel_id: str) -> str:
        return f"{self.serverapp.base_url}sqlrooms/kernels/{kernel_id}/ws"

    async def list_servers(self) -> list[dict[str, Any]]:
        found: list[Discovery] = []
        for kernel_id in self.serverapp.kernel_manager.list_kernel_ids():
            try:
                found.append(self.find(kernel_id).discovery)
            except NoServer:
                continue
        statuses = await asyncio.gather(
            *(self.fetch_status(d) for d in found), return_exceptions=True
        )
        paths = await self.notebook_paths()
        servers = []
        for discovery, status in zip(found, statuses, strict=True):
            if isinstance(status, BaseException):
                self.log.debug("No status from kernel %s: %r", discovery.kernel_id, status)
                if not isinstance(status, HTTPTimeoutError):
                    continue  # gone (its file will be too) or not the server the file names
                status = {}  # busy: listed, without a live connection count
            servers.append(
                {
                    "kernel_id": discovery.kernel_id,
                    "path": paths.get(discovery.kernel_id),
                    "started_at": status.get("started_at", discovery.started_at),
                    "sync": status.get("sync", discovery.sync),
                    "connections": status.get("connections"),
                    "url": status.get("url", discovery.url),
                    "ws_path": self.ws_path(discovery.kernel_id),
                }
            )
        return servers

    async def status(self, kernel_id: str) -> dict[str, Any]:
        """The kernel server's status; NoServer when there is none (or it refuses us),
        TimeoutError when it is too busy to answer."""
        discovery = self.find(kernel_id).discovery
        try:
            status = await self.fetch_status(discovery)
        except HTTPTimeoutError:
            raise TimeoutError("this kernel's SQLRooms server did not answer in time") from None
        except Exception as exc:
            raise NoServer(
                "this kernel's SQLRooms server does not answer",
                f"no status from kernel {kernel_id}: {exc!r}",
            ) from exc
        paths = await self.notebook_paths()
        return {
            **status,
            "kernel_id": kernel_id,
            "path": paths.get(kernel_id),
            "ws_path": self.ws_path(kernel_id),
            "relayed_connections": sum(1 for r in self.relays if r.kernel_id == kernel_id),
        }

    # -- relayed connections --------------------------------------------------

    def add(self, relay: ClosableRelay) -> None:
        self.relays.add(relay)

    def discard(self, relay: ClosableRelay) -> None:
        self.relays.discard(relay)

    def close_all(self, code: int, reason: str) -> None:
        for relay in list(self.relays):
            relay.shut(code, reason)

    async def _kernel_changing(self, target: Target) -> bool:
        """Is the kernel process the relay connected to gone, going, or replaced?"""
        kernel = self._kernel(target.kernel_id)
        if kernel is None or getattr(kernel, "shutting_down", False):
            return True
        if kernel_pid(kernel) != target.kernel_pid:
            return True
        try:
            return not await ensure_async(kernel.is_alive())
        except Exception:
            return True

    async def explain_close(self, target: Target, close: Close | None) -> tuple[int, str]:
        """Why the kernel's server closed a relayed connection, as a browser close code.

        The kernel restarted (4001) or shut down (4002), or its server closed the
        socket itself (its code passed through, e.g. 1001 after `%sqlrooms stop`),
        or the connection broke while the kernel lives on (4003).
        """
        loop = asyncio.get_running_loop()
        grace = loop.time() + (_EXIT_GRACE_SECONDS if close is None else 0)
        while not await self._kernel_changing(target):
            if loop.time() >= grace:
                code = passable(close)
                if code is not None:
                    return code
                return CLOSE_KERNEL_SERVER_LOST, CLOSE_REASONS[CLOSE_KERNEL_SERVER_LOST]
            await asyncio.sleep(_POLL_SECONDS)
        # Restarting or shutting down: wait for the outcome.
        deadline = loop.time() + self.limits.restart_timeout
        while loop.time() < deadline:
            kernel = self._kernel(target.kernel_id)
            if kernel is None:
                break
            pid = kernel_pid(kernel)
            restarted = pid is not None and pid != target.kernel_pid
            if restarted and not getattr(kernel, "shutting_down", False):
                return CLOSE_KERNEL_RESTARTED, CLOSE_REASONS[CLOSE_KERNEL_RESTARTED]
            await asyncio.sleep(_POLL_SECONDS)
        return CLOSE_KERNEL_SHUT_DOWN, CLOSE_REASONS[CLOSE_KERNEL_SHUT_DOWN]
