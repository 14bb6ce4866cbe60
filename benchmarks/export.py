"""Export of a 10M-row result as CSV and Parquet: time, size and the server's peak RSS.

    .venv/bin/python benchmarks/export.py [--rows 10000000] [--slow-reader] [--smoke]

Starts `python -m sqlrooms_jupyter` on a free loopback port, sends one `export` message
per format and reads the chunks (discarding them), sampling the server's resident memory
every 50 ms. `--slow-reader` sleeps 5 ms per chunk: the connection's budget then holds
the server back, so its memory must stay flat too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file

from benchmarks.procs import free_port


def sql_for(rows: int) -> str:
    return (
        "select i, i * 0.5 as half, 'row ' || i as label, date '2024-01-01' + (i % 365)::int"
        f" as day from range({rows}) t(i)"
    )


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.baseline = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_export(url: str, sql: str, fmt: str, slow: bool) -> tuple[int, int, dict[str, object]]:
    with connect(url, max_size=None) as ws:
        ws.send(json.dumps({"type": "export", "sql": sql, "format": fmt, "queryId": fmt}))
        size = chunks = 0
        while True:
            frame = ws.recv(600)
            if isinstance(frame, str):
                return size, chunks, json.loads(frame)
            length = int.from_bytes(frame[:4], "big")
            size += len(frame) - 4 - length
            chunks += 1
            if slow:
                time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--slow-reader", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="10k rows: that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.rows = 10_000
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(port), "--extensions", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/"
        for fmt in ("csv", "parquet"):
            rss = PeakRss(server.pid)
            started = time.perf_counter()
            size, chunks, done = run_export(url, sql_for(args.rows), fmt, args.slow_reader)
            seconds = time.perf_counter() - started
            peak = rss.stop()
            print(
                f"{fmt:8} rows={done.get('rows')} bytes={size:,} chunks={chunks} "
                f"time={seconds:.1f}s server_rss_before={rss.baseline / 2**20:.0f}MiB "
                f"peak={peak / 2**20:.0f}MiB answer={done.get('type')}"
            )
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
