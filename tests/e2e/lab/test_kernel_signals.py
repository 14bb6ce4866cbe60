"""The JupyterLab extension and a kernel's server over time, in headless Chromium: a kernel
without a server is asked once, not polled (each poll was a 404 in Jupyter's log); `%sqlrooms
start` is heard; the status bar counts apps, not their sockets; an open panel comes back after
a reload. The tests run in file order on one JupyterLab and one notebook.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
    from playwright.sync_api import Browser, Locator, Page

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

NOTEBOOK = "signals.ipynb"
UI_TIMEOUT_MS = 60_000
# The status bar used to poll every 3 s: three periods without a server.
QUIET_SECONDS = 10


@dataclass
class LabSession:
    lab: JupyterLab
    page: Page
    kernel: KernelRunner
    kernel_id: str
    requested: list[str] = field(default_factory=list)

    @property
    def status_bar(self) -> Locator:
        return self.page.locator(".jp-SqlRooms-statusButton")

    def status_requests(self) -> list[str]:
        """`sqlrooms/api/kernels/<id>`: it answers 404 for a kernel without a server."""
        return [url for url in self.requested if url.endswith(f"api/kernels/{self.kernel_id}")]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabSession]:
    from playwright.sync_api import sync_playwright

    lab = JupyterLab(tmp_path_factory.mktemp("lab"))
    lab.put_notebook(NOTEBOOK, ["print('ready')"])
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 820})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url.split("?")[0]))
        page.goto(lab.url(f"lab/tree/{NOTEBOOK}"))
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=UI_TIMEOUT_MS)
        kernel_id = lab.kernel_of(NOTEBOOK)
        kernel = KernelRunner(lab, kernel_id)
        session = LabSession(lab, page, kernel, kernel_id, requested)
        yield session
        kernel.close()
        browser.close()
    lab.stop()


def test_a_kernel_without_a_server_is_asked_once_not_polled(session: LabSession) -> None:
    from playwright.sync_api import expect

    expect(session.status_bar).to_have_text("SQLRooms: off", timeout=UI_TIMEOUT_MS)
    session.page.wait_for_timeout(QUIET_SECONDS * 1000)
    # Not even once: the list of kernels with a server says there is none.
    assert session.status_requests() == []
    assert "404 GET /sqlrooms/api/kernels/" not in session.lab.log()


def test_the_status_bar_hears_sqlrooms_start_and_stop(session: LabSession) -> None:
    from playwright.sync_api import expect

    # Run beside the browser: the kernel's output reaches JupyterLab's sockets all the same.
    session.kernel.run("%load_ext sqlrooms_jupyter\n%sqlrooms start --port 0")
    expect(session.status_bar).to_have_text(re.compile(r"SQLRooms: 0 "), timeout=10_000)
    session.kernel.run("%sqlrooms stop")
    expect(session.status_bar).to_have_text("SQLRooms: off", timeout=10_000)
    session.kernel.run("%sqlrooms start --port 0")
    expect(session.status_bar).to_have_text(re.compile(r"SQLRooms: 0 "), timeout=10_000)


def test_the_status_bar_counts_apps_not_their_sockets(session: LabSession) -> None:
    from playwright.sync_api import expect

    session.page.locator(".jp-NotebookPanel .jp-SqlRooms-toolbarButton").click()
    app = session.page.frame_locator(".jp-SqlRooms-appFrame")
    expect(app.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    status = session.lab.get_json(f"sqlrooms/api/kernels/{session.kernel_id}")
    assert status["connections"] > 1  # one app, several sockets
    expect(session.status_bar).to_have_text("SQLRooms: 1 app", timeout=10_000)


def test_the_panel_is_restored_after_a_reload(session: LabSession) -> None:
    from playwright.sync_api import expect

    page = session.page
    wait_until(
        lambda: "sqlrooms:" in str(session.lab.get_json("lab/api/workspaces")),
        "the panel to reach the saved workspace",
        timeout=30,
        interval=0.5,
    )
    page.reload()
    panel = page.locator(".jp-SqlRooms")
    expect(panel).to_be_visible(timeout=UI_TIMEOUT_MS)
    src = page.locator(".jp-SqlRooms-appFrame").get_attribute("src", timeout=UI_TIMEOUT_MS)
    assert f"kernel={session.kernel_id}" in (src or "")
    app = page.frame_locator(".jp-SqlRooms-appFrame")
    expect(app.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
