"""Charts always draw (the newcomer's caption-only cards): several charts added quickly over a
big result, the window resized, the views switched; headless Chromium against
`sqlrooms-server`."""

from __future__ import annotations

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
    db = tmp_path / "charts.db"
    with duckdb.connect(str(db)) as con:
        con.sql(
            "create table sales as select"
            " TIMESTAMP '2024-01-01' + to_seconds(range * 11) as ts,"
            " ['apples', 'pears', 'plums', 'figs'][range % 4 + 1] as product,"
            " ((range * 37) % 1000 / 10)::DECIMAL(10, 2) as amount,"
            " ((range * 13) % 100 / 100)::DOUBLE as discount"
            " from range(3000000)"
        )
    return start_server("--db-path", str(db))


@pytest.fixture
def page(browser: Browser, server: ServerProcess) -> Page:
    from playwright.sync_api import expect

    opened = browser.new_page(viewport={"width": 1300, "height": 900})
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


def add_chart(page: Page, kind: str, x: str, y: str = "", color: str = "") -> None:
    pick(page, "type", kind)
    pick(page, "x", x)
    if y:
        pick(page, "y", y)
    if color:
        pick(page, "color", color)
    page.get_by_role("button", name="Add chart").click()


# The least height each chart card had, sampled every frame while the page runs.
WATCH_CARD_HEIGHTS = """() => {
  window.__cardMin = [];
  const sample = () => {
    document.querySelectorAll('[data-testid=chart]').forEach((card, i) => {
      const h = card.getBoundingClientRect().height;
      window.__cardMin[i] = Math.min(window.__cardMin[i] ?? Infinity, h);
    });
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
}"""


def test_charts_keep_their_plots_through_resizes(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "SELECT * FROM sales")
    expect(page.get_by_test_id("row-count")).to_have_text("3,000,000 rows", timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Charts").click()
    add_chart(page, "bar", "product", "amount")
    add_chart(page, "line", "ts", "amount")
    add_chart(page, "point", "amount", "discount", "product")
    cards = page.get_by_test_id("chart")
    expect(cards).to_have_count(3)
    for i in range(3):
        expect(cards.nth(i).locator("svg").first).to_be_attached(timeout=UI_TIMEOUT_MS)
    page.evaluate(WATCH_CARD_HEIGHTS)
    for width in range(1300, 900, -40):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(50)
    page.wait_for_timeout(500)
    # Every card kept its plot (a card with a plot is > 250 px; a bare caption ~40 px).
    least = page.evaluate("window.__cardMin")
    assert len(least) == 3 and min(least) > 250, least
    # Each plot was redrawn at its card's new width.
    for i in range(3):
        body = cards.nth(i).get_by_test_id("chart-body")
        box = body.bounding_box()
        svg_width = float(body.locator("svg").first.get_attribute("width") or 0)
        assert box and abs(svg_width - box["width"]) <= 12, (svg_width, box)
    page.get_by_role("tab", name="Results").click()
    page.get_by_role("tab", name="Charts").click()
    for i in range(3):
        expect(cards.nth(i).locator("svg").first).to_be_attached(timeout=UI_TIMEOUT_MS)


def test_a_chart_whose_query_fails_says_why(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "SELECT * FROM sales LIMIT 1000")
    expect(page.get_by_test_id("row-count")).to_have_text("1,000 rows", timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Charts").click()
    add_chart(page, "bar", "ts", "product")  # sum(product): DuckDB has no sum of text
    error = page.get_by_test_id("chart-error")
    expect(error).to_contain_text("sum", timeout=UI_TIMEOUT_MS)


def test_a_chart_of_no_rows_says_so(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "SELECT * FROM sales WHERE amount < 0")
    expect(page.get_by_test_id("row-count")).to_have_text("0 rows", timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Charts").click()
    add_chart(page, "bar", "product", "amount")
    expect(page.get_by_test_id("chart-empty")).to_have_text(
        "No rows to chart.", timeout=UI_TIMEOUT_MS
    )


def test_picks_survive_a_view_switch_and_clear_brush_needs_a_brush(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "SELECT * FROM sales LIMIT 1000")
    expect(page.get_by_test_id("row-count")).to_have_text("1,000 rows", timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Charts").click()
    pick(page, "type", "line")
    pick(page, "x", "ts")
    page.get_by_role("tab", name="Results").click()
    page.get_by_role("tab", name="Charts").click()
    expect(page.get_by_role("combobox", name="chart type")).to_have_text("line")
    expect(page.get_by_role("combobox", name="chart x")).to_have_text("ts")
    page.get_by_role("button", name="Add chart").click()
    plot = page.locator("[data-testid=chart] svg").first
    expect(plot).to_be_attached(timeout=UI_TIMEOUT_MS)
    clear = page.get_by_role("button", name="Clear brush")
    expect(clear).to_have_count(0)
    box = plot.bounding_box()
    assert box
    page.mouse.move(box["x"] + 120, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 300, box["y"] + 100, steps=5)
    page.mouse.up()
    expect(clear).to_be_visible()
    clear.click()
    expect(clear).to_have_count(0)
