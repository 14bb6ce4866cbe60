"""Regenerates the standalone app's screenshots in docs/img (light, dark, 600 px wide, editor
completion, charts): `python -m tests.screenshots [out-dir]` (default docs/img). Needs the
built app and Debian's chromium, like the browser tests."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb

from .lab_support import CHROMIUM, CHROMIUM_ARGS
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


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/img")
    for written in shoot(target):
        print(written)
