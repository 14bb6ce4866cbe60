"""End to end, in headless Chromium: how the standalone app runs what the analyst typed.

DDL without a white page, scripts, the statement under the cursor, errors in the user's own
lines, previews in a tab of their own, download names, and the page's own safety: no `ws=`
switch in the production build, a CSP that allows only its own origin, the token out of the
address bar (yet a reload reconnects).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.app_browser import APP_BROWSER_MARKS
from tests.lab_support import CHROMIUM, CHROMIUM_ARGS
from tests.support import ServerProcess, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = APP_BROWSER_MARKS

TOKEN = "app-flow-token"
UI_MS = 60_000


@pytest.fixture
def server(start_server: Callable[..., ServerProcess], tmp_path: Path) -> ServerProcess:
    db = tmp_path / "flow.db"
    with duckdb.connect(str(db)) as con:
        con.sql(
            "create table trips as select range::BIGINT as id, range % 97 as fare from range(1000)"
        )
    return start_server("--db-path", str(db), "--auth-token", TOKEN)


class Browser:
    def __init__(self, page: Page, errors: list[str], sockets: list[str]) -> None:
        self.page, self.errors, self.sockets = page, errors, sockets


@pytest.fixture
def browser(server: ServerProcess) -> Iterator[Browser]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = chromium.new_context(
            viewport={"width": 1300, "height": 760}, accept_downloads=True
        )
        page = context.new_page()
        errors: list[str] = []
        sockets: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(f"{server.http}/app/#token={TOKEN}")
        expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
        yield Browser(page, errors, sockets)
        chromium.close()


def type_sql(page: Page, sql: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    editor.fill(sql)


def run_sql(page: Page, sql: str) -> None:
    type_sql(page, sql)
    page.keyboard.press("Control+Enter")


def cell(page: Page, text: str) -> object:
    return page.locator("table tbody td").filter(has_text=re.compile(rf"^{re.escape(text)}$"))


def test_ddl_shows_done_and_the_tree_follows(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page
    run_sql(page, "create table t2 as select 1 as x")
    expect(page.get_by_test_id("command-done")).to_contain_text(
        re.compile(r"Done · \d+ ms"), timeout=UI_MS
    )
    expect(page.locator('[data-testid="schema-table"][data-table="t2"]')).to_be_visible(
        timeout=UI_MS
    )
    run_sql(page, "insert into t2 select range from range(3)")
    expect(page.get_by_test_id("command-done")).to_contain_text("Done · 3 rows", timeout=UI_MS)
    run_sql(page, "create view v2 as select * from t2")
    expect(page.locator('[data-testid="schema-table"][data-table="v2"]')).to_be_visible(
        timeout=UI_MS
    )
    run_sql(page, "drop view v2")
    expect(page.locator('[data-testid="schema-table"][data-table="v2"]')).to_have_count(
        0, timeout=UI_MS
    )
    expect(page.get_by_test_id("command-done")).to_be_visible()
    # The app is still there and still answers.
    run_sql(page, "select 41 + 1 as answer")
    expect(cell(page, "42")).to_be_visible(timeout=UI_MS)
    assert browser.errors == []


def test_run_all_runs_a_script_and_stops_at_the_first_error(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page
    type_sql(page, "select 1 as a;\nselect 2 as b;")
    page.get_by_role("button", name="Run all").click()
    expect(cell(page, "2")).to_be_visible(timeout=UI_MS)
    expect(page.locator("table thead")).to_contain_text("b")
    type_sql(
        page,
        "create table made as select 1 as x;\nselect * from nowhere;\n"
        "create table never as select 1",
    )
    page.get_by_role("button", name="Run all").click()
    alert = page.get_by_test_id("run-error")
    expect(alert).to_contain_text("Statement 2 of 3 (line 2)", timeout=UI_MS)
    expect(alert).to_contain_text("nowhere")
    expect(page.locator('[data-testid="schema-table"][data-table="made"]')).to_be_visible(
        timeout=UI_MS
    )
    expect(page.locator('[data-testid="schema-table"][data-table="never"]')).to_have_count(0)
    assert browser.errors == []


def test_ctrl_enter_just_after_a_semicolon_runs_that_statement(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page
    type_sql(page, "select 'first' as w;\nselect 'second' as w;")
    page.keyboard.press("Control+Home")
    page.keyboard.press("End")  # just after the first `;`
    page.keyboard.press("Control+Enter")
    expect(cell(page, "first")).to_be_visible(timeout=UI_MS)
    expect(cell(page, "second")).to_have_count(0)


def test_errors_point_into_what_the_user_wrote(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page
    run_sql(page, "select * from trps")
    alert = page.get_by_test_id("run-error")
    expect(alert).to_contain_text("LINE 1: select * from trps", timeout=UI_MS)
    expect(alert).not_to_contain_text("LINE 2")
    expect(page.get_by_test_id("sql-error-mark")).to_have_text("trps")
    run_sql(page, "select 1 as one,\n  fare from trips where")
    expect(alert).to_contain_text("LINE 2:", timeout=UI_MS)
    expect(alert).to_contain_text("where")
    expect(alert).not_to_contain_text('")"')
    expect(alert).not_to_contain_text("LIMIT")
    expect(page.get_by_test_id("sql-error-mark")).to_have_text("where")
    # The next edit clears the mark.
    page.keyboard.type(" ")
    expect(page.get_by_test_id("sql-error-mark")).to_have_count(0)


def test_a_table_preview_opens_in_a_tab_of_its_own(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page
    type_sql(page, "select 'mine' as keep")
    page.locator('[data-testid="schema-table"][data-table="trips"]').click()
    expect(page.get_by_role("tab", name="trips")).to_have_attribute(
        "aria-selected", "true", timeout=UI_MS
    )
    expect(page.get_by_text("of 10")).to_be_visible(timeout=UI_MS)  # 1,000 rows, 100 a page
    page.get_by_role("tab", name="Query 1").click()
    expect(page.locator(".cm-content")).to_have_text("select 'mine' as keep")


def test_a_download_is_named_after_its_table(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page
    run_sql(page, "from trips where fare < 5")
    expect(page.get_by_role("button", name="CSV")).to_be_visible(timeout=UI_MS)
    with page.expect_download(timeout=UI_MS) as download:
        page.get_by_role("button", name="CSV").click()
    assert re.fullmatch(r"trips-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)


def test_the_token_leaves_the_address_bar_and_a_reload_reconnects(browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page
    page.wait_for_function("() => !location.href.includes('token=')", timeout=UI_MS)
    page.reload()
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
    run_sql(page, "select 'still signed in' as s")
    expect(cell(page, "still signed in")).to_be_visible(timeout=UI_MS)
    assert "token=" not in page.url


def test_the_ws_parameter_is_ignored_and_the_csp_allows_only_this_origin(
    browser: Browser, server: ServerProcess
) -> None:
    from playwright.sync_api import expect

    page = browser.page
    elsewhere = f"ws://127.0.0.1:{free_port()}/"
    answer = page.goto(f"{server.http}/app/?ws={elsewhere}#token={TOKEN}")
    assert answer is not None
    policy = answer.headers["content-security-policy"]
    assert "connect-src 'self'" in policy
    assert " ws:" not in policy and " wss:" not in policy
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_MS)
    run_sql(page, "select 7 as seven")
    expect(cell(page, "7")).to_be_visible(timeout=UI_MS)
    assert browser.sockets, "the app opened no socket"
    assert not [url for url in browser.sockets if not url.startswith(server.url.rstrip("/"))]
    # Even a page script cannot reach another server: the browser refuses it.
    refused = page.evaluate(
        """(url) => new Promise((resolve) => {
            document.addEventListener('securitypolicyviolation', () => resolve(true), {once: true});
            try { new WebSocket(url); } catch (e) { resolve(true); }
            setTimeout(() => resolve(false), 3000);
        })""",
        elsewhere,
    )
    assert refused is True
