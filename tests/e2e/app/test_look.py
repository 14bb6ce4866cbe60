"""How the standalone SQLRooms app shows and edits (issue 23: grid, editor, themes, narrow
panel, charts), in headless Chromium against `sqlrooms-server`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.app_browser import APP_BROWSER_MARKS
from tests.support import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = APP_BROWSER_MARKS

UI_TIMEOUT_MS = 60_000


@pytest.fixture
def server(start_server: Callable[..., ServerProcess], tmp_path: Path) -> ServerProcess:
    db = tmp_path / "look.db"
    with duckdb.connect(str(db)) as con:
        con.sql(
            "create table trips as select range::BIGINT as id, (range % 97)::DOUBLE / 3 as fare,"
            " ['Oslo', 'Lima', 'Pune'][range % 3 + 1] as city,"
            " TIMESTAMP '2024-07-27 22:27:42' + to_minutes(range) as pickup from range(5000)"
        )
    return start_server("--db-path", str(db))


def open_app(browser: Browser, server: ServerProcess, width: int = 1300, **kw: object) -> Page:
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": width, "height": 760},
        permissions=["clipboard-read", "clipboard-write"],
        **kw,  # type: ignore[arg-type]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.http}/app/")
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def run_sql(page: Page, sql: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    editor.fill(sql)
    page.keyboard.press("Escape")  # a completion popup would take the Enter
    page.keyboard.press("Control+Enter")


def cells(page: Page, row: int = 0) -> list[str]:
    return page.locator("table tbody tr").nth(row).locator("td").all_inner_texts()[1:]


def test_the_grid_shows_values_as_duckdb_prints_them(
    browser: Browser, server: ServerProcess
) -> None:
    from playwright.sync_api import expect

    page = open_app(browser, server)
    run_sql(
        page,
        "select TIMESTAMP '2024-07-27 22:27:42' as ts, TIMESTAMPTZ '2024-07-27 22:27:42+00' as tz,"
        " DATE '2024-07-27' as d, 12345678901234567890.12::DECIMAL(38,2) as dec,"
        " 1/3 as ratio, 1234567::BIGINT as trip_count, 'x' as name, NULL::INT as nothing",
    )
    expect(page.get_by_test_id("row-count")).to_have_text("1 row", timeout=UI_TIMEOUT_MS)
    assert cells(page) == [
        "2024-07-27 22:27:42",
        "2024-07-27 22:27:42+00",
        "2024-07-27",
        "12345678901234567890.12",
        "0.333333",
        "1,234,567",
        "x",
        "NULL",
    ]
    # The full value on hover.
    ratio = page.locator("table tbody tr").first.locator("td").nth(5)
    assert ratio.get_attribute("title") == "0.3333333333333333"
    # DuckDB's type names in the header, as the schema tree writes them.
    types = page.get_by_test_id("column-type").all_inner_texts()
    assert types == [
        "timestamp",
        "timestamp with time zone",
        "date",
        "decimal(38,2)",
        "double",
        "bigint",
        "varchar",
        "integer",
    ]
    # Copy: a cell as it is, a row and a block as TSV with the header.
    ratio.click()
    page.keyboard.press("Control+c")
    expect(page.get_by_test_id("copied")).to_have_text("Copied cell")
    assert page.evaluate("navigator.clipboard.readText()") == "0.3333333333333333"
    page.locator("table tbody tr").first.locator("td").first.click()  # the row number
    page.keyboard.press("Control+c")
    expect(page.get_by_test_id("copied")).to_have_text("Copied 8 cells")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.split("\n")[0].startswith("ts\ttz\td\tdec\tratio")
    assert copied.split("\n")[1].split("\t")[4] == "0.3333333333333333"
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_grid_pages_sorts_and_fits_its_columns(browser: Browser, server: ServerProcess) -> None:
    from playwright.sync_api import expect

    page = open_app(browser, server)
    run_sql(page, "from trips")
    expect(page.get_by_test_id("row-count")).to_have_text("5,000 rows", timeout=UI_TIMEOUT_MS)
    expect(page.get_by_text("of 50")).to_be_visible()
    assert cells(page)[3] == "2024-07-27 22:27:42"
    page.get_by_role("columnheader", name="id").click()  # numbers: the largest first
    expect(page.locator("table tbody tr td:nth-child(2)").first).to_have_text(
        "4999", timeout=UI_TIMEOUT_MS
    )
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("table tbody tr td:nth-child(2)").first).to_have_text(
        "4899", timeout=UI_TIMEOUT_MS
    )
    # Columns fit their content: a short id column is narrower than the timestamps.
    widths = page.locator("table thead th").evaluate_all(
        "ths => ths.map(th => th.getBoundingClientRect().width)"
    )
    id_width, pickup_width = widths[1], widths[4]
    assert id_width < pickup_width
    assert pickup_width < 400
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_editor_speaks_duckdb(browser: Browser, server: ServerProcess) -> None:
    from playwright.sync_api import expect

    page = open_app(browser, server)
    expect(page.get_by_test_id("schema-table")).to_have_attribute("data-table", "trips")
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type("select ci from trips")
    for _ in " from trips":
        page.keyboard.press("ArrowLeft")
    page.keyboard.press("Control+Space")
    popup = page.locator(".cm-tooltip-autocomplete")
    # A column of the table in scope, without `trips.`, with its DuckDB type.
    first = popup.locator("li").first
    expect(first.locator(".cm-completionLabel")).to_have_text("city", timeout=UI_TIMEOUT_MS)
    expect(first.locator(".cm-completionDetail")).to_have_text("varchar · trips")
    # Completion icons are drawn with letters any font has, not emoji (boxes without one).
    icon = page.evaluate(
        "getComputedStyle(document.querySelector('.cm-completionIcon-property'), '::after').content"
    )
    assert icon == '"c"'
    page.keyboard.press("Escape")
    # Every DuckDB function, with its signature, from the server's duckdb_functions().
    page.keyboard.press("Control+End")
    page.keyboard.type(";\nselect date_tru")
    page.keyboard.press("Control+Space")
    option = popup.locator("li", has_text="date_trunc").first
    expect(option.locator(".cm-completionDetail")).to_contain_text(
        "date_trunc(part VARCHAR", timeout=UI_TIMEOUT_MS
    )
    page.keyboard.press("Escape")
    # Highlighting: keywords, strings and identifiers get different colours.
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type("select 'x' as city")
    page.keyboard.press("Escape")  # a completion popup left open covers what is clicked next
    colours = page.evaluate(
        """() => {
          const colour = (text) => {
            const span = [...document.querySelectorAll('.cm-line span')]
              .find((s) => s.textContent === text);
            return span ? getComputedStyle(span).color : null;
          };
          return [colour('select'), colour("'x'")];
        }"""
    )
    plain = page.evaluate("getComputedStyle(document.querySelector('.cm-line')).color")
    assert None not in colours
    assert len({*colours, plain}) == 3
    assert page.errors == []  # type: ignore[attr-defined]


def visible_overflows(page: Page) -> list[str]:
    """Buttons and tabs cut by their box or by the window."""
    return list(
        page.evaluate(
            """() => {
              const bad = [];
              const width = window.innerWidth;
              for (const el of document.querySelectorAll('button, [role=tab]')) {
                const r = el.getBoundingClientRect();
                if (r.width === 0) continue;
                // A profile's bars are empty buttons a pixel or two wide: only text can be cut.
                const cut = el.textContent.trim() !== '' && el.scrollWidth > el.clientWidth + 1;
                if (r.right > width + 0.5 || cut)
                  bad.push('clipped: ' + (el.textContent || el.getAttribute('aria-label')));
              }
              return bad;
            }"""
        )
    )


def footer_problems(page: Page) -> list[str]:
    """The results footer's parts (row count, time, downloads) cut off or wrapped."""
    return list(
        page.evaluate(
            """() => {
              const bad = [];
              const width = window.innerWidth;
              for (const name of ['CSV', 'Parquet']) {
                const b = [...document.querySelectorAll('button')]
                  .find((e) => e.textContent.trim() === name);
                if (!b) { bad.push('missing: ' + name); continue; }
                const r = b.getBoundingClientRect();
                if (r.right > width + 0.5) bad.push('clipped: ' + name);
              }
              const panel = document.querySelector('[role=tabpanel]');
              const rows = [...panel.querySelectorAll('*')].find((e) =>
                e.children.length === 0 && /^[\\d,]+ rows?$/.test(e.textContent.trim()));
              if (!rows) bad.push('missing: row count');
              else {
                const r = rows.getBoundingClientRect();
                if (r.right > width + 0.5 || r.height > 20 ||
                    rows.scrollWidth > rows.clientWidth + 1)
                  bad.push('cut: ' + rows.textContent);
              }
              return bad;
            }"""
        )
    )


