#!/usr/bin/env python
"""Profile the Jupyter server while it relays: py-spy on its process, relayed workloads.

    python benchmarks/profile_relay.py [--workload arrow10m|select1] [--native] [--count 5]

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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import profile_ours  # noqa: E402
import run  # noqa: E402
import workloads as W  # noqa: E402
from jupyter_door import JupyterDoor  # noqa: E402


async def _workload(name: str, port: int, count: int) -> None:
    meter = W.Meter(lambda: 0.0)
    for _ in range(count):
        if name == "arrow10m":
            await W.arrow10m(port, meter)
        else:
            await W.select1(port, meter, 2000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="arrow10m", choices=["arrow10m", "select1"])
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--rate", type=int, default=250)
    parser.add_argument("--native", action="store_true")
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(run.VENVS["ours"] / "bin"))
    if spy is None:
        print("py-spy not found in .venv-ours (benchmarks/setup.sh)", file=sys.stderr)
        return 1
    run.WORK.mkdir(exist_ok=True)
    db = run.WORK / "ours.duckdb"
    run.ensure_db(run.PYTHON["ours"], db)
    door = JupyterDoor(
        run.PYTHON["ours"], run.WORK, db, run.WORK / "profile-relay.log", run.free_port()
    )
    door.start()
    try:
        W.CLIENT_OPTIONS.update({"path": door.relay_path})
        tag = args.workload + ("-native" if args.native else "")
        out = run.WORK / f"profile-relay-{tag}.txt"
        argv = [spy, "record", "--pid", str(door.pid), "--rate", str(args.rate)]
        argv += ["--format", "raw", "--threads", "-o", str(out)]
        argv += ["--native"] if args.native else []
        prof = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        asyncio.run(_workload(args.workload, door.port, args.count))
        prof.send_signal(signal.SIGINT)
        prof.wait(60)
        print("\n".join(profile_ours.summarise(out, top=20)))
    finally:
        door.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
