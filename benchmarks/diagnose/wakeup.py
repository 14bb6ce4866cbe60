#!/usr/bin/env python
"""What one cross-CPU wake-up costs on this machine.

    python benchmarks/diagnose/wakeup.py [--smoke]

Two processes ping-pong one byte over pipes, first free to run on any CPU, then
both pinned to one. Each thread or process hand-off in a round trip costs about
half the first number; on VMs where it is large, every ratio that counts wake-ups
(`select 1`, 500 clients, the relay) widens, so a run's notes should say it.
"""

from __future__ import annotations

import argparse
import os
import time

COUNT = 3000


def ping_pong(cpus: set[int] | None, count: int = COUNT) -> tuple[float, float]:
    """p50 and p99 of one round trip, in µs."""
    to_child, from_parent = os.pipe()
    to_parent, from_child = os.pipe()
    pid = os.fork()
    if pid == 0:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        for _ in range(count):
            os.read(to_child, 1)
            os.write(from_child, b"y")
        os._exit(0)
    previous = os.sched_getaffinity(0)
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        os.write(from_parent, b"x")
        os.read(to_parent, 1)
        times.append(time.perf_counter() - start)
    os.waitpid(pid, 0)
    os.sched_setaffinity(0, previous)
    for fd in (to_child, from_parent, to_parent, from_child):
        os.close(fd)
    times.sort()
    return times[count // 2] * 1e6, times[count * 99 // 100] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="100 round trips")
    count = 100 if parser.parse_args().smoke else COUNT
    for label, cpus in (("any CPU", None), ("one CPU", {min(os.sched_getaffinity(0))})):
        p50, p99 = ping_pong(cpus, count)
        print(f"process ping-pong, {label}: p50 {p50:.1f} µs, p99 {p99:.1f} µs")


if __name__ == "__main__":
    main()
