"""The server inside a Jupyter kernel: a `ServerThread`, plus what a kernel needs.

A kernel picks a free port when the default one is taken, protects itself
with a random token (any web page the user visits could reach a loopback
port otherwise), and publishes a discovery file so the Jupyter server
extension can relay browser clients to it over a private Unix socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import duckdb

from ..web import process
from ..web.server import ServerConfig, SqlroomsServer
from ..web.thread import ServerThread
from .fingerprint import fingerprint

# Seconds a thread may hold the GIL while another waits for it, while the server runs
# (Python: 5 ms). A CPU-bound cell then delays a query by ~6 ms at p99, not ~20 (1 ms) or more.
GIL_SWITCH_INTERVAL = 0.0002
# sun_path holds 108 bytes on Linux, 104 on macOS.
_MAX_SOCKET_PATH = 100


def connection_file() -> Path | None:
    """The running kernel's connection file (`kernel-<id>.json`), if this is a kernel."""
    try:
        from ipykernel.connect import get_connection_file

        return Path(get_connection_file())
    except Exception:
        return None


def kernel_identity() -> tuple[str | None, Path]:
    """(kernel id, runtime dir): both from the connection file when there is one.

    The connection file's directory is the Jupyter server's runtime dir, which
    is where the server extension looks for discovery files.
    """
    path = connection_file()
    if path is not None and path.name.startswith("kernel-") and path.suffix == ".json":
        return path.stem.removeprefix("kernel-"), path.parent
    from jupyter_core.paths import jupyter_runtime_dir

    return None, Path(jupyter_runtime_dir())


def jupyter_server_urls(runtime_dir: Path) -> list[str]:
    """The URLs (with their base_url) of the live Jupyter servers writing to `runtime_dir`.

    Read from their `jpserver-<pid>.json` files; importing jupyter_server to ask
    would cost the kernel a second.
    """
    urls = []
    for info_file in sorted(runtime_dir.glob("jpserver-*.json")):
        try:
            info = json.loads(info_file.read_text())
            if os.name != "nt":  # signal 0 there is CTRL_C_EVENT, not a liveness probe
                os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable, or the server is gone
        url = info.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")) and url not in urls:
            urls.append(url if url.endswith("/") else url + "/")
    return urls


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(data, file)
    os.replace(partial, path)


