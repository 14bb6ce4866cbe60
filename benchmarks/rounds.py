"""The interleaved rounds: each workload on each server in turn (order rotated every
round), each run on a freshly started server; the through-Jupyter workloads on one
Jupyter server and kernel per round; the untimed correctness pass."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import workloads as W
from benchmarks.peers import PYTHON, WORK, Target
from benchmarks.procs import RssSampler, free_port, loadavg, proc_cpu
from benchmarks.report import Results
from benchmarks.specs import Sizes, Spec


def run_one(spec: Spec, target: Target, rnd: int) -> dict[str, Any]:
    target.begin(spec.ours_extra if target.name == "ours" else ())
    W.CLIENT_OPTIONS.clear()
    W.CLIENT_OPTIONS.update(target.client_options)
    try:
        meter = W.Meter(target.cpu)
        t0 = time.perf_counter()
        value = asyncio.run(_with_meter(spec.run(target, meter, rnd), meter))
        value["total_s"] = time.perf_counter() - t0
        value.update(meter.result or {})
        return value
    finally:
        W.CLIENT_OPTIONS.clear()
        target.end()


async def _with_meter(coro: Any, meter: W.Meter) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(coro, 300)
    finally:
        meter.end()


def run_specs(
    specs: list[Spec],
    targets: dict[str, Target],
    rounds: int,
    results: Results,
    peers: tuple[str, ...],
) -> None:
    """`peers`: the peers to run (those whose venv is there)."""
    for spec in specs:
        print(f"== {spec.key}: {spec.title}", flush=True)
        results.load[spec.key] = loadavg()
        for rnd in range(rounds):
            order: list[str] = (
                [p for p in spec.peers if p in peers] + ["ours"] + (["floor"] if spec.floor else [])
            )
            order += ["echo"] if spec.echo else []
            k = rnd % len(order)
            order = order[k:] + order[:k]
            for who in order:
                try:
                    if who == "floor":
                        assert spec.floor is not None
                        value = spec.floor(rnd)
                    else:
                        value = run_one(spec, targets[who], rnd)
                except Exception as exc:
                    traceback.print_exc()
                    value = {"error": repr(exc)}
                results.add(spec.key, who, value)
                shown = {k: v for k, v in value.items() if not isinstance(v, (list, dict))}
                print(f"  round {rnd + 1} {who}: {json.dumps(shown, default=str)}", flush=True)


def run_jupyter(
    size: Sizes,
    keys: list[str],
    rounds: int,
    db: Path,
    results: Results,
    python: str = "",
    work: Path = WORK,
) -> None:
    """One Jupyter server + kernel per round; each workload direct and relayed, rotated.
    `python`: the Jupyter server's interpreter ("" = .venv-ours)."""
    from benchmarks.jupyter_door import JupyterDoor  # jupyter_client: only for these

    for key in keys:
        results.load[key] = loadavg()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for rnd in range(rounds):
        print(f"== through Jupyter, round {rnd + 1}", flush=True)
        door = JupyterDoor(
            python or PYTHON["ours"], work, db, work / f"jupyter-{stamp}.log", free_port()
        )
        try:
            door.start()
            kernel_pid = int(door.run_cell("import os; print(os.getpid())").strip())
        except Exception as exc:
            traceback.print_exc()
            for key in keys:
                for who in ("direct", "relay"):
                    results.add(key, who, {"error": repr(exc)})
            door.stop()
            continue
        try:
            for key in keys:
                order = ["direct", "relay"][:: 1 if rnd % 2 == 0 else -1]
                for who in order:
                    options = {"path": door.relay_path} if who == "relay" else {}
                    port = door.port if who == "relay" else door.direct_port
                    pids = [kernel_pid] + ([door.pid] if who == "relay" else [])
                    meter = W.Meter(lambda pids=pids: sum(proc_cpu(p) for p in pids))
                    W.CLIENT_OPTIONS.clear()
                    W.CLIENT_OPTIONS.update(options)
                    sampler = None
                    if key == "jupyter_select1":
                        coro = W.select1(port, meter, size.select1)
                    elif key == "jupyter_arrow10m":
                        # The Jupyter server's RSS: it relays (or, direct, idles).
                        sampler = RssSampler(door.pid)
                        coro = W.arrow10m(port, meter, memory=sampler)
                    elif key == "jupyter_dashboard":
                        coro = W.dashboard(port, meter, steps=size.steps)
                    else:
                        coro = W.busy_kernel(port, meter, door, seconds=size.busy_s)
                    try:
                        value = asyncio.run(_with_meter(coro, meter))
                        value.update(meter.result or {})
                        if sampler is not None:
                            value["jupyter_rss_delta_mib"] = value.pop("rss_delta_mib")
                    except Exception as exc:
                        traceback.print_exc()
                        value = {"error": repr(exc)}
                    finally:
                        W.CLIENT_OPTIONS.clear()
                    results.add(key, who, value)
                    shown = {k: v for k, v in value.items() if not isinstance(v, (list, dict))}
                    print(f"  {key} {who}: {json.dumps(shown, default=str)}", flush=True)
        finally:
            door.stop()
            with contextlib.suppress(ProcessLookupError):
                os.kill(kernel_pid, signal.SIGKILL)  # normally gone with its Jupyter server


def verify(targets: dict[str, Target], results: Results, names: list[str], rows: int) -> None:
    """Correctness of the big results (not timed): full Arrow table and JSON rows."""
    for name in names:
        t = targets[name]
        for key, coro in (
            (
                "verify_arrow10m",
                lambda t=t: W.arrow10m(t.port, W.Meter(t.cpu), keep=True, rows=rows),
            ),
            ("verify_json200k", lambda t=t: W.json200k(t.port, W.Meter(t.cpu), 1, verify=True)),
        ):
            t.begin(())
            W.CLIENT_OPTIONS.update(t.client_options)
            try:
                value = asyncio.run(coro())
            except Exception as exc:
                value = {"error": repr(exc)}
            finally:
                W.CLIENT_OPTIONS.clear()
                t.end()
            results.add(key, name, value)
            print(f"  verify {key} {name}: {value}", flush=True)
