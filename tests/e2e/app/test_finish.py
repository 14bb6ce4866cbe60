"""The standalone app's last rough edges (issue 23's review): a line over a million timestamps,
failed queries in the history, and no button without a name; headless Chromium against
`sqlrooms-server`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.app_browser import APP_BROWSER_MARKS
from tests.support import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = APP_BROWSER_MARKS

UI_TIMEOUT_MS = 60_000


@pytest.fixture
def server(start_server: Callable[..., ServerProcess], tmp_path: Path) -> ServerProcess:
    db = tmp_path / "finish.db"
    with duckdb.connect(str(db)) as con:
        con.sql(
            "create table rides as select range::BIGINT as id, (range % 97)::DOUBLE as fare,"
            " TIMESTAMP '2024-01-01 00:00:00' + to_seconds(range * 7) as pickup"
            " from range(1000000)"
        )
    return start_server("--db-path", str(db))


@pytest.fixture
def page(browser: Browser, server: ServerProcess) -> Page:
    from playwright.sync_api import expect

    opened = browser.new_page(viewport={"width": 1300, "height": 760})
    opened.goto(f"{server.http}/app/")
    expect(opened.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    return opened


def run_sql(page: Page, sql: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    editor.fill(sql)
    page.keyboard.press("Escape")  # a completion popup would take the Enter
    page.keyboard.press("Control+Enter")


def pick(page: Page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=f"chart {label}").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_line_over_a_million_timestamps_is_binned(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "from rides")
    expect(page.get_by_test_id("row-count")).to_have_text("1,000,000 rows", timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Charts").click()
    pick(page, "type", "line")
    pick(page, "x", "pickup")
    pick(page, "y", "fare")
    page.get_by_role("button", name="Add chart").click()
    line = page.locator("[data-testid=chart] svg g[aria-label=line] path").first
    expect(line).to_be_attached(timeout=UI_TIMEOUT_MS)
    vertices = (line.get_attribute("d") or "").count("L") + 1
    # A point per time bin (tens to a couple of hundred), not one per row.
    assert 10 <= vertices <= 300, vertices


# The text colour as sRGB bytes (Tailwind's colours are oklch()): painted on a canvas.
RGB_OF_TEXT = """node => {
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.fillStyle = getComputedStyle(node).color;
  ctx.fillRect(0, 0, 1, 1);
  return [...ctx.getImageData(0, 0, 1, 1).data.slice(0, 3)];
}"""


def test_failed_queries_are_marked_in_the_history(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "select count(*) as n from rides")
    expect(page.get_by_test_id("row-count")).to_have_text("1 row", timeout=UI_TIMEOUT_MS)
    run_sql(page, "select * from no_such_rides")
    expect(page.get_by_test_id("run-error")).to_contain_text("no_such_rides", timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="History").click()
    entries = page.get_by_test_id("history-entry")
    expect(entries).to_have_count(2)
    failed = entries.filter(has_text="no_such_rides")
    expect(failed).to_have_attribute("data-failed", "true")
    expect(failed).to_have_attribute("title", re.compile(r"^Failed: .*no_such_rides", re.S))
    expect(failed.get_by_role("img", name="failed")).to_be_visible()
    red, green, _ = failed.evaluate(RGB_OF_TEXT)
    assert red > 150 and green < 100, (red, green)
    ok = entries.filter(has_text="count(*)")
    expect(ok).not_to_have_attribute("data-failed", "true")
    expect(ok).to_have_attribute("title", "Open in the editor")


NAMELESS_OR_UNTITLED = """() => [...document.querySelectorAll('button, [role=button]')]
  .filter((b) => !/[\\p{L}\\p{N}]/u.test(b.textContent || ''))
  .filter((b) => !b.getAttribute('aria-label') || !b.getAttribute('title'))
  .map((b) => b.outerHTML.slice(0, 160))"""


def test_every_button_has_a_name_and_icon_buttons_a_title(page: Page) -> None:
    from playwright.sync_api import expect

    def check(where: str) -> None:
        # No button without an accessible name (Chromium's own computation)...
        snapshot = page.locator("body").aria_snapshot()
        nameless = [
            line for line in snapshot.splitlines() if re.match(r"\s*- button(\s*\[|:|\s*$)", line)
        ]
        assert nameless == [], f"{where}: {nameless}\n{snapshot}"
        # ...and an icon-only one says what it does on hover too.
        assert page.evaluate(NAMELESS_OR_UNTITLED) == [], where

    run_sql(page, "select * exclude (pickup) from rides")
    expect(page.get_by_test_id("row-count")).to_have_text("1,000,000 rows", timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Next page")).to_be_visible()
    expect(page.get_by_test_id("column-profile").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    check("results")
    page.get_by_role("tab", name="Charts").click()
    pick(page, "type", "bar")
    pick(page, "x", "fare")
    page.get_by_role("button", name="Add chart").click()
    expect(page.get_by_test_id("chart")).to_have_count(1)
    check("charts")
    page.get_by_role("tab", name="History").click()
    check("history")
