"""End to end: the SQLRooms panel in JupyterLab, in headless Chromium, against a
real kernel, its SQLRooms server and the Jupyter server extension's relay.

One JupyterLab, one notebook and one panel serve the whole module; the tests
run in file order and build on each other's state (the server started from the
panel, the tables created in the kernel).

Screenshots go to the test's temporary directory, or to $SQLROOMS_SCREENSHOT_DIR
when set (the README's come from `SQLROOMS_SCREENSHOT_DIR=docs/img`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .lab.lab_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JupyterLab,
    KernelRunner,
    chromium_missing_reason,
    installed_labextension,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

_missing = chromium_missing_reason() or (
    None
    if installed_labextension()
    else "the JupyterLab extension is not installed: pip install -e . (needs node and npm)"
)
pytestmark = [
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
print("E2E-SETUP-DONE")"""
# Runs for minutes on two cores: 10^10 rows in a cross join.
LONG_SQL = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"
UI_TIMEOUT_MS = 60_000


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

    def run_sql(self, sql: str) -> None:
        editor = self.panel.locator(".jp-SqlRooms-editor")
        editor.fill(sql)
        editor.press("Control+Enter")

    def wait_for_status(self, pattern: str) -> str:
        from playwright.sync_api import expect

        status = self.panel.locator(".jp-SqlRooms-queryStatus")
        expect(status).to_have_text(re.compile(pattern), timeout=UI_TIMEOUT_MS)
        return status.inner_text()

    def grid_rows(self) -> list[list[str]]:
        rows = self.panel.locator(".jp-SqlRooms-grid tbody tr")
        return [
            [cell.strip() for cell in row.locator("td").all_inner_texts()[1:]] for row in rows.all()
        ]

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
    start.click()
    expect(page.locator(".jp-SqlRooms-editor")).to_be_visible(timeout=UI_TIMEOUT_MS)

    kernel = KernelRunner(lab, kernel_id)
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


def test_panel_offers_to_start_a_server_and_starts_it(session: PanelSession) -> None:
    assert "no SQLRooms server running" in session.notice_before_start
    status = session.server_status()
    assert status["kernel_id"] == session.kernel_id
    servers = session.lab.get_json("sqlrooms/api/kernels")
    assert [server["kernel_id"] for server in servers] == [session.kernel_id]


def test_schema_browser_shows_kernel_tables_with_column_types(session: PanelSession) -> None:
    from playwright.sync_api import expect

    events = session.panel.locator(".jp-SqlRooms-relation[data-relation='events']")
    expect(events).to_be_visible(timeout=UI_TIMEOUT_MS)
    events.locator(".jp-SqlRooms-treeToggle").first.click()
    expect(events.locator(".jp-SqlRooms-column")).to_have_text([re.compile(r"id\s*INTEGER")])


def test_query_of_a_shared_dataframe_renders_its_rows(
    session: PanelSession, screenshots: Path
) -> None:
    session.run_sql("select id, city, fare from trips order by id")
    status = session.wait_for_status(r"^3 rows in \d")
    assert session.grid_rows() == [
        ["1", "Oslo", "9.5"],
        ["2", "Lima", "12.25"],
        ["3", "NULL", "30"],
    ]
    header = session.panel.locator(".jp-SqlRooms-grid thead th").all_inner_texts()
    assert [text.split("\n")[0] for text in header] == ["#", "id", "city", "fare"]
    assert "ms" in status or " s" in status
    show_shared_columns(session)
    session.page.screenshot(path=str(screenshots / "panel-light.png"))


def test_sql_errors_are_shown_in_the_panel(session: PanelSession) -> None:
    from playwright.sync_api import expect

    session.run_sql("select * from no_such_table")
    session.wait_for_status(r"^Failed after")
    expect(session.panel.locator(".jp-SqlRooms-queryError")).to_contain_text(
        "no_such_table", timeout=UI_TIMEOUT_MS
    )


def test_cancel_stops_a_long_query_on_the_server(session: PanelSession) -> None:
    from playwright.sync_api import expect

    session.run_sql(LONG_SQL)
    session.wait_for_status(r"^Running")
    queries = session.server_status()["queries"]
    assert [query["sql"] for query in queries] == [LONG_SQL]
    cancel = session.panel.locator(".jp-SqlRooms-cancelButton")
    expect(cancel).to_be_enabled()
    cancel.click()
    session.wait_for_status(r"^Cancelled after")
    # The panel stops waiting at once; the server interrupts DuckDB a moment later.
    wait_until(lambda: session.server_status()["queries"] == [], "the query to stop")
    # The connection is still good.
    session.run_sql("select 42 as answer")
    session.wait_for_status(r"^1 row in")
    assert session.grid_rows() == [["42"]]


