#!/usr/bin/env python
"""Profile the Jupyter server while it relays: py-spy on its process, relayed workloads.

    python benchmarks/diagnose/profile_relay.py [--workload arrow10m|select1] [--native] [--count 5]
    python benchmarks/diagnose/profile_relay.py --smoke   # tiny; without py-spy, unsampled

Starts a Jupyter server and kernel as `jupyter_door.py` does for run.py, samples the
Jupyter server (the relay runs on its event loop) while the workload runs through
the relay, and prints the same per-thread summary as `profile_ours.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks import workloads as W
from benchmarks.diagnose import profile_ours
from benchmarks.jupyter_door import JupyterDoor
from benchmarks.peers import PYTHON, SMOKE_ROWS, SMOKE_WORK, VENVS, WORK, ensure_db
from benchmarks.procs import free_port


async def _workload(name: str, port: int, count: int, select1: int = 2000) -> None:
    meter = W.Meter(lambda: 0.0)
    for _ in range(count):
        if name == "arrow10m":
            await W.arrow10m(port, meter)
        else:
            await W.select1(port, meter, select1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="arrow10m", choices=["arrow10m", "select1"])
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--rate", type=int, default=250)
    parser.add_argument("--native", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="20 select 1 relayed, this interpreter, tiny data"
    )
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(VENVS["ours"] / "bin"))
    if spy is None and not args.smoke:
        print("py-spy not found in .venv-ours (benchmarks/setup.sh)", file=sys.stderr)
        return 1
    work, python, rows, select1 = WORK, PYTHON["ours"], 10_000_000, 2000
    if args.smoke:
        work, python, rows, select1 = SMOKE_WORK, sys.executable, SMOKE_ROWS, 20
        args.workload, args.count = "select1", 1
        spy = shutil.which("py-spy", path=str(VENVS["ours"] / "bin")) or shutil.which("py-spy")
        if spy is None:
            print("smoke: py-spy not found, so the workload runs unsampled")
    work.mkdir(parents=True, exist_ok=True)
    db = work / "ours.duckdb"
    ensure_db(python, db, rows)
    door = JupyterDoor(python, work, db, work / "profile-relay.log", free_port())
    door.start()
    try:
        W.CLIENT_OPTIONS.update({"path": door.relay_path})
        tag = args.workload + ("-native" if args.native else "")
        out = work / f"profile-relay-{tag}.txt"
        prof = None
        if spy is not None:
            argv = [spy, "record", "--pid", str(door.pid), "--rate", str(args.rate)]
            argv += ["--format", "raw", "--threads", "-o", str(out)]
            argv += ["--native"] if args.native else []
            prof = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)
        t0 = time.perf_counter()
        asyncio.run(_workload(args.workload, door.port, args.count, select1))
        print(f"relayed {args.workload} x {args.count}: {time.perf_counter() - t0:.1f} s")
        if prof is not None:
            prof.send_signal(signal.SIGINT)
            prof.wait(60)
            print("\n".join(profile_ours.summarise(out, top=20)))
    finally:
        door.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