@pytest.mark.parametrize("width", [600, 520])
def test_the_app_fits_a_half_width_panel(
    browser: Browser, server: ServerProcess, width: int
) -> None:
    from playwright.sync_api import expect

    page = open_app(browser, server, width=width)
    hint = page.get_by_text("Ctrl/Cmd+Enter runs the statement")
    assert hint.bounding_box()["height"] <= 20  # type: ignore[index]  # one line
    assert visible_overflows(page) == []
    run_sql(page, "from trips")
    expect(page.locator("table tbody tr")).to_have_count(100, timeout=UI_TIMEOUT_MS)
    assert visible_overflows(page) == []
    assert footer_problems(page) == []
    page.get_by_role("tab", name="Charts").click()
    page.wait_for_timeout(300)
    assert visible_overflows(page) == []


def test_the_dark_theme_covers_the_editor(browser: Browser, server: ServerProcess) -> None:
    page = open_app(browser, server, color_scheme="dark")
    page.wait_for_function("document.documentElement.classList.contains('dark')")
    page.locator(".cm-content").click()
    page.wait_for_timeout(500)  # colour transitions
    colours = page.evaluate(
        """() => ['.cm-editor', '.cm-gutters', '.cm-scroller', 'body'].map((s) => {
             const el = document.querySelector(s);
             const c = getComputedStyle(el).backgroundColor.match(/[\\d.]+/g).map(Number);
             return c.length > 3 && c[3] === 0 ? null : (c[0] + c[1] + c[2]) / 3;
           })"""
    )
    # Every part of the editor is dark (transparent counts as the body's colour).
    assert all(c is None or c < 80 for c in colours), colours


