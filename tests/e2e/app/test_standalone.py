"""End to end: the SQLRooms app served by `sqlrooms-server` itself at `/app/`, in headless
Chromium; the token travels in the URL fragment, as in the URL the server prints.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.app_browser import APP_BROWSER_MARKS
from tests.lab_support import CHROMIUM, CHROMIUM_ARGS
from tests.polling import wait_until
from tests.support import Client, ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = APP_BROWSER_MARKS

TOKEN = "app-e2e-token"
UI_TIMEOUT_MS = 60_000
# Runs for minutes on two cores (10^10 rows in a cross join), reporting progress as it goes.
LONG_SQL = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"


@pytest.fixture
def server(start_server: Callable[..., ServerProcess], tmp_path: Path) -> ServerProcess:
    db = tmp_path / "app.db"
    with duckdb.connect(str(db)) as con:
        con.sql(
            "create table trips as select range::BIGINT as id, range % 97 as fare,"
            " ['Oslo', 'Lima', 'Pune'][range % 3 + 1] as city from range(100000)"
        )
    return start_server("--db-path", str(db), "--auth-token", TOKEN)


@pytest.fixture
def page(server: ServerProcess) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = browser.new_page(viewport={"width": 1300, "height": 760})
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.goto(f"{server.http}/app/#token={TOKEN}")
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


def test_a_wrong_token_does_not_connect(page: Page, server: ServerProcess) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    # The address bar no longer has the token; a new one in the fragment wins over the saved one.
    bad = f"{server.http}/app/#token=wrong"
    page.goto("about:blank")
    page.goto(bad)
    page.locator(".cm-content").click()
    page.keyboard.type("select 1 as one")
    page.keyboard.press("Control+Enter")
    # The prompt comes back (and the query, if it ran first, says why it failed).
    expect(page.get_by_text("That token was refused")).to_be_visible(timeout=UI_TIMEOUT_MS)


def run_sql(page: Page, sql: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    editor.fill(sql)
    page.keyboard.press("Control+Enter")


def test_a_long_query_shows_progress_and_cancels(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    run_sql(page, LONG_SQL)
    bar = page.get_by_role("progressbar", name="Query progress")
    expect(bar).to_be_visible(timeout=UI_TIMEOUT_MS)
    # DuckDB's own estimate arrives as progress frames: the bar gets a value.
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^\d+$"), timeout=UI_TIMEOUT_MS)
    expect(page.get_by_test_id("progress-percent")).to_contain_text("%")
    screenshots = os.environ.get("SQLROOMS_SCREENSHOT_DIR")
    if screenshots:
        page.screenshot(path=str(Path(screenshots) / "app-standalone-progress.png"))
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alert")).to_contain_text("Cancelled", timeout=UI_TIMEOUT_MS)
    run_sql(page, "select 42 as answer")
    expect(page.locator("table tbody tr td:nth-child(2)").first).to_have_text(
        "42", timeout=UI_TIMEOUT_MS
    )


def saved_state(server: ServerProcess) -> str:
    with Client(f"{server.url}?token={TOKEN}") as client:
        rows = client.query(
            """select payload_json::VARCHAR as p from "__sqlrooms".ui_state""", kind="json"
        )
    return "".join(row["p"] for row in rows)


def test_tabs_are_restored_from_the_ui_state_table(page: Page, server: ServerProcess) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    page.get_by_role("button", name="New query tab").click()
    run_sql(page, "select 'kept in ui_state' as word")
    expect(page.get_by_role("tab", name="Query 2")).to_be_visible()
    wait_until(
        lambda: "kept in ui_state" in saved_state(server),
        "the workspace to reach ui_state",
        timeout=30,
        interval=0.3,
    )
    # Not from the browser's storage: only the server has it now.
    page.evaluate("localStorage.clear()")
    page.reload()
    expect(page.get_by_role("tab", name="Query 2")).to_have_attribute(
        "aria-selected", "true", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator(".cm-content")).to_contain_text("select 'kept in ui_state' as word")


def test_a_read_only_server_falls_back_to_browser_storage(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    db = tmp_path / "ro.db"
    with duckdb.connect(str(db)) as con:
        con.sql("create table t as select 1 as x")
    server = start_server("--db-path", str(db), "--read-only")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 760})
            page.goto(f"{server.http}/app/")
            status = page.get_by_test_id("status")
            expect(status).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
            page.get_by_role("button", name="New query tab").click()
            run_sql(page, "select 'kept in the browser' as word")
            expect(page.get_by_role("tab", name="Query 2")).to_be_visible()
            page.wait_for_function(
                "() => Object.values(localStorage).some(v => v.includes('kept in the browser'))",
                timeout=UI_TIMEOUT_MS,
            )
            page.reload()
            expect(page.get_by_role("tab", name="Query 2")).to_have_attribute(
                "aria-selected", "true", timeout=UI_TIMEOUT_MS
            )
            expect(page.locator(".cm-content")).to_contain_text("kept in the browser")
        finally:
            browser.close()
