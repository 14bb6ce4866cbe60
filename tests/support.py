"""Test helpers: the real CLI in a subprocess and a real WebSocket client."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from websockets.sync.client import ClientConnection, connect

from .polling import wait_until

TESTS = Path(__file__).resolve().parent  # tests/: the npm projects the JS tests run live here
ROOT = TESTS.parent  # the checkout: README.md, docs/, notebooks/


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class ServerProcess:
    """`python -m sqlrooms_jupyter` on a free loopback port."""

    def __init__(
        self,
        *args: str,
        cwd: Path,
        extensions: str = "",
        python: str = sys.executable,
        port: int | None = None,
        preexec_fn: Any = None,
        stdin: Any = None,
    ) -> None:
        self.port = port or free_port()
        self.args = [
            python,
            "-m",
            "sqlrooms_jupyter",
            "--port",
            str(self.port),
            "--extensions",
            extensions,
            *args,
        ]
        self.log_path = cwd / f"server-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=os.environ.copy(),
            preexec_fn=preexec_fn,
            stdin=stdin,
        )
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.http = f"http://127.0.0.1:{self.port}"
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.log()}")
            try:
                return http_get(self.http + "/readyz")[0] == 200
            except OSError:
                return False

        wait_until(ready, "the server to be ready", timeout=timeout, interval=0.05, detail=self.log)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def client(self, path: str = "/", **kwargs: Any) -> Client:
        return Client(self.url.rstrip("/") + path, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def rss(server: ServerProcess) -> int:
    """The server process's resident memory, in bytes."""
    with open(f"/proc/{server.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Client:
    """A blocking WebSocket client that speaks the SQLRooms protocol."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("max_size", None)
        kwargs.setdefault("open_timeout", 10)
        self.ws: ClientConnection = connect(url, **kwargs).__enter__()
        self.quiet_progress: set[str] = set()  # query ids whose progress frames recv skips

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ws.close()

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        self.ws.send(json.dumps(message) if isinstance(message, dict) else message)

    def start_running(self, message: dict[str, Any], timeout: float = 30) -> None:
        """Send a query and return once DuckDB runs it: its first progress frame (it asks for
        them) says so. `recv` skips its later progress frames, so the test sees what it would
        have seen without them."""
        self.send({**message, "progress": True})
        first = self._recv_one(timeout)
        expected = {"type": "progress", "queryId": message["queryId"]}
        assert isinstance(first, dict) and first.items() >= expected.items(), first
        self.quiet_progress.add(message["queryId"])

    def recv(self, timeout: float = 30) -> dict[str, Any] | tuple[dict[str, Any], bytes]:
        """A text frame as a dict, or a binary frame as (header, payload)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._recv_one(max(0.0, deadline - time.monotonic()))
            if not (
                isinstance(frame, dict)
                and frame.get("type") == "progress"
                and frame.get("queryId") in self.quiet_progress
            ):
                return frame

    def _recv_one(self, timeout: float) -> dict[str, Any] | tuple[dict[str, Any], bytes]:
        frame = self.ws.recv(timeout)
        if isinstance(frame, str):
            return json.loads(frame)
        length = int.from_bytes(frame[:4], "big")
        return json.loads(frame[4 : 4 + length]), frame[4 + length :]

    def recv_json(self, timeout: float = 30) -> dict[str, Any]:
        frame = self.recv(timeout)
        assert isinstance(frame, dict), f"expected a text frame, got binary {frame[0]}"
        return frame

    def query(self, sql: str, kind: str = "arrow", query_id: str = "q", **extra: Any) -> Any:
        """Send one query and return its answer: a pyarrow Table, JSON rows or the frame."""
        self.send({"type": kind, "sql": sql, "queryId": query_id, **extra})
        return answer(self.recv(), query_id)


def answer(frame: dict[str, Any] | tuple[dict[str, Any], bytes], query_id: str) -> Any:
    """A query's answer frame as a pyarrow Table, JSON rows, or the frame itself."""
    if isinstance(frame, tuple):
        header, payload = frame
        assert header == {"type": "arrow", "queryId": query_id}
        return arrow_table(payload)
    if frame.get("type") == "json":
        assert frame["queryId"] == query_id
        return json.loads(frame["data"])
    return frame


def arrow_table(payload: bytes) -> pa.Table:
    return pa.ipc.open_stream(payload).read_all()


def arrow_upload_frame(table: pa.Table, table_name: str, query_id: str) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    header = json.dumps({"type": "uploadArrow", "tableName": table_name, "queryId": query_id})
    raw = header.encode()
    return len(raw).to_bytes(4, "big") + raw + sink.getvalue().to_pybytes()


def npm_project(js_dir: Path) -> str:
    """`npm install` in `js_dir` unless node_modules matches package.json; returns `node`.

    Skips the calling test when node or npm is missing.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are required for the JS interop tests (not found on PATH)")
    stamp = js_dir / "node_modules" / ".package-json.sha256"
    digest = hashlib.sha256((js_dir / "package.json").read_bytes()).hexdigest()
    if not (stamp.is_file() and stamp.read_text() == digest):
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"],
            cwd=js_dir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"npm install failed:\n{proc.stdout}\n{proc.stderr}"
        stamp.write_text(digest)
    return node


def interop_records(stdout: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """The check lines (by name) and the summary line a JS interop script printed."""
    checks: dict[str, dict[str, Any]] = {}
    summary = None
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "check" in record:
            checks[record["check"]] = record
        elif "summary" in record:
            summary = record
    return checks, summary
