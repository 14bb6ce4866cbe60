"""End to end, in headless Chromium: what a hostile or merely odd database cannot make the
standalone app do (findings/ has the attack scripts these tests pin down)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.app_browser import APP_BROWSER_MARKS
from tests.lab_support import CHROMIUM, CHROMIUM_ARGS
from tests.support import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = APP_BROWSER_MARKS

TOKEN = "app-hostile-token"
UI_MS = 60_000
WIDE_COLUMNS = 300
BLOB_CHARS = 300_000


@pytest.fixture
def server(start_server: Callable[..., ServerProcess], tmp_path: Path) -> ServerProcess:
    db = tmp_path / "hostile.db"
    with duckdb.connect(str(db)) as con:
        columns = ", ".join(f"range + {i} AS c{i}" for i in range(WIDE_COLUMNS))
        con.sql(f"create table wide as select {columns} from range(1000)")
        con.sql(
            "create table blobs as select range as id,"
            f" repeat('x', {BLOB_CHARS}) as doc from range(100)"
        )
    return start_server("--db-path", str(db), "--auth-token", TOKEN)


@pytest.fixture
def page(server: ServerProcess) -> Iterator[Page]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = chromium.new_page(viewport={"width": 1300, "height": 760})
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.goto(f"{server.http}/app/#token={TOKEN}")
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


def test_a_wide_result_profiles_a_few_columns_and_the_rest_on_demand(page: Page) -> None:
    """Each profile scans the whole result in DuckDB: one per column of a 1,000-column table
    kept a shared server busy for minutes (findings/01)."""
    from playwright.sync_api import expect

    run_sql(page, "select * from wide")
    expect(page.locator("table tbody tr")).to_have_count(100, timeout=UI_MS)
    profiles = page.locator("thead [data-testid=column-profile], thead .animate-pulse")
    expect(page.locator("thead [data-testid=column-profile]").first).to_be_visible(timeout=UI_MS)
    assert profiles.count() <= 40
    on_demand = page.get_by_role("button", name="Profile c200")
    on_demand.scroll_into_view_if_needed()
    on_demand.click()
    expect(page.get_by_role("group", name="c200 histogram")).to_be_visible(timeout=UI_MS)


def test_a_page_of_huge_texts_shows_them_cut(page: Page) -> None:
    """100 rows of a 2 MB text each froze the tab for minutes: the page query brought every
    byte into the browser (findings/02). The page cuts each text in DuckDB and marks the cut."""
    from playwright.sync_api import expect

    run_sql(page, "select * from blobs")
    expect(page.locator("table tbody tr")).to_have_count(100, timeout=UI_MS)
    doc = page.locator("table tbody tr").first.locator("td").nth(2)
    text = doc.inner_text()
    assert text.startswith("xxx")
    assert text.endswith("…")
    assert len(text) < 10_000