def pick(page: Page, label: str, option: str) -> None:
    """A choice in the chart builder's own select (not a native one)."""
    page.get_by_role("combobox", name=f"chart {label}").click()
    page.get_by_role("option", name=option, exact=True).click()


def svg_text_problems(chart: object) -> list[str]:
    """Texts of the chart drawn outside its SVG box (cut off), over another text, or a
    vertical (y axis) title sharing its column with tick labels."""
    return list(
        chart.locator("svg").first.evaluate(  # type: ignore[attr-defined]
            """svg => {
              const box = svg.getBoundingClientRect();
              const texts = [...svg.querySelectorAll('text')]
                .map((t) => [t.textContent, t.getBoundingClientRect()])
                .filter(([, r]) => r.width > 0);
              const bad = texts.filter(([, r]) => r.left < box.left - 1 ||
                r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
                .map(([t]) => 'outside: ' + t);
              texts.forEach(([a, r], i) => texts.slice(i + 1).forEach(([b, q]) => {
                const overlap = Math.min(r.right, q.right) - Math.max(r.left, q.left) > 1 &&
                  Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top) > 1;
                const columns = Math.min(r.right, q.right) - Math.max(r.left, q.left) > 1;
                const tall = (b) => b.height > 20 && b.height > b.width * 1.5;
                const vertical = tall(r) || tall(q);
                if (overlap || (vertical && columns)) bad.push('overlap: ' + a + ' / ' + b);
              }));
              return bad;
            }"""
        )
    )


