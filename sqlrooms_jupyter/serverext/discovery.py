"""Find and validate the discovery file a kernel writes when its SQLRooms server starts.

The file (`{dir of the kernel's connection file}/sqlrooms/<kernel_id>.json`)
holds the private Unix socket and its secret. It is trusted only when it is a
regular file owned by this server's user, readable by nobody else, names the
kernel it is filed under, and was written by that kernel's process (or a
descendant of it, for kernels started through a wrapper).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MAX_FILE_BYTES = 64 << 10
_MAX_ANCESTRY = 16


class NoServer(Exception):
    """The kernel has no SQLRooms server the relay may use.

    `message` is for the client (no file paths); `detail` is for the server's log.
    `suspicious` marks something wrong rather than simply absent: worth a warning.
    """

    def __init__(self, message: str, detail: str | None = None, *, suspicious: bool = False):
        super().__init__(message)
        self.message = message
        self.detail = detail or message
        self.suspicious = suspicious


_UNTRUSTED = "this kernel's SQLRooms server cannot be relayed to (see the Jupyter server log)"


def _untrusted(detail: str) -> NoServer:
    return NoServer(_UNTRUSTED, detail, suspicious=True)


@dataclass(frozen=True)
class Discovery:
    kernel_id: str
    socket: str
    secret: str
    pid: int
    url: str | None
    port: int | None
    started_at: float | None
    sync: bool


def discovery_path(connection_file: str | os.PathLike[str], kernel_id: str) -> Path:
    return Path(connection_file).parent / "sqlrooms" / f"{kernel_id}.json"


def kernel_pid(kernel: Any) -> int | None:
    """The process id of a kernel managed by jupyter_client, if it runs locally."""
    provisioner = getattr(kernel, "provisioner", None)
    pid = getattr(provisioner, "pid", None)  # LocalProvisioner (jupyter_client 7 and 8)
    if not isinstance(pid, int):
        process = getattr(provisioner, "process", None) or getattr(kernel, "kernel", None)
        pid = getattr(process, "pid", None)
    return pid if isinstance(pid, int) and pid > 0 else None


def _parent_pid(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
    fields = text.rsplit(")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def runs_in_kernel(pid: int, kernel: int) -> bool:
    """`pid` is the kernel process or (where /proc tells) one of its descendants."""
    for _ in range(_MAX_ANCESTRY):
        if pid == kernel:
            return True
        if pid <= 1:
            return False
        parent = _parent_pid(pid)
        if parent is None:
            return False
        pid = parent
    return False


def _private_to_us(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & 0o077


def read_discovery(path: Path, kernel_id: str, pid: int | None) -> Discovery:
    """The validated discovery file of kernel `kernel_id` (process `pid`); NoServer otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NoServer("no SQLRooms server is running in this kernel") from None
    except OSError as exc:  # ELOOP: a symlink
        raise _untrusted(f"cannot open {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _untrusted(f"{path} is not a regular file")
        if not _private_to_us(info):
            raise _untrusted(
                f"{path} is not private to this user (owner uid {info.st_uid}, "
                f"mode {stat.S_IMODE(info.st_mode):o}; expected uid {os.geteuid()}, mode 600)"
            )
        raw = os.read(fd, _MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > _MAX_FILE_BYTES:
        raise _untrusted(f"{path} is too large")
    try:
        data = json.loads(raw)
    except ValueError:
        raise _untrusted(f"{path} is not valid JSON") from None
    discovery = _parse(data, path)
    if discovery.kernel_id != kernel_id:
        raise _untrusted(f"{path} names kernel {discovery.kernel_id!r}")
    if pid is None:
        raise NoServer("the kernel has no local process to relay to")
    if not runs_in_kernel(discovery.pid, pid):
        raise _untrusted(
            f"{path} was written by process {discovery.pid}, not by the kernel "
            f"(process {pid}): stale or foreign"
        )
    _check_socket(discovery.socket)
    return discovery


def _parse(data: Any, path: Path) -> Discovery:
    if not isinstance(data, dict):
        raise _untrusted(f"{path} is not a JSON object")
    kernel_id, sock, secret, pid = (data.get(k) for k in ("kernel_id", "socket", "secret", "pid"))
    if not (
        isinstance(kernel_id, str)
        and isinstance(sock, str)
        and os.path.isabs(sock)
        and isinstance(secret, str)
        and secret
        and isinstance(pid, int)
        and not isinstance(pid, bool)
    ):
        raise _untrusted(f"{path} lacks kernel_id, socket, secret or pid")
    started_at = data.get("started_at")
    port = data.get("port")
    url = data.get("url")
    return Discovery(
        kernel_id=kernel_id,
        socket=sock,
        secret=secret,
        pid=pid,
        url=url if isinstance(url, str) else None,
        port=port if isinstance(port, int) else None,
        started_at=float(started_at) if isinstance(started_at, (int, float)) else None,
        sync=data.get("sync") is True,
    )


def _check_socket(path: str) -> None:
    info = None
    with contextlib.suppress(OSError):
        info = os.lstat(path)
    if info is None:
        raise NoServer(
            "no SQLRooms server is running in this kernel",
            f"the server's socket {path} is gone: stale discovery file",
        )
    if not stat.S_ISSOCK(info.st_mode) or not _private_to_us(info):
        raise _untrusted(f"{path} is not a socket private to this user")
