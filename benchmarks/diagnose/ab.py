#!/usr/bin/env python
"""A/B one workload between two versions of this server: base and the working tree.

    python benchmarks/diagnose/ab.py --base HEAD~1 --workload json200k --rounds 5
    python benchmarks/diagnose/ab.py --base c85c044 --workload throughput --rounds 10 --here
    python benchmarks/diagnose/ab.py --smoke   # HEAD against itself, tiny, this interpreter

The base revision is checked out as a git worktree under benchmarks/.work/ab-<rev>;
its server and the working tree's run alternately (A B A B...), each round on a fresh
process and the same data file, against the same load generator. This is how a
change to the hot path is measured on a noisy machine: the full run.py compares
against other servers, this compares a change with the code before it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks import workloads as W
from benchmarks.peers import REPO, SMOKE_ROWS, SMOKE_WORK, WORK, Target, ensure_db

# Workload -> (measurement, its key in the workload's result, higher is better).
WORKLOADS: dict[str, tuple[Callable[[int, W.Meter], Any], str, bool]] = {
    "select1": (lambda port, m: W.select1(port, m), "p50_ms", False),
    "throughput": (lambda port, m: W.throughput(port, m, seconds=3), "qps", True),
    "arrow10m": (lambda port, m: W.arrow10m(port, m), "last_byte_s", False),
    "json200k": (lambda port, m: W.json200k(port, m), "last_byte_s", False),
    "many_clients": (lambda port, m: W.many_clients(port, m), "seconds", False),
    "dashboard": (lambda port, m: W.dashboard(port, m, steps=10), "step_p50_ms", False),
    "fairness": (lambda port, m: W.fairness(port, m, W.FAIR_PLUS_SQL), "b_max_ms", False),
    "fairness_in": (lambda port, m: W.fairness(port, m, W.FAIR_IN_SQL), "b_max_ms", False),
}
SMOKE = (lambda port, m: W.select1(port, m, 20), "p50_ms", False)


def worktree(rev: str) -> Path:
    sha = subprocess.check_output(["git", "-C", str(REPO), "rev-parse", "--short", rev], text=True)
    path = WORK / f"ab-{sha.strip()}"
    if not path.exists():
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), rev],
            check=True,
            capture_output=True,
        )
    return path


def measure(tree: Path, db: Path, workload: str, python: str = "", smoke: bool = False) -> float:
    """`python`: the servers' interpreter ("" = .venv-ours)."""
    target = Target("ours", db, WORK / "ab.log", tree=tree, python=python)
    target.start()
    try:
        fn, key, _ = SMOKE if smoke else WORKLOADS[workload]
        result = asyncio.run(fn(target.port, W.Meter(target.cpu)))
        return float(result[key])
    finally:
        target.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="", help="git revision to compare against")
    parser.add_argument(
        "--tree",
        type=Path,
        default=REPO,
        help="the changed checkout (default: this working tree); e.g. a patched scratch copy",
    )
    parser.add_argument("--workload", choices=sorted(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--smoke", action="store_true", help="HEAD vs this tree, 1 round of 20 select 1, tiny data"
    )
    parser.add_argument(
        "--here",
        action="store_true",
        help="run both servers with this interpreter (no .venv-ours; builds the data if missing)",
    )
    args = parser.parse_args()
    python = sys.executable if args.here else ""
    db = WORK / "ours.duckdb"
    if args.here and not args.smoke:
        db = WORK / "here.duckdb"
        db.parent.mkdir(parents=True, exist_ok=True)
        ensure_db(python, db)
    if args.smoke:
        args.base, args.workload, args.rounds, python = "HEAD", "select1", 1, sys.executable
        db = SMOKE_WORK / "ours.duckdb"
        db.parent.mkdir(parents=True, exist_ok=True)
        ensure_db(python, db, SMOKE_ROWS)
    elif not args.base or not args.workload:
        parser.error("--base and --workload are required")
    if not db.exists():
        print("run benchmarks/run.py once first: it builds the data files", file=sys.stderr)
        return 2
    base_tree = worktree(args.base)
    trees = {args.base: base_tree, str(args.tree): args.tree.resolve()}
    results: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for r in range(args.rounds):
            order = list(trees.items()) if r % 2 == 0 else list(trees.items())[::-1]
            for name, tree in order:
                results[name].append(measure(tree, db, args.workload, python, args.smoke))
            print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.4g}" for n, v in results.items()))
    finally:  # do not leave a registered worktree behind in the shared repository
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)],
            capture_output=True,
        )
    _, key, higher = WORKLOADS[args.workload]
    base, head = (statistics.median(v) for v in results.values())
    better = head > base if higher else head < base
    print(
        f"{args.workload} {key}, median of {args.rounds}: {args.base} {base:.4g}, "
        f"{args.tree} {head:.4g} ({head / base:.2f}x, {'better' if better else 'not better'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