def test_charts_fit_label_null_and_survive_a_reload(
    browser: Browser, server: ServerProcess
) -> None:
    from playwright.sync_api import expect

    page = open_app(browser, server, width=1000)
    # Counts above 10,000: wide tick labels beside the y axis title.
    run_sql(
        page,
        "select case when id % 4 = 0 then null else city end as city, fare from trips, range(10)",
    )
    expect(page.get_by_text("50,000 rows").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Charts").click()
    builder = page.get_by_role("group", name="New chart")
    expect(builder.get_by_role("combobox")).to_have_count(4)
    assert builder.locator("select:visible").count() == 0
    pick(page, "type", "bar")
    pick(page, "x", "city")
    page.get_by_role("button", name="Add chart").click()
    chart = page.get_by_test_id("chart").first
    expect(chart.locator("svg rect").first).to_be_attached(timeout=UI_TIMEOUT_MS)
    # NULL is a bar of its own, labelled.
    expect(chart.locator("svg text", has_text="NULL")).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(chart.locator("svg text", has_text="count")).to_have_count(1)
    assert svg_text_problems(chart) == []

    # Responsive to its card: it follows the window's width.
    def widths() -> tuple[float, float]:
        card = chart.bounding_box()
        svg = chart.locator("svg").first.bounding_box()
        assert card and svg
        return card["width"], svg["width"]

    card, svg = widths()
    assert card - 40 < svg <= card
    page.set_viewport_size({"width": 700, "height": 760})
    page.wait_for_function(
        "() => { const f = document.querySelector('[data-testid=chart]');"
        " const svg = f && f.querySelector('svg');"
        " return svg && svg.getBoundingClientRect().width <= f.getBoundingClientRect().width; }",
        timeout=UI_TIMEOUT_MS,
    )
    card2, svg2 = widths()
    assert card2 < card and svg2 < svg
    assert svg_text_problems(chart) == []

    # Kept after a reload; drawn again by one click that runs the tab's visible query.
    page.wait_for_function(
        '() => Object.values(localStorage).some(v => v.includes(\'"kind":"bar"\'))',
        timeout=UI_TIMEOUT_MS,
    )
    page.reload()
    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Charts").click()
    page.get_by_role("button", name="Run this tab's query to draw 1 chart").click()
    chart = page.get_by_test_id("chart").first
    expect(chart.locator("svg rect").first).to_be_attached(timeout=UI_TIMEOUT_MS)
    expect(chart.locator("svg text", has_text="NULL")).to_have_count(1, timeout=UI_TIMEOUT_MS)
    assert page.errors == []  # type: ignore[attr-defined]


def test_column_profiles_cover_the_whole_result_and_filter(
    browser: Browser, server: ServerProcess
) -> None:
    from playwright.sync_api import expect

    page = open_app(browser, server)
    run_sql(
        page,
        "select id, case when id % 10 = 0 then null else city end as city, fare from trips",
    )
    expect(page.get_by_text("5,000 rows").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    profiles = page.get_by_test_id("column-profile")
    expect(profiles).to_have_count(3, timeout=UI_TIMEOUT_MS)
    # Computed over all 5,000 rows, not the page of 100: 500 NULL cities.
    expect(profiles.nth(1).get_by_test_id("null-count")).to_have_text("500 null")
    ids = page.get_by_role("group", name="id histogram").locator("button")
    expect(ids).to_have_count(16)
    # A click on a bar filters the grid, in DuckDB.
    page.get_by_role("group", name="city top values").locator("button").first.click()
    expect(page.get_by_test_id("filter-chip")).to_have_count(1)
    chip = page.get_by_test_id("filter-chip").inner_text()
    city = chip.split("= ")[1].split(" ")[0]
    expect(page.get_by_test_id("row-count")).to_have_text(
        re.compile(r"^1,\d{3} rows$"), timeout=UI_TIMEOUT_MS
    )
    shown = page.locator("table tbody tr td:nth-child(3)").all_inner_texts()
    assert set(shown) == {city}
    # The other columns' profiles follow the filter (the id histogram counts only those rows);
    # a column's own filter leaves its profile whole (its NULLs still there).
    rows = int(page.get_by_test_id("row-count").inner_text().split()[0].replace(",", ""))

    def id_total() -> int:
        labels = ids.evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
        return sum(int(label.rsplit(": ", 1)[1]) for label in labels)

    page.wait_for_function(
        "n => [...document.querySelectorAll('[aria-label=\"id histogram\"] button')]"
        ".reduce((s, b) => s + Number(b.getAttribute('aria-label').split(': ').pop()), 0) === n",
        arg=rows,
        timeout=UI_TIMEOUT_MS,
    )
    assert id_total() == rows
    expect(profiles.nth(1).get_by_test_id("null-count")).to_have_text("500 null")
    page.get_by_test_id("filter-chip").click()
    expect(page.get_by_test_id("row-count")).to_have_text("5,000 rows", timeout=UI_TIMEOUT_MS)
    assert page.errors == []  # type: ignore[attr-defined]
