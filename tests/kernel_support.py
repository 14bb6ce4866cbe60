"""A real IPython kernel (jupyter_client) to run notebook code in, for the kernel-side tests."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager

# The kernel's token: `%sqlrooms start` does not print it (cell output is saved).
SHOW_TOKEN = "import sqlrooms_jupyter\nprint(sqlrooms_jupyter.current().config.auth_token or '')"


@dataclass
class CellOutput:
    stdout: str = ""
    stderr: str = ""
    error: dict[str, Any] | None = None
    displays: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    @property
    def usage_error(self) -> str | None:
        """IPython shows a UsageError as one line on stderr: no traceback, no error reply."""
        if self.error is None and self.stderr.startswith("UsageError: "):
            return self.stderr.removeprefix("UsageError: ")
        return None

    def check(self) -> CellOutput:
        assert self.error is None, f"{self.error['ename']}: {self.error['evalue']}"
        return self

    def collect(self, message: dict[str, Any]) -> None:
        """An `output_hook` for jupyter_client's `execute_interactive`."""
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            if content["name"] == "stdout":
                self.stdout += content["text"]
            else:
                self.stderr += content["text"]
        elif kind == "error":
            self.error = content
        elif kind in ("display_data", "execute_result"):
            self.displays.append(content["data"])


@dataclass
class StartedServer:
    url: str
    token: str | None
    port: int

    @property
    def client_url(self) -> str:
        return f"{self.url}?token={self.token}" if self.token else self.url


class RunningKernel:
    """One kernel process, with its connection file in `runtime_dir`."""

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        runtime_dir.mkdir(parents=True, exist_ok=True)
        self.manager = KernelManager(
            kernel_name="python3",
            connection_file=str(runtime_dir / f"kernel-{os.urandom(8).hex()}.json"),
        )
        self.manager.start_kernel(env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime_dir)})
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @property
    def kernel_id(self) -> str:
        return Path(self.manager.connection_file).stem.removeprefix("kernel-")

    @property
    def pid(self) -> int:
        return self.manager.provisioner.pid  # type: ignore[union-attr]

    @property
    def discovery_file(self) -> Path:
        return self.runtime_dir / "sqlrooms" / f"{self.kernel_id}.json"

    def run(self, code: str, timeout: float = 60) -> CellOutput:
        """Execute a cell and collect what it printed, displayed or raised."""
        output = CellOutput()
        self.client.execute_interactive(code, timeout=timeout, output_hook=output.collect)
        return output

    def start_server(self, options: str = "--port 0") -> StartedServer:
        output = self.run(f"%load_ext sqlrooms_jupyter\n%sqlrooms start {options}").check()
        url = re.search(r"running at (ws://\S+)", output.stdout)
        assert url, output.text
        token = self.run(SHOW_TOKEN).check().stdout.strip() or None
        port = int(url.group(1).rsplit(":", 1)[1].strip("/"))
        return StartedServer(url.group(1), token, port)

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)
        deadline = time.monotonic() + 30
        while self.manager.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
