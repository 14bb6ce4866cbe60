"""The workloads run.py runs, at the size of each mode (the full run, --quick, --smoke)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import workloads as W
from benchmarks.peers import BIG_ROWS, PEERS, SMOKE_ROWS, Target, floor
from benchmarks.procs import RssSampler

JUPYTER_KEYS = ("jupyter_select1", "jupyter_arrow10m", "jupyter_dashboard", "busy_kernel")


@dataclass(frozen=True)
class Sizes:
    select1: int  # measured round trips
    throughput_s: float
    throughput_floor_s: float
    steps: int  # dashboard brush steps
    grace: float  # big_small: seconds to wait for small answers after the big one
    cancels: int  # cancel_running per round
    clients: int  # many_clients
    busy_s: float  # busy_kernel: how long the cell runs
    rows: int  # rows of the data file's `big` table
    json_repeats: int = 3  # json200k: measured requests (and the floor's per method)


FULL = Sizes(1000, 4.0, 3.0, 30, 10.0, 3, 500, 6.0, BIG_ROWS)
QUICK = Sizes(300, 2.0, 2.0, 10, 5.0, 2, 500, 3.0, BIG_ROWS)
SMOKE = Sizes(20, 0.3, 0.3, 2, 1.0, 1, 20, 1.0, SMOKE_ROWS, json_repeats=1)


@dataclass
class Spec:
    key: str
    title: str
    run: Callable[[Target, W.Meter, int], Any]  # (target, meter, round) -> coroutine
    floor: Callable[[int], dict[str, Any]] | None = None
    ours_extra: tuple[str, ...] = ()
    echo: bool = False
    peers: tuple[str, ...] = PEERS


def build_specs(size: Sizes, ours_db: Path, python: str = "") -> list[Spec]:
    """`python`: the interpreter of the floors ("" = .venv-ours)."""

    def mem_run(t: Target, m: W.Meter, r: int) -> Any:
        assert t.proc is not None
        return W.arrow10m(t.port, m, memory=RssSampler(t.proc.pid))

    steps = size.steps
    specs = [
        Spec(
            "select1",
            "select 1 round trip",
            lambda t, m, r: W.select1(t.port, m, size.select1, echo=t.name == "echo"),
            lambda r: floor("select1", ours_db, python, count=size.select1),
            echo=True,
        ),
        Spec(
            "throughput",
            "8 sockets x 16 in flight, small aggregates over 1M rows",
            lambda t, m, r: W.throughput(t.port, m, seconds=size.throughput_s),
            lambda r: floor("throughput", ours_db, python, seconds=size.throughput_floor_s),
        ),
        Spec(
            "arrow10m",
            "10M rows x 5 columns as Arrow (352.9 MiB IPC)",
            mem_run,
            lambda r: floor("arrow10m", ours_db, python),
        ),
        Spec(
            "json200k",
            "200k rows as JSON",
            lambda t, m, r: W.json200k(t.port, m, repeats=size.json_repeats),
            lambda r: floor("json200k", ours_db, python, count=size.json_repeats),
        ),
        Spec(
            "dashboard",
            f"Mosaic cross-filter replay: {steps} brush steps x 8 aggregates over 10M rows",
            lambda t, m, r: W.dashboard(t.port, m, steps=steps),
            lambda r: floor("dashboard", ours_db, python, count=steps),
        ),
        Spec(
            "fairness",
            "client B's select 1 while client A's 2 MB `select 1+1+...` is in flight",
            lambda t, m, r: W.fairness(t.port, m, W.FAIR_PLUS_SQL),
        ),
        Spec(
            "fairness_in",
            "client B's select 1 while client A's valid 2 MB `... IN (1,1,...)` runs",
            lambda t, m, r: W.fairness(t.port, m, W.FAIR_IN_SQL),
        ),
        Spec(
            "starvation",
            "select 1 while 2 long queries run",
            lambda t, m, r: W.starvation(t.port, m),
        ),
        Spec(
            "big_small",
            "20 small queries on the socket while the 352.9 MiB result is sent",
            lambda t, m, r: W.big_and_small(t.port, m, grace=size.grace),
        ),
        Spec(
            "cancel_running",
            "cancel a running query -> its terminal reply",
            lambda t, m, r: W.cancel_running(t.port, m, n=size.cancels),
            peers=("published",),  # Mosaic's server has no cancel
        ),
        Spec(
            "cancel_queued",
            "cancel a queued query (2 query threads busy) -> its terminal reply",
            lambda t, m, r: W.cancel_queued(t.port, m),
            ours_extra=("--pool-size", "2"),
            peers=("published",),
        ),
        Spec(
            "many_clients",
            f"{size.clients} clients x 1 query",
            lambda t, m, r: W.many_clients(t.port, m, clients=size.clients),
        ),
    ]
    return specs