def test_a_table_notification_reruns_the_query(session: PanelSession) -> None:
    session.kernel.run(
        'duckdb.sql("create or replace table live_events as select range as id from range(3)")'
    )
    session.panel.locator(".jp-SqlRooms-schema button[title='Reload the schema']").click()
    session.run_sql("select count(*) as n from live_events")
    session.wait_for_status(r"^1 row in")
    assert session.grid_rows() == [["3"]]
    wait_for_subscriber(session, "table:live_events")

    session.kernel.run(
        'duckdb.sql("insert into live_events select 100 + range from range(2)")\n'
        '%sqlrooms notify table:live_events {"op": "replace"}'
    )
    session.wait_for_status(r"refreshed: a table changed")
    assert session.grid_rows() == [["5"]]


def test_shared_dataframes_are_listed_and_refresh_live(session: PanelSession) -> None:
    from playwright.sync_api import expect

    columns = show_shared_columns(session)
    expect(columns).to_have_text(
        [re.compile(r"id\s*BIGINT"), re.compile(r"fare\s*DOUBLE"), re.compile(r"city\s*VARCHAR")]
    )
    session.run_sql("select count(*) as n from trips")
    session.wait_for_status(r"^1 row in")
    wait_for_subscriber(session, "table:trips")

    session.kernel.run("trips = pd.concat([trips, trips])\n%sqlrooms share trips")
    session.wait_for_status(r"refreshed: a table changed")
    assert session.grid_rows() == [["6"]]


def test_status_bar_shows_the_server_and_its_clients(session: PanelSession) -> None:
    from playwright.sync_api import expect

    session.page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    item = session.page.locator(".jp-SqlRooms-statusButton")
    expect(item).to_have_attribute("data-state", "running", timeout=UI_TIMEOUT_MS)
    expect(item).to_have_text(re.compile(r"SQLRooms: [1-9]\d* clients?"))


def test_dark_theme(session: PanelSession, screenshots: Path) -> None:
    from playwright.sync_api import expect

    page = session.page
    session.panel.click(position={"x": 5, "y": 5})
    session.run_sql("select id, city, fare from trips order by id")
    session.wait_for_status(r"rows in")
    page.get_by_role("menuitem", name="Settings").click()
    theme_menu = page.locator(".lm-Menu-item[data-type='submenu']", has_text=re.compile("^Theme$"))
    theme_menu.click()
    page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
    expect(page.locator("body")).to_have_attribute(
        "data-jp-theme-name", "JupyterLab Dark", timeout=UI_TIMEOUT_MS
    )
    background = session.panel.evaluate("node => getComputedStyle(node).backgroundColor")
    assert is_dark(background), background
    page.mouse.move(0, 400)
    page.wait_for_timeout(500)
    page.screenshot(path=str(screenshots / "panel-dark.png"))


def test_no_uncaught_errors_in_the_page(session: PanelSession) -> None:
    assert session.page_errors == []


def show_shared_columns(session: PanelSession) -> Locator:
    """Reloads the schema and opens the shared dataframe `trips`; returns its columns."""
    from playwright.sync_api import expect

    session.panel.locator(".jp-SqlRooms-schema button[title='Reload the schema']").click()
    shared = session.panel.locator(".jp-SqlRooms-shared")
    trips = shared.locator(".jp-SqlRooms-relation[data-relation='trips']")
    expect(trips).to_be_visible(timeout=UI_TIMEOUT_MS)
    toggle = trips.locator(".jp-SqlRooms-treeToggle").first
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    return trips.locator(".jp-SqlRooms-column")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def wait_for_subscriber(session: PanelSession, channel: str) -> None:
    """The panel subscribes in the background; wait until the server has it."""
    wait_until(
        lambda: session.server_status()["channels"].get(channel, 0) >= 1,
        f"a subscriber of {channel}",
    )


def is_dark(css_color: str) -> bool:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return (red + green + blue) / 3 < 100
