"""End to end, in headless Chromium: what the analyst reads off a big result: the row numbers
of a page always match its rows, and the grid says when a page is loading."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from .app_browser import APP_BROWSER_MARKS
from .lab.lab_support import CHROMIUM, CHROMIUM_ARGS
from .support import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = APP_BROWSER_MARKS

UI_MS = 60_000
ROWS = 3_000_000


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("results") / "sales.db"
    with duckdb.connect(str(db)) as con:
        con.sql(
            f"create table sales as select range + 1 as id,"
            " ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta',"
            "  'iota', 'kappa', 'lambda', 'mu'][range % 12 + 1] as product,"
            " (range % 100000)::DECIMAL(12, 2) as amount,"
            " TIMESTAMP '2024-01-01' + to_minutes(range % 500000) as ts"
            f" from range({ROWS})"
        )
    return db


@pytest.fixture
def page(start_server: Callable[..., ServerProcess], database: Path) -> Iterator[Page]:
    from playwright.sync_api import expect, sync_playwright

    server = start_server("--db-path", str(database))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = chromium.new_page(viewport={"width": 1300, "height": 760})
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.goto(f"{server.http}/app/")
        expect(opened.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
        yield opened
        chromium.close()
        assert errors == []


def run_sql(page: Page, sql: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    editor.fill(sql)
    page.keyboard.press("Control+Enter")


# Samples the first row (its number and its id) on every frame until `last` is shown.
# Presses Enter in the page box itself, so that the first frame after it is sampled too.
SAMPLE_FIRST_ROWS = """async (last) => {
  const samples = [];
  let busy = false;
  const box = document.querySelector('input[aria-label="Page"]');
  box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
  await Promise.resolve();
  const until = performance.now() + 60000;
  while (performance.now() < until) {
    const grid = document.querySelector('[data-testid="result-grid"]');
    busy = busy || grid?.getAttribute('aria-busy') === 'true';
    const cells = document.querySelectorAll('table tbody tr:first-child td');
    const row = [cells[0]?.textContent ?? '', cells[1]?.textContent ?? ''];
    samples.push(row);
    if (row[0] === last) break;
    await new Promise((r) => requestAnimationFrame(r));
  }
  return {samples, busy};
}"""


def test_a_far_page_of_a_sorted_result_never_shows_numbers_of_other_rows(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "select id, product from sales")
    expect(page.get_by_test_id("row-count")).to_contain_text("3,000,000", timeout=UI_MS)
    page.get_by_role("columnheader", name="id").click()  # numbers sort descending first
    first = page.locator("table tbody tr:first-child td")
    expect(first.nth(1)).to_have_text(str(ROWS), timeout=UI_MS)
    page.get_by_label("Page", exact=True).fill("30000")
    seen: dict[str, Any] = page.evaluate(SAMPLE_FIRST_ROWS, str(ROWS - 99))
    samples = [(int(n), int(i.replace(",", ""))) for n, i in seen["samples"]]
    assert samples[-1] == (ROWS - 99, 100), samples[-1]
    # Sorted by id descending: row n holds id ROWS + 1 - n, while loading too.
    assert all(n + i == ROWS + 1 for n, i in samples), samples[:3]
    assert seen["busy"], f"the grid did not say it was loading ({len(samples)} frames)"
    expect(page.get_by_test_id("grid-loading")).to_have_count(0)
