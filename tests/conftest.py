from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .support import ServerProcess

# The servers, kernels and Jupyter servers the tests start import this checkout, not whichever
# one a shared environment has installed (an editable install of another clone, say).
ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [ROOT, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ROOT)]
)

try:  # browser assertions wait longer than Playwright's 5 s: CI runs them on two busy cores
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
except ImportError:
    pass


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `sqlrooms-server` (the real CLI) with extra arguments; stopped at teardown."""
    started: list[ServerProcess] = []

    def start(*args: str, extensions: str = "") -> ServerProcess:
        server = ServerProcess(*args, cwd=tmp_path, extensions=extensions)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()
