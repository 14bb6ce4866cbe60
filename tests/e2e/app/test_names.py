"""Names with invisible or direction-changing characters (a hostile database's look-alike
`trips\u200b`, `\u202espirt`) are shown with those characters visible, as marked escapes: in
the schema tree, the tab a preview opens and the grid's header (finding 03)."""

from __future__ import annotations

import re
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

UI_MS = 60_000
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@pytest.fixture
def page(start_server: Callable[..., ServerProcess], tmp_path: Path) -> Iterator[Page]:
    from playwright.sync_api import expect, sync_playwright

    db = tmp_path / "names.db"
    with duckdb.connect(str(db)) as con:
        con.sql("create table trips as select 'the real trips' as note")
        con.sql('create table "trips\u200b" as select \'zero-width\' as "note\u200b"')
        con.sql("create table \"\u202espirt\" as select 'right-to-left' as note")
    server = start_server("--db-path", str(db))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_context(viewport={"width": 1100, "height": 700}).new_page()
        page.goto(f"{server.http}/app/")
        expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
        yield page
        chromium.close()


def test_invisible_characters_in_names_are_shown(page: Page) -> None:
    from playwright.sync_api import expect

    tables = page.get_by_test_id("schema-table")
    expect(tables).to_have_count(3, timeout=UI_MS)
    shown = tables.evaluate_all("els => els.map(e => e.innerText)")
    assert not [s for s in shown if INVISIBLE.search(s)], [ascii(s) for s in shown]
    assert any("trips\\u200b" in s for s in shown), shown
    assert any("\\u202espirt" in s for s in shown), shown

    page.get_by_test_id("schema-table").filter(has_text="trips\\u200b").click()
    tab = page.get_by_role("tab", name="trips\\u200b")
    expect(tab).to_be_visible(timeout=UI_MS)
    assert not INVISIBLE.search(tab.inner_text())
    expect(tab.locator("[data-escaped-char]")).to_have_count(1)
    header = page.locator("table thead").first
    expect(header).to_contain_text("note\\u200b", timeout=UI_MS)
    assert not INVISIBLE.search(header.inner_text())
    expect(header.locator("[data-escaped-char]")).to_have_count(1)
