#!/usr/bin/env python
"""Where a `select 1` round trip spends its time inside our server, stage by stage.

    benchmarks/.venv-ours/bin/python benchmarks/diagnose/select1_stages.py [--count 2000] [--smoke]

Runs the server in this process (on its own thread, as the kernel does) with
timestamps patched around the stages of one query, and a client in another
process sending sequential `select 1` (Arrow). Prints the median of each stage
over the measured round trips (the first 200 are warm-up).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks.internals import (
    EngineConfig,
    InFlightQueries,
    QueryWebSocket,
    ServerConfig,
    ServerThread,
    Workers,
)

WARM_UP = 200

CLIENT = """
import json, sys, time
from websockets.sync.client import connect
with connect(sys.argv[1], max_size=None, compression=None) as ws:
    lat = []
    for i in range(int(sys.argv[2])):
        t = time.perf_counter()
        ws.send(json.dumps({"type": "arrow", "sql": "select 1", "queryId": "q%d" % i}))
        ws.recv()
        lat.append(time.perf_counter() - t)
lat.sort()
print("client round trip p50 %.1f us (websockets' sync client)" % (lat[len(lat) // 2] * 1e6))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="50 measured round trips")
    args = parser.parse_args()
    if args.smoke:
        args.count = WARM_UP + 50
    now = time.perf_counter
    current: dict[str, float] = {}
    records: list[dict[str, float]] = []

    on_message = QueryWebSocket.on_message
    run = Workers._run
    retry = Workers._with_conflict_retry
    finish = InFlightQueries._finish

    def timed_on_message(self: Any, message: Any) -> None:
        t = now()
        on_message(self, message)
        current["in"], current["submitted"] = t, now()

    def timed_run(self: Any, task: Any, work: Any) -> None:
        current["worker"] = now()
        run(self, task, work)

    def timed_retry(self: Any, task: Any, cursor: Any, work: Any) -> Any:
        t = now()
        result = retry(self, task, cursor, work)
        current["work"], current["worked"] = now() - t, now()
        return result

    def timed_finish(self: Any, task: Any) -> None:
        current["finish"] = now()
        finish(self, task)
        current["sent"] = now()
        records.append(dict(current))

    QueryWebSocket.on_message = timed_on_message  # type: ignore[method-assign]
    Workers._run = timed_run  # type: ignore[method-assign]
    Workers._with_conflict_retry = timed_retry  # type: ignore[method-assign]
    InFlightQueries._finish = timed_finish  # type: ignore[method-assign]

    thread = ServerThread(ServerConfig(port=0, engine=EngineConfig(extensions=())))
    server = thread.start()
    try:
        out = subprocess.run(
            [sys.executable, "-c", CLIENT, f"ws://127.0.0.1:{server.port}/", str(args.count)],
            capture_output=True,
            text=True,
            check=True,
        )
        print(out.stdout.strip())
    finally:
        thread.stop()
    measured = records[WARM_UP:]

    def median_us(stage: Any) -> float:
        return statistics.median(stage(r) for r in measured) * 1e6

    def p99_us(stage: Any) -> float:
        values = sorted(stage(r) for r in measured)
        return values[int(0.99 * (len(values) - 1))] * 1e6

    stages = [
        ("on_message: parse, task, submit (loop)", lambda r: r["submitted"] - r["in"]),
        ("submitted -> a worker runs it", lambda r: r["worker"] - r["submitted"]),
        ("worker: lane, prepare", lambda r: r["worked"] - r["worker"] - r["work"]),
        ("worker: DuckDB + Arrow IPC + budget", lambda r: r["work"]),
        ("worker done -> loop runs _finish", lambda r: r["finish"] - r["worked"]),
        ("_finish: answer written to the socket (loop)", lambda r: r["sent"] - r["finish"]),
        ("message in -> answer sent", lambda r: r["sent"] - r["in"]),
    ]
    print("\n| stage | median µs | p99 µs |\n|---|---|---|")
    for name, stage in stages:
        print(f"| {name} | {median_us(stage):.0f} | {p99_us(stage):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
