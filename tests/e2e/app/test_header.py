"""The app's header says what kind of server it talks to before anything is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from tests.app_browser import APP_BROWSER_MARKS
from tests.lab_support import CHROMIUM, CHROMIUM_ARGS
from tests.support import ServerProcess

pytestmark = APP_BROWSER_MARKS

UI_MS = 60_000


def header_of(server: ServerProcess) -> str:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1100, "height": 700})
        page.goto(f"{server.http}/app/")
        expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
        expect(page.get_by_test_id("schema-table").first).to_be_visible(timeout=UI_MS)
        text = page.locator("header").inner_text()
        chromium.close()
        return text


def test_a_read_only_server_is_marked_in_the_header(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    db = tmp_path / "ro.db"
    with duckdb.connect(str(db)) as con:
        con.sql("create table sales as select 1 as id")
    assert "read-only" in header_of(start_server("--db-path", str(db), "--read-only"))


def test_a_writable_server_has_no_read_only_mark(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    db = tmp_path / "rw.db"
    with duckdb.connect(str(db)) as con:
        con.sql("create table sales as select 1 as id")
    assert "read-only" not in header_of(start_server("--db-path", str(db)))
