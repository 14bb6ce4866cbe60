"""serverext.discovery: a kernel's discovery file is trusted only when it is private,
well formed, names its kernel, was written by the kernel's process, and its socket lives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlrooms_jupyter.serverext.discovery import (
    NoServer,
    discovery_path,
    read_discovery,
    runs_in_kernel,
)

KERNEL = "k-1234"


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "s.sock")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    os.chmod(path, 0o600)
    yield path
    sock.close()


def _write(path: Path, content: Any, mode: int = 0o600) -> Path:
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def _good(sock: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kernel_id": KERNEL,
        "socket": sock,
        "secret": "s3cret",
        "pid": os.getpid(),
        "url": "ws://127.0.0.1:4000/",
        "port": 4000,
        "started_at": 1700000000,
        "sync": True,
    }
    data.update(changes)
    return data


def _refused(path: Path, pid: int | None = None) -> NoServer:
    with pytest.raises(NoServer) as caught:
        read_discovery(path, KERNEL, os.getpid() if pid is None else pid)
    return caught.value


def test_discovery_path_sits_next_to_the_connection_file() -> None:
    path = discovery_path("/run/user/1/jupyter/kernel-abc.json", "abc")
    assert path == Path("/run/user/1/jupyter/sqlrooms/abc.json")


def test_a_valid_file_is_read(tmp_path: Path, unix_socket: str) -> None:
    found = read_discovery(_write(tmp_path / "d.json", _good(unix_socket)), KERNEL, os.getpid())
    assert (found.kernel_id, found.socket, found.secret, found.pid) == (
        KERNEL,
        unix_socket,
        "s3cret",
        os.getpid(),
    )
    assert (found.url, found.port, found.started_at, found.sync) == (
        "ws://127.0.0.1:4000/",
        4000,
        1700000000.0,
        True,
    )


def test_optional_fields_of_the_wrong_type_are_ignored(tmp_path: Path, unix_socket: str) -> None:
    data = _good(unix_socket, url=5, port="4000", started_at="soon", sync="yes")
    found = read_discovery(_write(tmp_path / "d.json", data), KERNEL, os.getpid())
    assert (found.url, found.port, found.started_at, found.sync) == (None, None, None, False)


def test_a_missing_file_means_no_server_not_an_attack(tmp_path: Path) -> None:
    refused = _refused(tmp_path / "absent.json")
    assert not refused.suspicious and "no SQLRooms server" in refused.message


def test_a_file_readable_by_others_is_refused(tmp_path: Path, unix_socket: str) -> None:
    refused = _refused(_write(tmp_path / "d.json", _good(unix_socket), mode=0o644))
    assert refused.suspicious and "not private" in refused.detail
    assert str(tmp_path) not in refused.message  # paths go to the log, not to clients


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user's needs root")
def test_a_file_owned_by_another_user_is_refused(tmp_path: Path, unix_socket: str) -> None:
    path = _write(tmp_path / "d.json", _good(unix_socket))
    os.chown(path, 65534, 65534)
    assert _refused(path).suspicious


def test_a_symlink_is_refused(tmp_path: Path, unix_socket: str) -> None:
    target = _write(tmp_path / "real.json", _good(unix_socket))
    link = tmp_path / "d.json"
    link.symlink_to(target)
    assert _refused(link).suspicious


def test_a_directory_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "d.json"
    directory.mkdir(mode=0o700)
    refused = _refused(directory)
    assert refused.suspicious and "regular file" in refused.detail


def test_an_oversized_file_is_refused(tmp_path: Path, unix_socket: str) -> None:
    data = _good(unix_socket, padding="x" * (64 << 10))
    refused = _refused(_write(tmp_path / "d.json", data))
    assert refused.suspicious and "too large" in refused.detail


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"a string"', "null"])
def test_unreadable_contents_are_refused(tmp_path: Path, text: str) -> None:
    assert _refused(_write(tmp_path / "d.json", text)).suspicious


@pytest.mark.parametrize(
    "change",
    [
        {"kernel_id": None},
        {"socket": "relative.sock"},
        {"socket": 5},
        {"secret": ""},
        {"secret": None},
        {"pid": True},
        {"pid": "123"},
    ],
)
def test_missing_or_mistyped_fields_are_refused(
    tmp_path: Path, unix_socket: str, change: dict[str, Any]
) -> None:
    data = _good(unix_socket, **change)
    assert _refused(_write(tmp_path / "d.json", data)).suspicious


def test_a_file_naming_another_kernel_is_refused(tmp_path: Path, unix_socket: str) -> None:
    refused = _refused(_write(tmp_path / "d.json", _good(unix_socket, kernel_id="other")))
    assert refused.suspicious and "'other'" in refused.detail


def test_a_kernel_without_a_local_process_has_no_server(tmp_path: Path, unix_socket: str) -> None:
    path = _write(tmp_path / "d.json", _good(unix_socket))
    with pytest.raises(NoServer) as caught:
        read_discovery(path, KERNEL, None)
    assert not caught.value.suspicious


def test_a_file_written_by_another_process_is_refused(tmp_path: Path, unix_socket: str) -> None:
    refused = _refused(_write(tmp_path / "d.json", _good(unix_socket, pid=1)))
    assert refused.suspicious and "stale or foreign" in refused.detail


def test_a_file_written_by_a_descendant_of_the_kernel_is_trusted(
    tmp_path: Path, unix_socket: str
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        assert runs_in_kernel(child.pid, os.getpid())
        assert not runs_in_kernel(os.getpid(), child.pid)  # an ancestor is not a descendant
        path = _write(tmp_path / "d.json", _good(unix_socket, pid=child.pid))
        assert read_discovery(path, KERNEL, os.getpid()).pid == child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


def test_a_vanished_socket_means_a_stale_file(tmp_path: Path) -> None:
    refused = _refused(_write(tmp_path / "d.json", _good(str(tmp_path / "gone.sock"))))
    assert not refused.suspicious and "stale" in refused.detail


def test_a_socket_path_that_is_not_a_private_socket_is_refused(
    tmp_path: Path, unix_socket: str
) -> None:
    plain = _write(tmp_path / "plain", "")
    assert _refused(_write(tmp_path / "d.json", _good(str(plain)))).suspicious
    os.chmod(unix_socket, 0o666)
    assert _refused(_write(tmp_path / "e.json", _good(unix_socket))).suspicious
