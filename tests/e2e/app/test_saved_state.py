"""What a saved workspace may do when the app opens it, in headless Chromium against
`sqlrooms-server`: the state comes from a database's `ui_state` or a notebook someone sent, so
it never runs SQL by itself (a chart draws only from the tab's own visible query)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from tests.app_browser import APP_BROWSER_MARKS
from tests.support import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = APP_BROWSER_MARKS

TOKEN = "saved-state-token"
UI_MS = 60_000
WORKSPACE_KEY = "sqlrooms-app:workspace"


def save_workspace(db: Path, workspace: dict[str, object]) -> None:
    """Writes `workspace` where the standalone server's app restores it from."""
    with duckdb.connect(str(db)) as con:
        con.sql("create schema if not exists __sqlrooms")
        con.sql(
            "create table if not exists __sqlrooms.ui_state (key TEXT PRIMARY KEY,"
            " payload_json JSON, updated_at TIMESTAMPTZ DEFAULT now())"
        )
        con.execute(
            "insert or replace into __sqlrooms.ui_state values (?, ?, now())",
            [WORKSPACE_KEY, json.dumps(workspace)],
        )


def open_app(browser: Browser, server: ServerProcess) -> Page:
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1200, "height": 720}).new_page()
    page.goto(f"{server.http}/app/#token={TOKEN}")
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
    return page


def test_a_saved_chart_never_runs_sql_of_its_own(
    browser: Browser, start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    db = tmp_path / "hostile.db"
    target = tmp_path / "pwned.txt"
    hostile = (
        "SELECT 1 AS a); "
        f"COPY (SELECT 'written by a chart nobody ran' AS a) TO '{target}' (HEADER false); "
        "SELECT * FROM (SELECT 1 AS a"
    )
    with duckdb.connect(str(db)) as con:
        con.sql("create table trips as select range as a from range(10)")
    save_workspace(
        db,
        {
            "version": 1,
            "selectedTabId": "t1",
            "history": [],
            "tabs": [
                {
                    "id": "t1",
                    "title": "Query 1",
                    "sql": "SELECT a FROM trips",
                    "charts": [{"id": "c1", "kind": "histogram", "x": "a", "sql": hostile}],
                }
            ],
        },
    )
    server = start_server("--db-path", str(db), "--auth-token", TOKEN)
    page = open_app(browser, server)
    page.get_by_role("tab", name="Charts").click()
    page.wait_for_timeout(2000)  # what opening the tab would have run has had time to run
    assert not target.exists(), "opening Charts ran the saved chart's hidden SQL"
    button = page.get_by_role("button", name="Run this tab's query to draw 1 chart")
    expect(button).to_be_visible(timeout=UI_MS)

    # One click runs the tab's own visible SQL; the chart draws from it, the hidden text never.
    button.click()
    chart = page.get_by_test_id("chart").first
    expect(chart.locator("svg rect").first).to_be_attached(timeout=UI_MS)
    expect(page.get_by_role("tab", name="Results")).to_be_visible()
    assert not target.exists()


def test_a_reader_of_a_read_only_server_keeps_their_own_tabs(
    browser: Browser, start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    db = tmp_path / "shared.db"
    with duckdb.connect(str(db)) as con:
        con.sql("create table trips as select range as a from range(10)")
    owner = {"id": "t1", "title": "Owner's tab", "sql": "select 1", "charts": []}
    save_workspace(db, {"version": 1, "selectedTabId": "t1", "history": [], "tabs": [owner]})
    server = start_server("--db-path", str(db), "--auth-token", TOKEN, "--read-only")
    page = open_app(browser, server)
    # A browser with nothing saved starts from the database's saved state.
    expect(page.get_by_role("tab", name="Owner's tab")).to_be_visible(timeout=UI_MS)
    page.get_by_role("button", name="New query tab").click()
    expect(page.get_by_role("tab", name="Query 2")).to_be_visible()
    page.wait_for_function(
        "() => Object.values(localStorage).some(v => v.includes('Query 2'))", timeout=UI_MS
    )
    page.reload()
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
    # The reader's work survives the reload (the owner's saved state does not replace it).
    expect(page.get_by_role("tab", name="Query 2")).to_be_visible(timeout=UI_MS)
