"""Finding 01 (medium, DoS of a shared server): a wide result fires one whole-result profile
query per column. `select * from wide` on a 1,000-column, 200k-row table mounted 1,000
ColumnProfiles at once: ~0.4 s of DuckDB each, minutes of server CPU that every other user
of the server waits behind (the grid itself took ~50 s to appear).

Run: source env.sh && python findings/01_wide_result_profiles.py
Fixed: only the first AUTO_PROFILED_COLUMNS (24) profile at once; the rest have a "Profile"
button. Prints how many profiles started (1,000 before the fix, 24 after).
"""

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from harness import TOKEN, browser_page, run_sql, server

N = 1000
db = Path("/tmp/finding01.db")
if not db.exists():
    with duckdb.connect(str(db)) as con:
        cols = ", ".join(f"range + {i} as c{i}" for i in range(N))
        con.execute(f"create table wide as select {cols} from range(200000)")
with server(db) as url, browser_page() as page:
    page.goto(f"{url}/app/#token={TOKEN}")
    page.get_by_test_id("status").filter(has_text="connected").wait_for(timeout=60000)
    run_sql(page, "select * from wide")
    page.locator("table tbody tr").first.wait_for(timeout=300000)
    started = page.locator("thead [data-testid=column-profile], thead .animate-pulse").count()
    print(f"profiles started at once: {started} of {N} columns")
    print("VULNERABLE" if started > 100 else "fixed")
