#!/usr/bin/env python
"""Drive `raw_transport.py`: the same server through its Tornado door and through the
prototype asyncio door, alternately (select1 p50/p99, 500 clients), fresh process per round.

    python benchmarks/proposals/bench_raw_transport.py --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import run  # noqa: E402
import workloads as W  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    db = run.WORK / "ours.duckdb"
    run.ensure_db(run.PYTHON["ours"], db)
    out: dict[str, dict[str, list[float]]] = {}
    for rnd in range(args.rounds):
        ports = {"tornado": run.free_port(), "raw": run.free_port()}
        proc = subprocess.Popen(
            [
                run.PYTHON["ours"],
                str(HERE / "raw_transport.py"),
                "--db",
                str(db),
                str(ports["tornado"]),
                str(ports["raw"]),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            order = ["tornado", "raw"][:: 1 if rnd % 2 == 0 else -1]
            for workload in ("select1", "many_clients"):
                for door in order:
                    meter = W.Meter(lambda pid=proc.pid: run.proc_cpu(pid))
                    if workload == "select1":
                        r = asyncio.run(W.select1(ports[door], meter, 1000))
                        values = {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"]}
                    else:
                        r = asyncio.run(W.many_clients(ports[door], meter))
                        values = {"seconds": r["seconds"], "failures": r["failures"]}
                    values["server_cpu_s"] = (meter.result or {}).get("server_cpu_s", 0.0)
                    for key, value in values.items():
                        out.setdefault(f"{workload} {key}", {}).setdefault(door, []).append(value)
                    print(f"round {rnd + 1} {workload} {door}: {values}", flush=True)
        finally:
            proc.kill()
            proc.wait()
    print("\n| measure | Tornado door | asyncio prototype | prototype / Tornado, median |")
    print("|---|---|---|---|")
    for key, by in out.items():
        t, r = statistics.median(by["tornado"]), statistics.median(by["raw"])
        ratios = [b / a for a, b in zip(by["tornado"], by["raw"], strict=True) if a]
        ratio = f"{statistics.median(ratios):.2f}x" if ratios else "—"
        print(f"| {key} | {t:.3f} | {r:.3f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
