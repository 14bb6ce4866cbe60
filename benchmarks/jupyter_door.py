"""A real `jupyter server` with this project's extension, one notebook kernel running
`%sqlrooms start`, and the two ways in: the kernel server's own port ("direct") and
the Jupyter relay `{base_url}sqlrooms/kernels/<id>/ws` ("relay").

Used by run.py for the through-Jupyter and busy-kernel workloads. Everything runs
on loopback; the Jupyter server's runtime and root directories live under
benchmarks/.work/jupyter-*.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from jupyter_client import BlockingKernelClient

# A notebook cell that keeps the kernel's main thread busy with pure-Python work.
BUSY_CELL = """
import time as _t
_end = _t.perf_counter() + {seconds}
_n = 0
while _t.perf_counter() < _end:
    _n += sum(i * i for i in range(2000))
"""


class JupyterDoor:
    def __init__(self, python: str, work: Path, db: Path, log: Path, port: int) -> None:
        self.python = python
        self.work = work
        self.db = db
        self.log = log
        self.port = port
        self.token = secrets.token_hex(16)
        self.runtime = work / "jupyter-runtime"
        self.root = work / "jupyter-root"
        self.proc: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self.kernel_id = ""
        self.direct_port = 0

    @property
    def relay_path(self) -> str:
        return f"/sqlrooms/kernels/{self.kernel_id}/ws?token={self.token}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def start(self) -> None:
        for d in (self.runtime, self.root):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(self.runtime)}
        argv = [
            self.python,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),
        ]
        with open(self.log, "ab") as log:
            log.write(f"\n==== {time.ctime()} {argv}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited at start; see {self.log}")
            try:
                self._api("GET", "/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter server not up in 60 s; see {self.log}") from None
                time.sleep(0.2)
        session = self._api(
            "POST",
            "/api/sessions",
            {"path": "bench.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
        )
        self.kernel_id = session["kernel"]["id"]
        self.client = BlockingKernelClient()
        self.client.load_connection_file(str(self.runtime / f"kernel-{self.kernel_id}.json"))
        self.client.start_channels()
        for attempt in range(3):
            try:
                self.client.wait_for_ready(timeout=60)
                break
            except RuntimeError:  # "Kernel died": on a busy machine, a late heartbeat
                if attempt == 2 or self.proc.poll() is not None:
                    raise
        out = self.run_cell(
            f"%load_ext sqlrooms_jupyter\n%sqlrooms start --port 0 --no-token --db-path {self.db}"
        )
        match = re.search(r"running at ws://127\.0\.0\.1:(\d+)/", out)
        if not match:
            raise RuntimeError(f"%sqlrooms start said: {out}")
        self.direct_port = int(match.group(1))

    def run_cell(self, code: str, timeout: float = 120) -> str:
        """Execute a cell and wait for it; returns its stdout (raises on an error)."""
        assert self.client is not None
        chunks: list[str] = []

        def collect(msg: dict[str, Any]) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                chunks.append(content["text"])
            elif msg["msg_type"] == "error":
                chunks.append("\n".join(content["traceback"]))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=collect)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"cell failed: {''.join(chunks)[-2000:]}")
        return "".join(chunks)

    def start_cell(self, code: str) -> str:
        """Send a cell without waiting; returns its msg_id."""
        assert self.client is not None
        return self.client.execute(code)

    def wait_cell(self, msg_id: str, timeout: float = 120) -> None:
        assert self.client is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return
        raise RuntimeError("cell did not finish in time")

    def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.run_cell("%sqlrooms stop", timeout=30)
            self.client.stop_channels()
            self.client = None
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # shuts its kernels down too
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
