"""Waiting by polling: a condition checked often, with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEADLINE_SECONDS = 10.0


def wait_until(condition: Callable[[], object], timeout: float = DEADLINE_SECONDS) -> None:
    """Return once `condition()` is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        time.sleep(0.005)


def stays_blocked(thread: threading.Thread, window: float = 0.1) -> bool:
    """Whether `thread` is still running after `window` seconds (proving a wait, not a race)."""
    thread.join(window)
    return thread.is_alive()
