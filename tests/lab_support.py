"""Helpers for the JupyterLab tests: a real `jupyter lab` subprocess, a kernel
client for its kernels, and headless Chromium through Playwright."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .polling import wait_until
from .support import free_port

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, which a
# closed network refuses, and misbehaves.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LABEXTENSION_NAME = "sqlrooms-jupyter"

# No news or update checks: they pop up notifications and call out to the network.
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def installed_labextension() -> Path | None:
    """Where the prebuilt extension is installed for this Python, if it is."""
    for base in (Path(sys.prefix), Path(sysconfig.get_paths()["data"])):
        candidate = base / "share" / "jupyter" / "labextensions" / LABEXTENSION_NAME
        if (candidate / "package.json").is_file():
            return candidate
    return None


def labextension_list() -> str:
    """What `jupyter labextension list` prints (it prints to stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "jupyterlab.labextensions", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout + result.stderr


class JupyterLab:
    """`jupyter lab` on a free loopback port, with its own root, runtime, config and
    settings directories, so nothing of the user's (or another test's) leaks in."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.root = workdir / "root"
        self.runtime_dir = workdir / "runtime"
        settings_dir = workdir / "settings"
        for directory in (self.root, self.runtime_dir, workdir / "config", settings_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for relative, values in _LAB_SETTINGS.items():
            path = settings_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.base_url = f"http://127.0.0.1:{self.port}/"
        env = os.environ.copy()
        env.update(
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            JUPYTER_CONFIG_DIR=str(workdir / "config"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        self.log_path = workdir / "jupyter-lab.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--port={self.port}",
                "--port-retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                f"--LabApp.user_settings_dir={settings_dir}",
                f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90) -> None:
        def answers() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log()}")
            try:
                self.get_json("api/status")
            except (urllib.error.URLError, ConnectionError):
                return False
            return True

        wait_until(
            answers, "jupyter lab to answer", timeout=timeout, interval=0.25, detail=self.log
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:]

    def url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{separator}token={self.token}"

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url(path),
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def get_json(self, path: str) -> Any:
        status, body = self.request("GET", path)
        if status != 200:
            raise ConnectionError(f"GET {path}: {status} {body}")
        return body

    def put_notebook(self, name: str, cells: list[str]) -> None:
        notebook = {
            "cells": [
                {
                    "cell_type": "code",
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                    "source": source,
                }
                for source in cells
            ],
            "metadata": {
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        model = {"type": "notebook", "format": "json", "content": notebook}
        status, body = self.request("PUT", f"api/contents/{name}", model)
        assert status in (200, 201), body

    def kernel_of(self, notebook: str) -> str:
        for session in self.get_json("api/sessions"):
            if session["path"] == notebook:
                return session["kernel"]["id"]
        raise LookupError(f"no session for {notebook}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            # SIGTERM: Jupyter shuts its kernels down, then exits.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


class KernelRunner:
    """Runs code in one of the lab's kernels, beside the browser, and returns what it printed."""

    def __init__(self, lab: JupyterLab, kernel_id: str) -> None:
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient(
            connection_file=str(lab.runtime_dir / f"kernel-{kernel_id}.json")
        )
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 60) -> str:
        printed: list[str] = []

        def keep(message: dict[str, Any]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                printed.append(content["text"])
            elif message["msg_type"] in ("execute_result", "display_data"):
                printed.append(content["data"].get("text/plain", ""))
            elif message["msg_type"] == "error":
                printed.append(f"{content['ename']}: {content['evalue']}")

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=keep)
        output = "".join(printed)
        if reply["content"]["status"] != "ok":
            raise AssertionError(f"kernel failed to run {code!r}:\n{output}")
        return output

    def close(self) -> None:
        self.client.stop_channels()


def chromium_missing_reason() -> str | None:
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        return f"{CHROMIUM} is missing: apt-get install -y chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed: pip install playwright"
    return None
