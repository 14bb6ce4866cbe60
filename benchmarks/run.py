#!/usr/bin/env python
"""Benchmark this project's server against its peers and the physical floors.

    python benchmarks/run.py [--rounds N] [--quick] [--only W1,W2] [--write FILE] [--smoke]

Peers: the published sqlrooms-server 0.1.2 and Mosaic's duckdb-server 0.31.0, each
in its own venv, all on the same DuckDB (benchmarks/setup.sh). Each workload runs
INTERLEAVED over rounds (published, mosaic, ours, floor, rotated every round), each
run on a freshly started server, one thing at a time (the machine has 2 cores).
The through-Jupyter workloads compare the relay with the kernel's own port on one
Jupyter server and kernel per round. Medians over rounds, per-round ratios with
their min-max. See README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/run.py`

from benchmarks import peers, report, rounds, specs
from benchmarks.peers import PEERS, PYTHON, SMOKE_WORK, WORK, Target
from benchmarks.procs import loadavg


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds per workload (3)")
    parser.add_argument("--quick", action="store_true", help="1 round, shorter workloads")
    parser.add_argument("--only", default="", help="comma-separated workload keys")
    parser.add_argument("--no-verify", action="store_true", help="skip the correctness pass")
    parser.add_argument(
        "--write", default="", help="make this run the latest in this RESULTS.md-style file"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="check that it runs: ours only, on this interpreter, 200k rows, tiny workloads",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    rounds_n = args.rounds or (1 if args.quick or args.smoke else 3)
    size = specs.SMOKE if args.smoke else specs.QUICK if args.quick else specs.FULL
    # --smoke: ours, its floors and the Jupyter server on this interpreter, no peers.
    python = sys.executable if args.smoke else ""
    work = SMOKE_WORK if args.smoke else WORK
    work.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        running: tuple[str, ...] = ()
        print(f"smoke: ours only; peers not run: {', '.join(PEERS)}", flush=True)
    else:
        peers.ensure_venvs()
        running = PEERS
    dbs = {name: work / f"{name}.duckdb" for name in (*running, "ours")}
    for name, path in dbs.items():
        peers.ensure_db(python or PYTHON[name], path, size.rows)
    floor_db = dbs["ours"]
    if args.smoke:  # a copy: the kept server holds its file's lock while the floors run
        floor_db = work / "floor.duckdb"
        peers.ensure_db(python, floor_db, size.rows)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    targets = {
        name: Target(
            name, dbs.get(name), work / f"{name}-{stamp}.log", python=python, keep=args.smoke
        )
        for name in (*running, "ours", "echo")
    }
    info = peers.machine(python, running)
    info["command"] = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    info["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    info["load_start"] = loadavg()
    print(json.dumps(info, indent=1), flush=True)
    started = time.perf_counter()
    results = report.Results()
    wanted = set(args.only.split(",")) if args.only else None
    chosen = [s for s in specs.build_specs(size, floor_db, python) if not wanted or s.key in wanted]
    try:
        rounds.run_specs(chosen, targets, rounds_n, results, running)
        for target in targets.values():  # the kernel's server opens the same file
            target.stop()
        jupyter_keys = [k for k in specs.JUPYTER_KEYS if wanted is None or k in wanted]
        if jupyter_keys:
            rounds.run_jupyter(size, jupyter_keys, rounds_n, dbs["ours"], results, python, work)
        if not args.no_verify and not args.only:
            rounds.verify(targets, results, [*running, "ours"], size.rows)
    finally:  # --smoke keeps its servers between runs
        for target in targets.values():
            target.stop()
    info["load_end"] = loadavg()
    info["elapsed"] = f"{time.perf_counter() - started:.0f} s"
    raw = work / f"results-{stamp}.json"
    raw.write_text(
        json.dumps(
            {"info": info, "load": results.load, "runs": results.runs}, indent=1, default=str
        )
    )
    text = report.render(info, results, rounds_n)
    print(text)
    print(f"raw results: {raw}")
    if args.write:
        report.write_results(Path(args.write), text, report.history_row(info, results))
    errors = [
        who for by in results.runs.values() for who, rs in by.items() for r in rs if "error" in r
    ]
    if args.smoke:
        verdict = "FAILED" if errors else "ok"
        print(f"smoke {verdict}: run.py, {len(results.runs)} workloads, errors in {errors}")
    return 1 if args.smoke and errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
