"""Finding 02 (medium, browser DoS from data): 100 rows of a 2 MB text each (a JSON/document
column, or a hostile database) froze the tab: the page query cast every column to VARCHAR
whole, so ~200 MB went to the grid; the page stopped answering for minutes.

Run: source env.sh && python findings/02_huge_text_cells.py
Fixed: the page query fetches at most CELL_CHARS + 1 characters per value (left(...)), and the
grid marks a cut value with `…`. Prints the time to the grid and a cell's length.
"""

import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from harness import TOKEN, browser_page, run_sql, server

db = Path("/tmp/finding02.db")
if not db.exists():
    with duckdb.connect(str(db)) as con:
        con.execute(
            "create table big as select range as id, repeat('x', 2000000) as doc from range(100)"
        )
with server(db) as url, browser_page() as page:
    page.goto(f"{url}/app/#token={TOKEN}")
    page.get_by_test_id("status").filter(has_text="connected").wait_for(timeout=60000)
    started = time.time()
    run_sql(page, "select * from big")
    try:
        page.locator("table tbody tr").nth(99).wait_for(timeout=120000)
        cell = page.locator("table tbody tr").first.locator("td").nth(2).inner_text()
        print(f"grid after {time.time() - started:.1f} s, cell of {len(cell)} characters: fixed")
    except Exception:
        print("no grid after 120 s: VULNERABLE")
