"""kernel server: the discovery file, the Unix socket and the token, without a real kernel
(a KernelServer given a kernel id and runtime dir runs in-process)."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.kernel.server import KernelServer, jupyter_server_urls
from sqlrooms_jupyter.web.server import ServerConfig
from tests.support import Client


def _config(**overrides: object) -> ServerConfig:
    return ServerConfig(port=0, engine=EngineConfig(extensions=()), **overrides)  # type: ignore[arg-type]


def test_discovery_file_names_the_socket_and_secret_then_goes_away(tmp_path: Path) -> None:
    kernel = KernelServer(_config(), kernel_id="k1", runtime_dir=tmp_path)
    server = kernel.start()
    try:
        path = tmp_path / "sqlrooms" / "k1.json"
        assert kernel.discovery_file == path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the relay's secret
        info = json.loads(path.read_text())
        assert info["kernel_id"] == "k1" and info["port"] == server.port
        assert info["url"] == server.url
        assert info["secret"] and info["secret"] == kernel.config.relay_secret
        sock = Path(info["socket"])
        assert stat.S_ISSOCK(sock.stat().st_mode)
        with socket.socket(socket.AF_UNIX) as unix:
            unix.connect(str(sock))  # the relay's way in
        assert kernel.relay_urls == []  # no Jupyter server wrote a jpserver file here
    finally:
        kernel.stop()
    assert not path.exists() and not sock.exists()
    assert not kernel.running


def test_a_long_runtime_dir_gets_a_private_socket_dir(tmp_path: Path) -> None:
    runtime = tmp_path / ("d" * 120)
    kernel = KernelServer(_config(), kernel_id="k2", runtime_dir=runtime)
    kernel.start()
    try:
        sock = Path(json.loads((runtime / "sqlrooms" / "k2.json").read_text())["socket"])
        assert len(str(sock)) <= 100 and sock.exists()
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    finally:
        kernel.stop()
    assert not sock.parent.exists()


def test_the_token_is_in_the_client_url_and_required(tmp_path: Path) -> None:
    kernel = KernelServer(_config(auth_token="s3cret"), kernel_id=None, runtime_dir=tmp_path)
    kernel.start()
    try:
        assert kernel.discovery_file is None  # not in a kernel: no relay
        assert kernel.client_url == f"{kernel.url}?token=s3cret"
        assert kernel.direct_app_url.endswith("/app/#token=s3cret")
        with Client(kernel.client_url) as client:
            assert client.query("SELECT 1 AS one", kind="json") == [{"one": 1}]
        with Client(kernel.url) as anonymous:
            anonymous.send({"type": "json", "sql": "SELECT 1", "queryId": "x"})
            frame = anonymous.recv_json()
            assert frame["type"] == "error"
    finally:
        kernel.stop()


def test_a_taken_port_is_replaced_and_noted(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        kernel = KernelServer(_config(), kernel_id=None, runtime_dir=tmp_path)
        kernel.config.port = port
        server = kernel.start()
        try:
            assert server.port != port
            assert kernel.notes == [f"port {port} is in use; picked a free one"]
        finally:
            kernel.stop()


def test_jupyter_server_urls_reads_live_servers_only(tmp_path: Path) -> None:
    import os

    (tmp_path / "jpserver-1.json").write_text(
        json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:8888/lab"})
    )
    (tmp_path / "jpserver-2.json").write_text(
        json.dumps({"pid": 2**22 + 12345, "url": "http://127.0.0.1:9999/"})  # no such pid
    )
    (tmp_path / "jpserver-3.json").write_text("not json")
    assert jupyter_server_urls(tmp_path) == ["http://127.0.0.1:8888/lab/"]
