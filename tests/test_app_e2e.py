"""End to end: the SQLRooms app against `sqlrooms-server`, in headless Chromium.

Until the standalone server mounts `webapp.app_routes` itself, a small Tornado server on another
loopback port serves the app, pointed at the real server with `?ws=`; the token travels in
the URL fragment as it will from the printed URL.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
import tornado.web

from sqlrooms_jupyter import webapp

from .lab.lab_support import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason
from .support import ServerProcess, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

_missing = chromium_missing_reason() or (
    None if webapp.is_built() else "the app is not built (pip install -e .)"
)
pytestmark = [
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.timeout(180),
]

TOKEN = "app-e2e-token"
UI_TIMEOUT_MS = 60_000


@pytest.fixture
def app_port() -> Iterator[int]:
    """`app_routes('/app/')` on a free port, served by a loop on its own thread."""
    port = free_port()
    ready = threading.Event()
    state: dict[str, asyncio.AbstractEventLoop] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        tornado.web.Application(webapp.app_routes("/app/")).listen(port, "127.0.0.1")
        state["loop"] = loop
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield port
    state["loop"].call_soon_threadsafe(state["loop"].stop)
    thread.join(10)


@pytest.fixture
def page(
    start_server: Callable[..., ServerProcess], app_port: int, tmp_path: Path
) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    db = tmp_path / "app.db"
    with duckdb.connect(str(db)) as con:
        con.sql(
            "create table trips as select range::BIGINT as id, range % 97 as fare,"
            " ['Oslo', 'Lima', 'Pune'][range % 3 + 1] as city from range(100000)"
        )
    server = start_server("--db-path", str(db), "--auth-token", TOKEN)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = browser.new_page(viewport={"width": 1300, "height": 760})
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.goto(f"http://127.0.0.1:{app_port}/app/?ws={server.url}#token={TOKEN}")
        yield opened
        browser.close()
        assert errors == []


def test_standalone_app_connects_queries_and_switches_theme(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    expect(page.get_by_test_id("schema-table")).to_have_attribute("data-table", "trips")
    page.get_by_test_id("schema-table").click()  # previews the table
    expect(page.get_by_text("of 1,000")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("table tbody tr")).to_have_count(100)
    screenshots = os.environ.get("SQLROOMS_SCREENSHOT_DIR")
    if screenshots:
        page.wait_for_timeout(1000)  # colour transitions
        page.screenshot(path=str(Path(screenshots) / "app-standalone-light.png"))
    page.get_by_role("button", name="Toggle dark theme").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    if screenshots:
        page.wait_for_timeout(1000)
        page.screenshot(path=str(Path(screenshots) / "app-standalone-dark.png"))


def test_a_wrong_token_does_not_connect(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    bad = page.url.replace(f"#token={TOKEN}", "#token=wrong")
    page.goto("about:blank")
    page.goto(bad)
    page.locator(".cm-content").click()
    page.keyboard.type("select 1 as one")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("alert")).to_be_visible(timeout=UI_TIMEOUT_MS)
