"""Regenerates the app's screenshots in docs/img: standalone (light, dark, 600 px wide, editor
completion, charts) and the JupyterLab panel at half the width of a 1400 px window:
`python -m tests.screenshots [out-dir] [--only standalone|lab]` (default docs/img, both). Needs
the built app and JupyterLab extension and Debian's chromium, like the browser tests."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import duckdb

from .lab_support import CHROMIUM, CHROMIUM_ARGS, JupyterLab
from .support import ServerProcess

SQL = (
    "select city, count(*) as trip_count, round(avg(fare), 2) as avg_fare,\n"
    "       min(pickup) as first_pickup, max(pickup) as last_pickup\n"
    "from trips\ngroup by all\norder by trip_count desc"
)


def make_db(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.sql(
            "create table trips as select range::BIGINT as id,"
            " round(3 + (hash(range) % 4000) / 100.0, 2)::DECIMAL(8,2) as fare,"
            " ['Oslo', 'Lima', 'Pune', 'Kyiv', NULL][range % 5 + 1] as city,"
            " TIMESTAMP '2024-07-01 06:00:00' + to_seconds(range * 37) as pickup,"
            " (hash(range) % 1000) / 97.0 as distance_km from range(100000)"
        )
        con.sql(
            "create table zones as select range as zone_id, 'zone ' || range as name from range(40)"
        )


def run_sql(page: object, sql: str) -> None:
    editor = page.locator(".cm-content")  # type: ignore[attr-defined]
    editor.click()
    page.keyboard.press("Control+a")  # type: ignore[attr-defined]
    page.keyboard.press("Delete")  # type: ignore[attr-defined]
    editor.fill(sql)
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.keyboard.press("Control+Enter")  # type: ignore[attr-defined]


def pick(page: object, label: str, option: str) -> None:
    page.get_by_role("combobox", name=f"chart {label}").click()  # type: ignore[attr-defined]
    page.get_by_role("option", name=option, exact=True).click()  # type: ignore[attr-defined]


def shoot(out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shots.db"
        make_db(db)
        server = ServerProcess("--db-path", str(db), cwd=Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                # The light shot: a table's profiles (histograms, top values, NULLs); the
                # others: an aggregate (DuckDB's timestamps, counts with separators).
                for name, width, theme, sql, rows in [
                    ("app-standalone-light", 1300, "light", "from trips", "100,000 rows"),
                    ("app-standalone-dark", 1300, "dark", SQL, "5 rows"),
                    ("app-standalone-narrow", 600, "light", SQL, "5 rows"),
                ]:
                    page = browser.new_page(
                        viewport={"width": width, "height": 760}, color_scheme=theme
                    )
                    page.goto(f"{server.http}/app/")
                    expect(page.get_by_test_id("status")).to_contain_text(
                        "connected", timeout=60_000
                    )
                    run_sql(page, sql)
                    expect(page.get_by_test_id("row-count")).to_have_text(rows, timeout=60_000)
                    expect(page.get_by_test_id("column-profile").first).to_be_visible()
                    page.wait_for_timeout(800)  # colour transitions
                    path = out / f"{name}.png"
                    page.screenshot(path=str(path))
                    written.append(path)
                    if theme == "light":
                        # Charts: a bar per city (NULL labelled) and a histogram, from the
                        # builder's own selects; the same tab's query.
                        run_sql(page, "from trips")
                        expect(page.get_by_test_id("row-count")).to_have_text(
                            "100,000 rows", timeout=60_000
                        )
                        page.get_by_role("tab", name="Charts").click()
                        for kind, x in [("bar", "city"), ("histogram", "distance_km")]:
                            pick(page, "type", kind)
                            pick(page, "x", x)
                            page.get_by_role("button", name="Add chart").click()
                        expect(page.locator("[data-testid=chart] svg rect").first).to_be_attached(
                            timeout=60_000
                        )
                        page.wait_for_timeout(1500)
                        path = out / f"{name.replace('standalone', 'charts')}.png"
                        page.screenshot(path=str(path))
                        written.append(path)
                        page.get_by_role("tab", name="Results").click()
                        run_sql(page, SQL)
                    if width == 1300:
                        # The editor: a column of the table in scope, without a prefix.
                        page.locator(".cm-content").click()
                        page.keyboard.press("Control+End")
                        page.keyboard.type(";\nselect di from trips")
                        for _ in " from trips":
                            page.keyboard.press("ArrowLeft")
                        page.keyboard.press("Control+Space")
                        expect(page.locator(".cm-tooltip-autocomplete")).to_be_visible()
                        page.wait_for_timeout(300)
                        path = out / f"app-editor-{theme}.png"
                        page.screenshot(path=str(path))
                        written.append(path)
                    page.close()
                browser.close()
        finally:
            server.stop()
    return written


# The notebook of the JupyterLab shot: the same trips in the kernel's DuckDB, then its server.
LAB_CELLS = [
    "import duckdb\n"
    "duckdb.sql(\n"
    '    "create table trips as select range::BIGINT as id,"\n'
    '    " round(3 + (hash(range) % 4000) / 100.0, 2)::DECIMAL(8,2) as fare,"\n'
    "    \" ['Oslo', 'Lima', 'Pune', 'Kyiv', NULL][range % 5 + 1] as city,\"\n"
    "    \" TIMESTAMP '2024-07-01 06:00:00' + to_seconds(range * 37) as pickup\"\n"
    '    " from range(100000)"\n'
    ")",
    "%load_ext sqlrooms_jupyter\n%sqlrooms start --port 0",
]


def shoot_lab(out: Path) -> list[Path]:
    """`jupyter lab`, a notebook that starts its kernel's server, and the SQLRooms panel beside
    it (the notebook toolbar's button) with a query's result: app-jupyterlab-half.png."""
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        lab = JupyterLab(Path(tmp))
        try:
            lab.put_notebook("trips.ipynb", LAB_CELLS)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1400, "height": 820})
                page.goto(lab.url("lab/tree/trips.ipynb"))
                page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
                page.locator(".jp-NotebookPanel .jp-Cell .jp-InputArea-editor").first.click()
                for _ in LAB_CELLS:
                    page.keyboard.press("Shift+Enter")
                page.locator(".jp-OutputArea-output", has_text="SQLRooms server running").wait_for(
                    timeout=90_000
                )
                page.locator(".jp-NotebookPanel .jp-SqlRooms-toolbarButton").click()
                app = page.frame_locator(".jp-SqlRooms-appFrame")
                expect(app.get_by_test_id("status")).to_contain_text("connected", timeout=90_000)
                # The file browser closed: the notebook and the panel share the window.
                page.get_by_role("menuitem", name="View").click()
                page.get_by_role("menuitem", name="File Browser").click()
                editor = app.locator(".cm-content")
                editor.click()
                page.keyboard.press("Control+a")
                page.keyboard.press("Delete")
                editor.fill(SQL)
                page.keyboard.press("Escape")
                page.keyboard.press("Control+Enter")
                expect(app.get_by_test_id("row-count")).to_have_text("5 rows", timeout=90_000)
                expect(app.get_by_test_id("column-profile").first).to_be_visible()
                # Headless Chromium may show a stale frame: repaint it before the shot.
                frame = page.locator(".jp-SqlRooms-appFrame")
                frame.evaluate("node => { node.style.display = 'none'; }")
                page.wait_for_timeout(200)
                frame.evaluate("node => { node.style.display = ''; }")
                page.wait_for_timeout(1200)
                path = out / "app-jupyterlab-half.png"
                page.screenshot(path=str(path))
                browser.close()
        finally:
            lab.stop()
    return [path]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots")
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/img"))
    parser.add_argument("--only", choices=["standalone", "lab"])
    args = parser.parse_args()
    written = [] if args.only == "lab" else shoot(args.out)
    written += [] if args.only == "standalone" else shoot_lab(args.out)
    for path in written:
        print(path)
