#!/usr/bin/env python
"""Profile this project's server with py-spy while it runs benchmark workloads.

    pip install py-spy
    python benchmarks/diagnose/profile_ours.py [--scenarios select1,arrow10m,throughput,json200k]
    python benchmarks/diagnose/profile_ours.py --smoke  # tiny; without py-spy, unsampled

Each scenario gets a fresh server; `py-spy record --native --threads` samples it
while the workload runs. Raw collapsed stacks go to benchmarks/.work/profile-*.txt
and a summary (top frames by self and inclusive share, per thread group) is printed.
py-spy only sees threads that run Python: DuckDB's own worker threads are not
sampled (their cost shows as server CPU in run.py, not here).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks import workloads as W
from benchmarks.internals import EXECUTOR_FILE
from benchmarks.peers import PYTHON, SMOKE_ROWS, SMOKE_WORK, VENVS, WORK, Target, ensure_db

_LINE = re.compile(r":\d+\)$")
# Samples of threads that wait rather than work: py-spy's own idle detection does
# not work on this kernel, so they are recognised by their innermost Python frame
# (a blocking C call shows as the Python frame that made it) or native frames.
_IDLE_LEAVES = frozenset(
    {
        "_worker (concurrent/futures/thread.py)",
        f"_Pool._work ({EXECUTOR_FILE})",
        "EpollSelector.select (selectors.py)",
        "Condition.wait (threading.py)",
        "Event.wait (threading.py)",
        "Thread.join (threading.py)",
        "Thread._wait_for_tstate_lock (threading.py)",
    }
)
_IDLE_NATIVE = (
    "_queue_SimpleQueue_get",
    "epoll_wait",
    "Condition.wait (",
    "Event.wait (",
    "Thread.join (",
    "sleep (",
)


async def _big_results(port: int, count: int) -> None:
    c = await W.connect(port)
    for i in range(count):
        msg = await c.query("arrow", W.BIG_SQL, f"big{i}")
        assert msg.arrow_complete, msg.type
    c.close()


async def _json_results(port: int, count: int) -> None:
    c = await W.connect(port)
    for i in range(count):
        msg = await c.query("json", W.JSON_SQL, f"json{i}")
        assert msg.type == "json", msg.type
    c.close()


async def _repeat(make: Callable[[], Awaitable[object]], times: int) -> None:
    for _ in range(times):
        await make()


def scenario(name: str, port: int, smoke: bool = False) -> object:
    meter = W.Meter(lambda: 0.0)
    if name == "select1":
        return W.select1(port, meter, count=20 if smoke else 4000)
    if name == "arrow10m":
        return _big_results(port, 4)
    if name == "throughput":
        return W.throughput(port, meter, seconds=4.0)
    if name == "json200k":
        return _json_results(port, 15)
    if name == "many_clients":
        return W.many_clients(port, meter, clients=500)
    if name == "fairness":
        return _repeat(lambda: W.fairness(port, meter, W.FAIR_PLUS_SQL), 5)
    if name == "fairness_in":
        return _repeat(lambda: W.fairness(port, meter, W.FAIR_IN_SQL), 3)
    if name == "dashboard":
        return W.dashboard(port, meter, steps=30)
    raise ValueError(name)


def group(thread: str) -> str:
    if "MainThread" in thread:
        return "event loop (MainThread)"
    if "sqlrooms-query" in thread or "ThreadPoolExecutor" in thread:
        return "query workers (sqlrooms-query_*)"
    return "other threads"


def summarise(path: Path, top: int = 12) -> list[str]:
    stacks: list[tuple[list[str], int]] = []
    idle = 0
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        split = frames.split(";")
        python_leaf = next((_LINE.sub(")", f) for f in reversed(split) if _LINE.search(f)), "")
        if python_leaf in _IDLE_LEAVES or any(mark in frames for mark in _IDLE_NATIVE):
            idle += int(count)
        else:
            stacks.append((split, int(count)))
    total = sum(n for _, n in stacks)
    if not total:
        return ["(no samples)"]
    by_group: dict[str, list[tuple[list[str], int]]] = collections.defaultdict(list)
    for frames, n in stacks:
        by_group[group(frames[0])].append((frames[1:], n))
    out = [
        f"{total} busy samples (+{idle} waiting ones left out); percentages are of busy "
        "samples; only threads that run Python are sampled",
        "",
    ]
    for name, group_stacks in sorted(by_group.items(), key=lambda kv: -sum(n for _, n in kv[1])):
        g_total = sum(n for _, n in group_stacks)
        leaf: collections.Counter[str] = collections.Counter()
        incl: collections.Counter[str] = collections.Counter()
        for frames, n in group_stacks:
            keys = [_LINE.sub(")", f) for f in frames]
            if keys:
                leaf[keys[-1]] += n
            for k in set(keys):
                incl[k] += n
        out.append(f"**{name}**: {100 * g_total / total:.1f}% of samples")
        out.append("")
        out.append("| inclusive | self | frame |")
        out.append("|---|---|---|")
        shown = set()
        for key, n in incl.most_common(top + 20):
            if n >= 0.98 * g_total or len(shown) >= top:
                continue  # the frames every stack of the group starts with
            shown.add(key)
            out.append(
                f"| {100 * n / total:.1f}% | {100 * leaf[key] / total:.1f}% | `{key[:110]}` |"
            )
        for key, n in leaf.most_common(top):
            if key not in shown:
                out.append(
                    f"| {100 * incl[key] / total:.1f}% | {100 * n / total:.1f}% | `{key[:110]}` |"
                )
        out.append("")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="select1,arrow10m,throughput,json200k,many_clients")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument(
        "--native", action="store_true", help="also sample C/C++ frames (slows the server)"
    )
    parser.add_argument(
        "--gil", action="store_true", help="only sample the thread that holds the GIL"
    )
    parser.add_argument("--target", default="ours", choices=["ours", "mosaic", "published"])
    parser.add_argument(
        "--smoke", action="store_true", help="20 select 1 on ours, this interpreter, tiny data"
    )
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(VENVS["ours"] / "bin")) or shutil.which("py-spy")
    if spy is None and not args.smoke:
        print("py-spy not found: pip install py-spy", file=sys.stderr)
        return 1
    work, python, rows = WORK, PYTHON[args.target], 10_000_000
    if args.smoke:
        args.scenarios, args.target = "select1", "ours"
        work, python, rows = SMOKE_WORK, sys.executable, SMOKE_ROWS
        if spy is None:
            print("smoke: py-spy not found, so the workload runs unsampled")
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"{args.target}.duckdb"
    ensure_db(python, db, rows)
    tag = args.target + ("-native" if args.native else "") + ("-gil" if args.gil else "")
    report = ["# py-spy profile of sqlrooms_jupyter", ""]
    for name in args.scenarios.split(","):
        target = Target(args.target, db, work / f"profile-{name}.log")
        if args.smoke:
            target.python = python
        target.start()
        W.CLIENT_OPTIONS.update(target.client_options)
        assert target.proc is not None
        out = work / f"profile-{name}-{tag}.txt"
        prof = None
        if spy is not None:
            argv = [spy, "record", "--pid", str(target.proc.pid), "--rate", str(args.rate)]
            argv += ["--format", "raw", "--threads", "-o", str(out)]
            argv += ["--native"] if args.native else []
            argv += ["--gil"] if args.gil else []
            prof = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)  # let py-spy attach
        t0 = time.perf_counter()
        err = b""
        try:
            asyncio.run(scenario(name, target.port, args.smoke))  # type: ignore[arg-type]
        finally:
            elapsed = time.perf_counter() - t0
            if prof is not None:
                prof.send_signal(signal.SIGINT)
                _, err = prof.communicate(timeout=60)
            target.stop()
        print(f"{name}: {elapsed:.1f} s; {err.decode().strip().splitlines()[-1:]}", flush=True)
        if prof is None:
            continue
        mode = "py-spy " + " ".join(f"--{f}" for f in ("native", "gil") if getattr(args, f))
        report += [f"## {name} ({mode}, {elapsed:.1f} s of workload)", "", *summarise(out)]
    text = "\n".join(report) + "\n"
    (work / f"profile-summary-{tag}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
