"""End to end, in headless Chromium: what the analyst reads off a big result: the row numbers
of a page always match its rows, and the grid says when a page is loading."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from tests.app_browser import APP_BROWSER_MARKS
from tests.lab_support import CHROMIUM, CHROMIUM_ARGS
from tests.support import ServerProcess

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
        # alpha is the commonest product, yet rare among small amounts.
        con.sql(
            "create table shop as select range as id, range % 100 as amount,"
            " case when range % 100 >= 50 or range % 50 = 0 then 'alpha'"
            " else ['beta', 'gamma', 'delta', 'epsilon'][range % 4 + 1] end as product"
            " from range(10000)"
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

    run_sql(page, "select id, md5(id::VARCHAR) as h from sales")
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


def test_a_picked_top_value_stays_highlighted_in_its_own_profile(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "select product, amount from shop")
    products = page.get_by_role("group", name="product top values")
    alpha = products.locator('button[title^="alpha:"]')
    expect(alpha).to_be_visible(timeout=UI_MS)
    expect(page.get_by_test_id("column-profile").first).to_contain_text("+2 more")
    alpha.click()
    expect(page.get_by_test_id("filter-chip")).to_contain_text("product = alpha")
    expect(alpha).to_have_attribute("aria-pressed", "true", timeout=UI_MS)
    # Small amounts, where alpha is rare: it leaves the top three, yet stays in its profile.
    small = page.get_by_role("group", name="amount histogram").get_by_role("button").first
    expect(small).to_have_attribute("title", "0 \u2013 6: 100", timeout=UI_MS)  # alpha's only
    small.click()
    expect(page.get_by_test_id("filter-chip")).to_have_count(2)
    expect(products.locator('button[title^="alpha: 1"]')).to_be_visible(timeout=UI_MS)
    expect(alpha).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("profile-headline").first).to_contain_text("= alpha")


def test_integer_histogram_labels_end_at_the_largest_value(page: Page) -> None:
    from playwright.sync_api import expect

    run_sql(page, "select id - 1 as n from sales")
    bars = page.get_by_role("group", name="n histogram").get_by_role("button")
    expect(bars.first).to_have_attribute("title", "0 \u2013 187499: 187,500", timeout=UI_MS)
    expect(bars.last).to_have_attribute("title", re.compile("^2812500 \u2013 2999999: "))
    expect(page.get_by_test_id("column-profile")).to_contain_text("0 \u2013 2999999")


def test_run_all_shows_the_whole_scripts_time_and_statement_count(page: Page) -> None:
    from playwright.sync_api import expect

    editor = page.locator(".cm-content")
    editor.click()
    # The first statement takes a while; the last one is instant.
    editor.fill(
        "create temp table slow as select count(*) as n from range(3000) a, range(3000) b"
        " where (a.range * b.range) % 7 = 3;\nselect 1 as one;\nselect 2 as two"
    )
    page.get_by_role("button", name="Run all").click()
    script = page.get_by_test_id("script-time")
    expect(script).to_contain_text("all 3 statements", timeout=UI_MS)
    last_ms = int(page.get_by_test_id("query-time").inner_text().split()[0])
    total = script.inner_text()
    match = re.search(r"· ([\d.]+) (ms|s)", total)
    assert match, total
    total_ms = float(match[1]) * (1000 if match[2] == "s" else 1)
    assert total_ms > last_ms, (total, last_ms)


def test_the_schema_tree_is_readable_in_a_600px_window(page: Page) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 600, "height": 700})
    sales = page.locator('[data-testid="schema-table"][data-table="sales"]')
    expect(sales).to_be_visible(timeout=UI_MS)
    count = sales.get_by_test_id("schema-row-count")
    expect(count).to_have_text("3M")
    expect(count).to_have_attribute("title", "3,000,000 rows")
    sales.click()  # previews the table and lists its columns
    types = page.get_by_test_id("schema-column-type")
    expect(types.first).to_be_visible(timeout=UI_MS)
    labels = types.all_inner_texts()
    assert "timestamp" in labels and "decimal(12,2)" in labels, labels
    cut = types.evaluate_all("els => els.filter(e => e.scrollWidth > e.clientWidth).length")
    assert cut == 0, labels
    column = page.get_by_test_id("schema-column").filter(has_text="amount").first
    expect(column).to_have_attribute("title", "amount: decimal(12,2)")