class KernelServer:
    """One kernel's SQLRooms server: start, share objects, inspect, stop."""

    def __init__(
        self,
        config: ServerConfig,
        connection: duckdb.DuckDBPyConnection | None = None,
        *,
        kernel_id: str | None = None,
        runtime_dir: Path | None = None,
    ) -> None:
        if kernel_id is None and runtime_dir is None:
            kernel_id, runtime_dir = kernel_identity()
        self.kernel_id = kernel_id
        self.runtime_dir = runtime_dir
        self.config = config
        self.connection = connection
        self.notes: list[str] = []  # what the user should know about how it started
        self.discovery_file: Path | None = None
        self._socket_dir: Path | None = None  # a private temp dir, when the runtime path is long
        self._thread: ServerThread | None = None
        self._switch_interval = sys.getswitchinterval()
        # Shares that follow a notebook variable: name -> (variable, the object shared).
        self.follows: dict[str, tuple[str, object]] = {}
        # Shared frames a cell could change in place: name -> (the object, its fingerprint).
        self.watched: dict[str, tuple[object, Hashable]] = {}

    # -- lifecycle ---------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.running

    @property
    def relay_urls(self) -> list[str]:
        """Where browsers reach this server through Jupyter (its auth, its proxies)."""
        if self.kernel_id is None or self.runtime_dir is None:
            return []
        path = f"sqlrooms/kernels/{self.kernel_id}/ws"
        urls = jupyter_server_urls(self.runtime_dir)
        return ["ws" + url.removeprefix("http") + path for url in urls]  # http(s) -> ws(s)

    @property
    def app_urls(self) -> list[str]:
        """The SQLRooms app bound to this kernel, through Jupyter (signed in by its cookie)."""
        if self.kernel_id is None or self.runtime_dir is None:
            return []
        query = f"sqlrooms/app/?kernel={self.kernel_id}"
        return [url + query for url in jupyter_server_urls(self.runtime_dir)]

    @property
    def server(self) -> SqlroomsServer:
        if self._thread is None:
            raise RuntimeError("the SQLRooms server is not running")
        return self._thread.server

    def start(self, *, port_fallback: bool = True) -> SqlroomsServer:
        """Listen on TCP and (in a kernel) on a private Unix socket; write the discovery file.

        With `port_fallback`, a taken port is replaced by a free one (the notes say so).
        """
        config = self.config
        if port_fallback and config.port and not port_is_free(config.host, config.port):
            self.notes.append(f"port {config.port} is in use; picked a free one")
            config.port = 0
        process.raise_descriptor_limit()
        if self.kernel_id is not None:
            # A kernel's stdin is its launcher's pipe, never written (input comes over ZMQ).
            process.detach_stdin()
        if self.kernel_id is not None and self.runtime_dir is not None:
            config.relay_secret = secrets.token_urlsafe(32)
            config.unix_socket = str(self._socket_path(self.runtime_dir / "sqlrooms"))
        thread = ServerThread(config, self.connection)
        try:
            server = thread.start()
        except BaseException:
            self._remove_files()
            raise
        self._thread = thread
        # The server's thread shares the GIL with the user's cells: at Python's default
        # 5 ms switch interval a CPU-bound cell adds tens of milliseconds to every query.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, GIL_SWITCH_INTERVAL))
        if config.unix_socket is not None:
            self._write_discovery(server)
        return server

    def stop(self) -> None:
        """Cancel in-flight queries, flush rooms, close sockets, free the port, remove files."""
        thread, self._thread = self._thread, None
        try:
            if thread is not None:
                thread.stop()
                sys.setswitchinterval(self._switch_interval)
        finally:
            self._remove_files()

    def _socket_path(self, directory: Path) -> Path:
        path = directory / f"{self.kernel_id}.sock"
        if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            return path
        self._socket_dir = Path(tempfile.mkdtemp(prefix="sqlrooms-"))  # mode 0700
        return self._socket_dir / "kernel.sock"

    def _write_discovery(self, server: SqlroomsServer) -> None:
        assert self.runtime_dir is not None
        path = self.runtime_dir / "sqlrooms" / f"{self.kernel_id}.json"
        _write_private_json(
            path,
            {
                "kernel_id": self.kernel_id,
                "socket": self.config.unix_socket,
                "secret": self.config.relay_secret,
                "port": server.port,
                "url": server.url,
                "pid": os.getpid(),
                "started_at": server.started_at,
                "sync": self.config.sync,
            },
        )
        self.discovery_file = path

    def _remove_files(self) -> None:
        for path in (self.discovery_file, self.config.unix_socket):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        self.discovery_file = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    # -- what the notebook does with it -------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def client_url(self) -> str:
        """The URL a client opens, with the token in the query string."""
        token = self.config.auth_token
        return f"{self.url}?token={token}" if token else self.url

    @property
    def app_url(self) -> str:
        """The app served by this server, without the token (it asks for one)."""
        return self.url.replace("ws://", "http://", 1) + "app/"

    @property
    def direct_app_url(self) -> str:
        """The app served by this server; the token rides in the fragment, out of server logs."""
        token = self.config.auth_token
        return f"{self.app_url}#token={token}" if token else self.app_url

    def share(self, name: str, obj: object, *, follow: str | None = None) -> bool:
        """Make `obj` queryable as `name` by clients and by the notebook's own cells;
        subscribers of `table:<name>` are told. With `follow`, a cell that rebinds that
        variable re-shares it (see `refresh_followed`). Returns whether it replaced an
        object shared under that name."""
        server = self.server
        replaced = server.share(name, obj)
        if self.connection is not None:  # `duckdb.sql("select * from name")` in a cell
            self.connection.register(name, server.shared_object(name))
        if follow is not None:
            self.follows[name] = (follow, obj)
        else:
            self.follows.pop(name, None)
        mark = fingerprint(obj)
        if mark is not None:
            self.watched[name] = (obj, mark)
        else:
            self.watched.pop(name, None)
        return replaced

    def unshare(self, name: str) -> bool:
        self.follows.pop(name, None)
        self.watched.pop(name, None)
        removed = self.server.unshare(name)
        if removed and self.connection is not None:
            with contextlib.suppress(duckdb.Error):
                self.connection.unregister(name)
        return removed

    def refresh_followed(self, namespace: dict[str, Any]) -> list[str]:
        """After a cell: re-share every followed variable it rebound and every shared frame
        it changed in place (clients hear `replace` either way); returns what to tell the user."""
        notes = []
        for name, (variable, shared) in list(self.follows.items()):
            current = namespace.get(variable, shared)
            if current is shared:
                continue
            try:
                self.share(name, current, follow=variable)
            except ValueError as exc:
                del self.follows[name]
                self.watched.pop(name, None)
                notes.append(f"SQLRooms: stopped following '{variable}' for '{name}': {exc}")
            else:
                notes.append(f"SQLRooms: re-shared '{variable}' as '{name}'.")
        for name, (shared, mark) in list(self.watched.items()):
            if fingerprint(shared) == mark:
                continue
            follow = self.follows.get(name, (None, None))[0]
            try:
                self.share(name, shared, follow=follow)
            except ValueError as exc:  # e.g. a column of a type DuckDB cannot scan
                self.watched.pop(name, None)
                notes.append(f"SQLRooms: '{name}' changed and cannot be shared any more: {exc}")
            else:
                notes.append(f"SQLRooms: '{name}' changed in place; re-shared.")
        return notes

    def notify(self, channel: str, payload: Any) -> int:
        """Publish on a channel; returns how many clients received it."""
        return self.server.notify(channel, payload)

    def cancel(self, query_id: str) -> bool:
        """Cancel an in-flight query by its queryId; its client gets the cancellation error."""
        return self.server.cancel(query_id)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.server.call(self.server.status)
        status["kernel_id"] = self.kernel_id
        return status

    def subscriptions(self) -> dict[str, int]:
        return self.server.subscriptions()

    def rooms(self) -> list[dict[str, Any]] | None:
        rooms = self.server.rooms
        return None if rooms is None else self.server.call(rooms.summary)

    @property
    def warnings(self) -> list[str]:
        return self.server.warnings

    def invalidate_cache(self) -> None:
        """Forget cached results: a notebook cell may have written to the database."""
        if self.running:
            self.server.invalidate_cache()


def random_token() -> str:
    return secrets.token_urlsafe(24)
