"""The app's Download CSV / Parquet buttons, in headless Chromium against `sqlrooms-server`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from tests.e2e.app.test_standalone import UI_TIMEOUT_MS, page, pytestmark, server  # noqa: F401

if TYPE_CHECKING:
    from playwright.sync_api import Page

SQL = "select i, 'row ' || i as label from range(5000) t(i)"


def test_download_csv_and_parquet_from_the_results(page: Page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    expect(page.get_by_test_id("status")).to_contain_text("connected", timeout=UI_TIMEOUT_MS)
    page.locator(".cm-content").click()
    page.keyboard.type(SQL)
    page.keyboard.press("Control+Enter")
    expect(page.get_by_text("5,000 rows")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expected = duckdb.sql(f"{SQL} order by i").fetchall()
    for fmt, button, reader in [("csv", "CSV", "read_csv"), ("parquet", "Parquet", "read_parquet")]:
        with page.expect_download(timeout=UI_TIMEOUT_MS) as download:
            page.get_by_role("button", name=button, exact=True).click()
        assert download.value.suggested_filename.endswith(f".{fmt}")
        saved = tmp_path / f"result.{fmt}"
        download.value.save_as(saved)
        rows = duckdb.sql(f"select * from {reader}('{saved}') order by i").fetchall()
        assert rows == expected
