"""The SQLRooms app: its asset size, and time from opening it to the first rows of a table.

    python benchmarks/app.py                 # 10M rows, 3 rounds
    python benchmarks/app.py --rows 1000000 --rounds 5

Starts `python -m sqlrooms_jupyter` on a DuckDB file with one table of --rows rows, serves the
built app (`webapp.app_routes`) from a Tornado server on another loopback port, and opens
`/app/?ws=…` in Debian's Chromium (Playwright). "First rows" is from navigation start to the
first data row of the previewed table on screen: page load, WebSocket, schema, then
`SELECT * … OFFSET 0 LIMIT 100` and the `count(*)` beside it. Needs `pip install -e '.[test]'`.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import tornado.web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlrooms_jupyter import webapp
from tests.lab.lab_support import CHROMIUM, CHROMIUM_ARGS
from tests.support import free_port, http_get


def asset_sizes() -> tuple[int, int]:
    files = [p for p in webapp.APP_DIR.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    zipped = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    return raw, zipped


def serve_app(port: int) -> None:
    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        tornado.web.Application(webapp.app_routes("/app/")).listen(port, "127.0.0.1")
        asyncio.get_event_loop().run_forever()

    threading.Thread(target=run, daemon=True).start()


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    raw, zipped = asset_sizes()
    print(f"app assets: {raw / 1e6:.2f} MB ({zipped / 1e6:.2f} MB gzipped)")
    work = Path(tempfile.mkdtemp(prefix="sqlrooms-app-bench-"))
    db = work / "bench.db"
    with duckdb.connect(str(db)) as con:
        con.sql(
            f"create table big as select range::BIGINT as id, sin(range) as y,"
            f" range % 1000 as k from range({args.rows})"
        )
    port, app_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqlrooms_jupyter",
            "--port",
            str(port),
            "--db-path",
            str(db),
            "--extensions",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    serve_app(app_port)
    try:
        wait_ready(port)
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for _ in range(args.rounds):
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{app_port}/app/?ws=ws://127.0.0.1:{port}/")
                page.get_by_test_id("schema-table").click()
                page.locator("table tbody tr").first.wait_for(timeout=120_000)
                ms = page.evaluate("performance.now()")
                times.append(ms)
                page.close()
            browser.close()
        each = ", ".join(f"{t:.0f}" for t in times)
        print(
            f"open -> first rows of a {args.rows:,}-row table:"
            f" median {statistics.median(times):.0f} ms ({each}; includes one click)"
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
