"""End to end: the SQLRooms panel in JupyterLab, in headless Chromium, against a
real kernel, its SQLRooms server and the Jupyter server extension's relay. The
panel frames the SQLRooms app (`{base_url}sqlrooms/app/?kernel=<id>`).

One JupyterLab, one notebook and one panel serve the whole module; the tests
run in file order and build on each other's state (the server started from the
panel, the tables created in the kernel).

Screenshots go to the test's temporary directory, or to $SQLROOMS_SCREENSHOT_DIR
when set (the README's come from `SQLROOMS_SCREENSHOT_DIR=docs/img`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.lab_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JupyterLab,
    KernelRunner,
    chromium_missing_reason,
    installed_labextension,
)
from tests.polling import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FrameLocator, Locator, Page

_missing = chromium_missing_reason() or (
    None
    if installed_labextension()
    else "the JupyterLab extension is not installed: pip install -e . (needs node and npm)"
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.timeout(300),
]

NOTEBOOK = "e2e.ipynb"
SETUP_CELL = """\
import duckdb
import pandas as pd
trips = pd.DataFrame(
    {"id": [1, 2, 3], "fare": [9.5, 12.25, 30.0], "city": ["Oslo", "Lima", None]}
)
duckdb.sql("create or replace table events as select range::INTEGER as id from range(3)")
duckdb.sql(
    "create or replace table big as select range::BIGINT as id, range % 7 as bucket"
    " from range(1000000)"
)
print("E2E-SETUP-DONE")"""
# Runs for minutes on two cores: 10^10 rows in a cross join.
LONG_SQL = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"
UI_TIMEOUT_MS = 60_000
# Each look asks the Jupyter server (or presses Ctrl+S): twice a second, for up to 30 s.
SLOW_LOOK: dict[str, Any] = {"timeout": 30, "interval": 0.5}


@dataclass
class PanelSession:
    lab: JupyterLab
    page: Page
    kernel: KernelRunner
    kernel_id: str
    notice_before_start: str
    page_errors: list[str]

    @property
    def panel(self) -> Locator:
        return self.page.locator(".jp-SqlRooms")

    @property
    def app(self) -> FrameLocator:
        return self.page.frame_locator(".jp-SqlRooms-appFrame")

    def run_sql(self, sql: str) -> None:
        editor = self.app.locator(".cm-content")
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        editor.fill(sql)
        self.page.keyboard.press("Control+Enter")

    def results(self) -> Locator:
        return self.app.locator("table")

    def first_column(self) -> list[str]:
        """The first data column of the results table (after the row number)."""
        cells = self.app.locator("table tbody tr td:nth-child(2)")
        return [text.strip() for text in cells.all_inner_texts()]

    def server_status(self) -> dict[str, Any]:
        return self.lab.get_json(f"sqlrooms/api/kernels/{self.kernel_id}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    server = JupyterLab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def session(lab: JupyterLab, browser: Browser) -> Iterator[PanelSession]:
    """A notebook with data in its kernel, and a SQLRooms panel that started the
    kernel's server with its own Start button."""
    from playwright.sync_api import expect

    lab.put_notebook(NOTEBOOK, [SETUP_CELL])
    page = browser.new_page(viewport={"width": 1400, "height": 820})
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.goto(lab.url(f"lab/tree/{NOTEBOOK}"))

    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=UI_TIMEOUT_MS)
    page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    page.locator(".jp-OutputArea-output", has_text="E2E-SETUP-DONE").wait_for(timeout=UI_TIMEOUT_MS)
    kernel_id = lab.kernel_of(NOTEBOOK)

    page.locator(".jp-NotebookPanel .jp-SqlRooms-toolbarButton").click()
    start = page.locator(".jp-SqlRooms-startButton")
    start.wait_for(timeout=UI_TIMEOUT_MS)
    notice = page.locator(".jp-SqlRooms-notice").inner_text()
    kernel = KernelRunner(lab, kernel_id)
    start.click()
    expect(page.locator(".jp-SqlRooms-appFrame")).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert "Shared" in kernel.run("%sqlrooms share trips")
    yield PanelSession(lab, page, kernel, kernel_id, notice, page_errors)
    kernel.close()
    page.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("SQLROOMS_SCREENSHOT_DIR")
    directory = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_panel_offers_to_start_a_server_and_frames_the_app(session: PanelSession) -> None:
    from playwright.sync_api import expect

    assert "no SQLRooms server running" in session.notice_before_start
    assert session.server_status()["kernel_id"] == session.kernel_id
    src = session.page.locator(".jp-SqlRooms-appFrame").get_attribute("src") or ""
    assert f"sqlrooms/app/?kernel={session.kernel_id}" in src
    expect(session.app.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)


