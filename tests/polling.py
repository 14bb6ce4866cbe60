"""Waiting by polling: a condition checked often, with a deadline (tests never sleep to wait)."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable

DEADLINE_SECONDS = 10.0


def wait_until(
    condition: Callable[[], object],
    what: str = "",
    *,
    timeout: float = DEADLINE_SECONDS,
    interval: float = 0.005,
    detail: Callable[[], object] = lambda: "",
    action: Callable[[], object] = lambda: None,
) -> None:
    """Return once `condition()` is true, doing `action()` before each look; fail the test
    after `timeout` seconds, naming `what` was awaited and `detail()` (the state seen last).

    `interval` is for conditions that cost something (an HTTP request, a key press)."""
    deadline = time.monotonic() + timeout
    while True:
        action()
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or condition} {detail()}".rstrip()
            )
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], object | Awaitable[object]],
    what: str = "",
    *,
    timeout: float = DEADLINE_SECONDS,
    interval: float = 0.01,
    detail: Callable[[], object] = lambda: "",
) -> None:
    """`wait_until` inside an event loop: the loop keeps running between looks, and
    `condition` may be a coroutine function (a request to the server under test)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or condition} {detail()}".rstrip()
            )
        await asyncio.sleep(interval)


def stays_blocked(thread: threading.Thread, window: float = 0.1) -> bool:
    """Whether `thread` is still running after `window` seconds (proving a wait, not a race)."""
    thread.join(window)
    return thread.is_alive()
