"""The SQLRooms app: its asset size, time to the first rows, and the first page of a big result.

    python benchmarks/app.py                          # 10M rows, 3 rounds, both doors
    python benchmarks/app.py --rows 1000000 --rounds 5 --door standalone
    python benchmarks/app.py --smoke                  # 1,000 rows, 1 round, standalone

Two doors, each in Debian's Chromium (Playwright):

- standalone: `python -m sqlrooms_jupyter --db-path bench.db`, and its own `/app/`;
- jupyter: a real `jupyter lab`, a notebook whose kernel made the table and ran
  `%sqlrooms start`, and the SQLRooms panel opened from the notebook's toolbar (the app in
  its iframe, through the relay).

Per round: "first rows" is from opening (navigation start, or the click on the toolbar button)
to the first data row of the table previewed with one click in the schema tree: page load,
WebSocket, schema, then `SELECT * … OFFSET 0 LIMIT 100` with its `count(*)`. "first page" is
from Ctrl+Enter on `FROM big` (the whole table) to its first page and row count on screen.
Needs `pip install -e '.[test]'`.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from benchmarks.internals import APP_DIR
from tests.lab_support import CHROMIUM, CHROMIUM_ARGS, JupyterLab
from tests.support import free_port, http_get

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FrameLocator, Page

TIMEOUT_MS = 180_000
LAZY = (".wasm", "collabDoc")  # fetched only from a server with --sync


def asset_sizes() -> dict[str, tuple[int, int]]:
    """Bytes and gzipped bytes: what every page loads, and what only --sync loads."""
    sizes = {"initial": [0, 0], "lazy": [0, 0]}
    for path in APP_DIR.rglob("*"):
        if path.is_file():
            part = "lazy" if any(mark in path.name for mark in LAZY) else "initial"
            data = path.read_bytes()
            sizes[part][0] += len(data)
            sizes[part][1] += len(gzip.compress(data, 6))
    return {k: (v[0], v[1]) for k, v in sizes.items()}


def make_table_sql(rows: int) -> str:
    return (
        "create or replace table big as select range::BIGINT as id, sin(range) as y,"
        f" range % 1000 as k from range({rows})"
    )


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def first_page_ms(page: Page, app: Page | FrameLocator, rows: int) -> float:
    """Ctrl+Enter on `FROM big`, in a new tab, to its first page and row count."""
    app.get_by_role("button", name="New query tab").click()
    editor = app.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    editor.fill("FROM big")
    started = time.perf_counter()
    page.keyboard.press("Control+Enter")
    results = app.get_by_role("tabpanel", name="Results")
    results.get_by_text(f"{rows:,} rows").wait_for(timeout=TIMEOUT_MS)
    app.locator("table tbody tr").first.wait_for(timeout=TIMEOUT_MS)
    return (time.perf_counter() - started) * 1000


@contextmanager
def standalone(rows: int, work: Path) -> Iterator[Callable[[Browser], tuple[float, float]]]:
    db = work / "bench.db"
    with duckdb.connect(str(db)) as con:
        con.sql(make_table_sql(rows))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(port), "--db-path", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )

    def one_round(browser: Browser) -> tuple[float, float]:
        context = browser.new_context()  # fresh storage: no saved tabs
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/app/")
        page.get_by_test_id("schema-table").first.click()
        page.locator("table tbody tr").first.wait_for(timeout=TIMEOUT_MS)
        opened = float(page.evaluate("performance.now()"))
        paged = first_page_ms(page, page, rows)
        context.close()
        return opened, paged

    try:
        wait_ready(port)
        yield one_round
    finally:
        server.terminate()
        server.wait(10)


@contextmanager
def through_jupyter(rows: int, work: Path) -> Iterator[Callable[[Browser], tuple[float, float]]]:
    lab = JupyterLab(work / "lab")
    notebook = "bench.ipynb"
    setup = (
        f"import duckdb\nduckdb.sql({make_table_sql(rows)!r})\n"
        "%load_ext sqlrooms_jupyter\n%sqlrooms start\nprint('BENCH-READY')"
    )
    lab.put_notebook(notebook, [setup])
    started_kernel = False

    def one_round(browser: Browser) -> tuple[float, float]:
        nonlocal started_kernel
        context = browser.new_context(viewport={"width": 1400, "height": 820})
        page = context.new_page()
        page.goto(lab.url(f"lab/tree/{notebook}?reset"))  # no panel restored from last round
        page.get_by_text("| Idle").wait_for(timeout=TIMEOUT_MS)
        if not started_kernel:
            page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
            page.keyboard.press("Shift+Enter")
            page.locator(".jp-OutputArea-output", has_text="BENCH-READY").wait_for(
                timeout=TIMEOUT_MS
            )
            started_kernel = True
        app = page.frame_locator(".jp-SqlRooms-appFrame")
        clicked = time.perf_counter()
        page.locator(".jp-NotebookPanel .jp-SqlRooms-toolbarButton").click()
        app.get_by_test_id("schema-table").first.click(timeout=TIMEOUT_MS)
        app.locator("table tbody tr").first.wait_for(timeout=TIMEOUT_MS)
        opened = (time.perf_counter() - clicked) * 1000
        paged = first_page_ms(page, app, rows)
        context.close()
        return opened, paged

    try:
        yield one_round
    finally:
        lab.stop()


def report(door: str, rows: int, rounds: list[tuple[float, float]]) -> None:
    for label, index in (("first rows", 0), ("first page", 1)):
        values = [r[index] for r in rounds]
        each = ", ".join(f"{v:.0f}" for v in values)
        median = statistics.median(values)
        print(f"{door:10} {label} ({rows:,} rows): median {median:.0f} ms ({each})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--door", choices=["standalone", "jupyter", "both"], default="both")
    parser.add_argument("--smoke", action="store_true", help="1,000 rows, 1 round, standalone")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.rounds, args.door = 1000, 1, "standalone"
    from playwright.sync_api import sync_playwright

    for part, (raw, zipped) in asset_sizes().items():
        print(f"app assets, {part}: {raw / 1e6:.2f} MB ({zipped / 1e6:.2f} MB gzipped)")
    doors = {"standalone": standalone, "jupyter": through_jupyter}
    chosen = list(doors) if args.door == "both" else [args.door]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for door in chosen:
            work = Path(tempfile.mkdtemp(prefix="sqlrooms-app-bench-"))
            with doors[door](args.rows, work) as run:
                run(browser)  # warm-up: caches, first compile
                report(door, args.rows, [run(browser) for _ in range(args.rounds)])
        browser.close()


if __name__ == "__main__":
    main()