def test_editor_completes_table_names_and_runs_on_ctrl_enter(
    session: PanelSession, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    editor = session.app.locator(".cm-content")
    editor.click()
    session.page.keyboard.press("Control+a")
    session.page.keyboard.press("Delete")
    session.page.keyboard.type("select id, city, fare from eve")
    completion = session.app.locator(".cm-tooltip-autocomplete")
    expect(completion).to_contain_text("events", timeout=UI_TIMEOUT_MS)
    session.page.keyboard.press("Escape")
    session.run_sql("select id, city, fare from trips order by id")
    expect(session.app.locator("table tbody tr")).to_have_count(3, timeout=UI_TIMEOUT_MS)
    assert session.first_column() == ["1", "2", "3"]
    picture(session, screenshots / "app-jupyterlab-light.png")


def test_sql_errors_are_shown_in_place(session: PanelSession) -> None:
    from playwright.sync_api import expect

    session.run_sql("select * from no_such_table")
    expect(session.app.get_by_role("alert")).to_contain_text("no_such_table", timeout=UI_TIMEOUT_MS)


def test_a_million_rows_sort_and_page_in_duckdb(session: PanelSession) -> None:
    from playwright.sync_api import expect

    session.run_sql("from big")
    expect(session.app.get_by_text("of 10,000")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(session.app.locator("table tbody tr")).to_have_count(100, timeout=UI_TIMEOUT_MS)
    assert session.first_column()[:2] == ["0", "1"]

    header = session.app.get_by_role("columnheader", name=re.compile(r"^id"))
    # Numbers sort descending first. Sorting only the page in the browser would show 99.
    header.click()
    expect(session.app.locator("table tbody tr td:nth-child(2)").first).to_have_text(
        "999999", timeout=UI_TIMEOUT_MS
    )
    session.app.locator("button:has(svg.lucide-chevron-right)").first.click()
    expect(session.app.locator("table tbody tr td:nth-child(2)").first).to_have_text(
        "999899", timeout=UI_TIMEOUT_MS
    )


def test_a_chart_of_the_query_renders(session: PanelSession) -> None:
    from playwright.sync_api import expect

    session.run_sql("from big")
    expect(session.app.get_by_text("of 10,000")).to_be_visible(timeout=UI_TIMEOUT_MS)
    session.app.get_by_role("tab", name="Charts").click()
    session.app.get_by_role("combobox", name="chart x").click()
    session.app.get_by_role("option", name="bucket", exact=True).click()
    session.app.get_by_role("button", name="Add chart").click()
    chart = session.app.get_by_test_id("chart").first
    expect(chart.locator("svg rect").first).to_be_attached(timeout=UI_TIMEOUT_MS)
    session.app.get_by_role("tab", name="Results").click()


def test_a_long_query_shows_progress_and_cancels(session: PanelSession) -> None:
    from playwright.sync_api import expect

    session.run_sql(LONG_SQL)
    expect(session.app.get_by_role("status")).to_contain_text("Running", timeout=UI_TIMEOUT_MS)
    # DuckDB's progress, relayed through Jupyter as progress frames, fills the bar.
    bar = session.app.get_by_role("progressbar", name="Query progress")
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^\d+$"), timeout=UI_TIMEOUT_MS)
    wait_until(
        lambda: any(LONG_SQL in q["sql"] for q in session.server_status()["queries"]),
        "the query to reach the server",
        **SLOW_LOOK,
    )
    session.app.get_by_role("button", name="Cancel").click()
    wait_until(lambda: session.server_status()["queries"] == [], "the query to stop", **SLOW_LOOK)
    session.run_sql("select 42 as answer")
    expect(session.app.locator("table tbody tr td:nth-child(2)").first).to_have_text(
        "42", timeout=UI_TIMEOUT_MS
    )


def test_new_shares_appear_and_resharing_refreshes_the_table_on_screen(
    session: PanelSession,
) -> None:
    from playwright.sync_api import expect

    tables = session.app.get_by_test_id("schema-table")
    expect(tables.filter(has_text="trips")).to_have_count(1, timeout=UI_TIMEOUT_MS)
    # Shared after the app loaded its schema: the `catalog` channel brings it in, no ↻.
    session.kernel.run("zones = pd.DataFrame({'zone': ['north', 'south']})\n%sqlrooms share zones")
    expect(tables.filter(has_text="zones")).to_have_count(1, timeout=UI_TIMEOUT_MS)

    session.run_sql("select count(*) as n from trips")
    cell = session.app.locator("table tbody tr td:nth-child(2)").first
    expect(cell).to_have_text("3", timeout=UI_TIMEOUT_MS)
    wait_until(
        lambda: session.server_status()["channels"].get("table:trips", 0) >= 1,
        "the app subscribed to table:trips",
        detail=lambda: f"{session.server_status()['channels']}",
        **SLOW_LOOK,
    )
    session.kernel.run("trips = pd.concat([trips, trips])\n%sqlrooms share trips")
    expect(cell).to_have_text("6", timeout=UI_TIMEOUT_MS)


def test_insert_into_notebook_adds_a_cell_that_imports_and_clobbers_nothing(
    session: PanelSession,
) -> None:
    """The cell imports duckdb, takes a `result_N` the kernel does not have yet (here
    `result_1` is taken), and sees the tables the app saw (the shared `trips`)."""
    from playwright.sync_api import expect

    session.kernel.run("result_1 = 'taken'")
    sql = "select count(*) as n from trips"
    session.run_sql(sql)
    expect(session.results()).to_contain_text("n", timeout=UI_TIMEOUT_MS)
    cells = session.page.locator(".jp-NotebookPanel .jp-Cell")
    before = cells.count()
    active = session.page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active")
    active_index = int(active.get_attribute("data-windowed-list-index") or "0")
    session.app.get_by_role("button", name="Insert into notebook").click()
    expect(cells).to_have_count(before + 1, timeout=UI_TIMEOUT_MS)
    inserted = cells.nth(active_index + 1)
    assignment = f'result_2 = duckdb.sql("""{sql}""").df()'
    expect(inserted).to_contain_text("import duckdb")
    expect(inserted).to_contain_text(assignment)
    # What the cell does, run in the same kernel.
    out = session.kernel.run(
        f"import duckdb\n{assignment}\nprint(int(result_2.n[0]) == len(trips), result_1)"
    )
    assert "True taken" in out


def test_tabs_are_restored_from_the_notebook_metadata_after_a_reload(
    session: PanelSession,
) -> None:
    from playwright.sync_api import expect

    session.run_sql("select 42 as answer")  # history of its own: earlier tests may reopen
    session.app.get_by_role("button", name="New query tab").click()
    session.run_sql("select 'restored' as word")
    expect(session.app.get_by_role("tab", name="Query 2")).to_be_visible()
    # Saved with the notebook: wait for the metadata to reach the file.
    session.page.locator(".lm-TabBar-tab", has_text=NOTEBOOK).first.click()
    wait_until(
        lambda: "select 'restored' as word" in saved_metadata(session),
        "the app's state in the saved notebook's metadata",
        detail=lambda: saved_metadata(session)[:300],
        action=lambda: session.page.keyboard.press("Control+s"),
        **SLOW_LOOK,
    )
    session.page.locator(".lm-TabBar-tab", has_text="SQLRooms").first.click()
    frame = next(f for f in session.page.frames if "sqlrooms/app/" in f.url)
    # Not from the browser's storage: only the notebook has it now.
    frame.evaluate("localStorage.clear()")
    frame.evaluate("location.reload()")
    expect(session.app.get_by_role("tab", name="Query 2")).to_have_attribute(
        "aria-selected", "true", timeout=UI_TIMEOUT_MS
    )
    expect(session.app.locator(".cm-content")).to_contain_text("select 'restored' as word")
    session.app.get_by_role("tab", name="History").click()
    expect(session.app.get_by_label("Query history")).to_contain_text("select 42 as answer")
    session.app.get_by_role("tab", name="Results").click()


def saved_metadata(session: PanelSession) -> str:
    try:
        notebook = session.lab.get_json(f"api/contents/{NOTEBOOK}?content=1")
    except ConnectionError:  # read while JupyterLab writes it: "Unreadable Notebook"
        return ""
    return json.dumps(notebook["content"]["metadata"].get("sqlrooms", {}))


def test_dark_theme_reaches_the_app(session: PanelSession, screenshots: Path) -> None:
    from playwright.sync_api import expect

    page = session.page
    session.run_sql("select id, city, fare from trips order by id")
    page.get_by_role("menuitem", name="Settings").click()
    theme_menu = page.locator(".lm-Menu-item[data-type='submenu']", has_text=re.compile("^Theme$"))
    theme_menu.click()
    page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
    expect(page.locator("body")).to_have_attribute(
        "data-jp-theme-name", "JupyterLab Dark", timeout=UI_TIMEOUT_MS
    )
    expect(session.app.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    background = session.app.locator("body > #root > div").first.evaluate(
        "node => getComputedStyle(node).backgroundColor"
    )
    assert is_dark(background), background
    picture(session, screenshots / "app-jupyterlab-dark.png")


def test_tabs_survive_a_kernel_restart(session: PanelSession) -> None:
    from playwright.sync_api import expect

    frame = next(f for f in session.page.frames if "sqlrooms/app/" in f.url)
    frame.evaluate("localStorage.clear()")
    status, _ = session.lab.request("POST", f"api/kernels/{session.kernel_id}/restart")
    assert status == 200
    # The restart took the kernel's server with it: the panel offers to start one again.
    start = session.page.locator(".jp-SqlRooms-startButton")
    start.wait_for(timeout=UI_TIMEOUT_MS)
    start.click()
    expect(session.app.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    expect(session.app.get_by_role("tab", name="Query 2")).to_have_attribute(
        "aria-selected", "true", timeout=UI_TIMEOUT_MS
    )
    expect(session.app.locator(".cm-content")).to_contain_text("select id, city, fare from trips")


def test_no_uncaught_errors_in_the_page(session: PanelSession) -> None:
    assert session.page_errors == []


def picture(session: PanelSession, path: Path) -> None:
    """A screenshot of the page with the app frame repainted (headless Chromium may otherwise
    show a stale frame) and no completion list open."""
    session.app.locator(".cm-content").press("Escape")
    frame = session.page.locator(".jp-SqlRooms-appFrame")
    frame.evaluate("node => { node.style.display = 'none'; }")
    session.page.wait_for_timeout(200)
    frame.evaluate("node => { node.style.display = ''; }")
    session.page.wait_for_timeout(1000)  # colour transitions
    session.page.screenshot(path=str(path))


def is_dark(css_color: str) -> bool:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return (red + green + blue) / 3 < 100
