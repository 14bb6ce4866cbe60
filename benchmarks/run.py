#!/usr/bin/env python
"""Benchmark this project's server against its peers and the physical floors.

    python benchmarks/run.py [--rounds N] [--quick] [--only W1,W2] [--write FILE]

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
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads as W  # noqa: E402
from wsclient import WsClient  # noqa: E402

REPO = HERE.parent
WORK = HERE / ".work"
VENVS = {name: HERE / f".venv-{name}" for name in ("ours", "published", "mosaic")}
PYTHON = {name: str(venv / "bin" / "python") for name, venv in VENVS.items()}
VERSIONS = {"published": "sqlrooms-server 0.1.2", "mosaic": "duckdb-server 0.31.0"}
PEERS = ("published", "mosaic")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- processes ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError):
        return float("nan")


def proc_status(pid: int, key: str) -> int:
    """A /proc/PID/status memory field in bytes (VmRSS, VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Peak RSS of a process above its level at start(): sampled every 10 ms, and the
    kernel's high-water mark (VmHWM, reset through clear_refs) so no spike is missed."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._stop = threading.Event()

    def start(self) -> None:
        with contextlib.suppress(OSError), open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")
        self.base = proc_status(self.pid, "VmRSS")
        self.peak = self.base
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, proc_status(self.pid, "VmRSS"))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        peak = max(self.peak, proc_status(self.pid, "VmHWM"))
        return peak - self.base


@dataclass
class Target:
    name: str  # published | mosaic | ours | echo
    db: Path | None
    log: Path
    extra: tuple[str, ...] = ()
    tree: Path = REPO  # ours: the checkout whose package `-m` imports (ab.py runs others)
    proc: subprocess.Popen | None = None
    port: int = 0

    @property
    def client_options(self) -> dict[str, Any]:
        return {"ordered": True} if self.name == "mosaic" else {}

    def argv(self, port: int) -> list[str]:
        if self.name == "published":
            return [
                str(VENVS["published"] / "bin" / "sqlrooms-server"),
                "--db-path",
                str(self.db),
                "--port",
                str(port),
                "--extensions",
                ",",  # an empty list: no httpfs download attempt (offline)
            ]
        if self.name == "mosaic":
            return [PYTHON["mosaic"], str(HERE / "mosaic_server.py"), str(port), str(self.db)]
        if self.name == "ours":
            return [
                PYTHON["ours"],
                "-m",
                "sqlrooms_jupyter",
                "--db-path",
                str(self.db),
                "--port",
                str(port),
                "--extensions",
                "",
                *self.extra,
            ]
        return [PYTHON["ours"], str(HERE / "echo_server.py"), str(port)]

    def start(self) -> None:
        self.port = free_port()
        env = dict(os.environ)
        if self.name == "mosaic":  # its diskcache directory (tempfile.mkdtemp)
            tmp = WORK / "mosaic-tmp"
            tmp.mkdir(exist_ok=True)
            env["TMPDIR"] = str(tmp)
        with open(self.log, "ab") as log:
            log.write(f"\n==== {time.ctime()} {self.argv(self.port)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(self.port),
                cwd=self.tree,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        asyncio.run(self._wait_ready())

    async def _wait_ready(self, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log}")
            try:
                c = await asyncio.wait_for(
                    WsClient.connect("127.0.0.1", self.port, **self.client_options), 2
                )
                msg = await asyncio.wait_for(c.query("arrow", "select 1", "ready"), 5)
                c.close()
                if msg.type == "arrow" or self.name == "echo":
                    return
            except (OSError, asyncio.TimeoutError, Exception):
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {limit} s; see {self.log}")

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid) if self.proc else float("nan")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- setup --------------------------------------------------------------------


def ensure_venvs() -> None:
    if not all(Path(py).exists() for py in PYTHON.values()):
        print("creating the benchmark venvs (benchmarks/setup.sh)", flush=True)
        subprocess.run(["bash", str(HERE / "setup.sh")], check=True)


def venv_duckdb(name: str) -> str:
    out = subprocess.run(
        [PYTHON[name], "-c", "import duckdb; print(duckdb.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def ensure_db(python: str, path: Path) -> None:
    """Build the data file with `python`'s DuckDB unless a valid one exists."""
    check = (
        "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True); "
        "assert c.execute('select count(*) from big').fetchall()[0][0]==10_000_000; "
        "assert c.execute('select count(*) from t1m').fetchall()[0][0]==1_000_000"
    )
    if path.exists():
        ok = subprocess.run([python, "-c", check, str(path)], capture_output=True)
        if ok.returncode == 0:
            return
        path.unlink()
    subprocess.run([python, str(HERE / "make_db.py"), str(path)], check=True)


def floor(workload: str, db: Path, python: str = "", **kw: Any) -> dict[str, Any]:
    argv = [python or PYTHON["ours"], str(HERE / "floors.py"), workload, "--db", str(db)]
    for k, v in kw.items():
        argv += [f"--{k}", str(v)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"floor {workload} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the run ------------------------------------------------------------------


@dataclass
class Spec:
    key: str
    title: str
    run: Callable[[Target, W.Meter, int], Any]  # (target, meter, round) -> coroutine
    floor: Callable[[int], dict[str, Any]] | None = None
    ours_extra: tuple[str, ...] = ()
    echo: bool = False
    peers: tuple[str, ...] = PEERS


@dataclass
class Results:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    load: dict[str, str] = field(default_factory=dict)  # workload -> load average at its start

    def add(self, key: str, who: str, value: dict[str, Any]) -> None:
        self.runs.setdefault(key, {}).setdefault(who, []).append(value)


def build_specs(args: argparse.Namespace, dbs: dict[str, Path]) -> list[Spec]:
    q = args.quick
    ours_db = dbs["ours"]

    def mem_run(t: Target, m: W.Meter, r: int) -> Any:
        assert t.proc is not None
        return W.arrow10m(t.port, m, memory=RssSampler(t.proc.pid))

    steps = 10 if q else 30
    specs = [
        Spec(
            "select1",
            "select 1 round trip",
            lambda t, m, r: W.select1(t.port, m, 300 if q else 1000, echo=t.name == "echo"),
            lambda r: floor("select1", ours_db, count=300 if q else 1000),
            echo=True,
        ),
        Spec(
            "throughput",
            "8 sockets x 16 in flight, small aggregates over 1M rows",
            lambda t, m, r: W.throughput(t.port, m, seconds=2.0 if q else 4.0),
            lambda r: floor("throughput", ours_db, seconds=2.0 if q else 3.0),
        ),
        Spec(
            "arrow10m",
            "10M rows x 5 columns as Arrow (352.9 MiB IPC)",
            mem_run,
            lambda r: floor("arrow10m", ours_db),
        ),
        Spec(
            "json200k",
            "200k rows as JSON",
            lambda t, m, r: W.json200k(t.port, m, repeats=3),
            lambda r: floor("json200k", ours_db, count=3),
        ),
        Spec(
            "dashboard",
            f"Mosaic cross-filter replay: {steps} brush steps x 8 aggregates over 10M rows",
            lambda t, m, r: W.dashboard(t.port, m, steps=steps),
            lambda r: floor("dashboard", ours_db, count=steps),
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
            lambda t, m, r: W.big_and_small(t.port, m, grace=5.0 if q else 10.0),
        ),
        Spec(
            "cancel_running",
            "cancel a running query -> its terminal reply",
            lambda t, m, r: W.cancel_running(t.port, m, n=2 if q else 3),
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
            "500 clients x 1 query",
            lambda t, m, r: W.many_clients(t.port, m, clients=500),
        ),
    ]
    return specs


def run_one(spec: Spec, target: Target, rnd: int) -> dict[str, Any]:
    target.extra = spec.ours_extra if target.name == "ours" else ()
    target.start()
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
        target.stop()


async def _with_meter(coro: Any, meter: W.Meter) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(coro, 300)
    finally:
        meter.end()


def run_specs(specs: list[Spec], targets: dict[str, Target], rounds: int, results: Results) -> None:
    for spec in specs:
        print(f"== {spec.key}: {spec.title}", flush=True)
        results.load[spec.key] = loadavg()
        for rnd in range(rounds):
            order: list[str] = [*spec.peers, "ours"] + (["floor"] if spec.floor else [])
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


# -- through Jupyter ----------------------------------------------------------

JUPYTER_KEYS = ("jupyter_select1", "jupyter_arrow10m", "jupyter_dashboard", "busy_kernel")


def run_jupyter(
    args: argparse.Namespace, keys: list[str], rounds: int, db: Path, results: Results
) -> None:
    """One Jupyter server + kernel per round; each workload direct and relayed, rotated."""
    from jupyter_door import JupyterDoor

    q = args.quick
    steps = 10 if q else 30
    for key in keys:
        results.load[key] = loadavg()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for rnd in range(rounds):
        print(f"== through Jupyter, round {rnd + 1}", flush=True)
        door = JupyterDoor(PYTHON["ours"], WORK, db, WORK / f"jupyter-{stamp}.log", free_port())
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
                        coro = W.select1(port, meter, 300 if q else 1000)
                    elif key == "jupyter_arrow10m":
                        # The Jupyter server's RSS: it relays (or, direct, idles).
                        sampler = RssSampler(door.pid)
                        coro = W.arrow10m(port, meter, memory=sampler)
                    elif key == "jupyter_dashboard":
                        coro = W.dashboard(port, meter, steps=steps)
                    else:
                        coro = W.busy_kernel(port, meter, door, seconds=3.0 if q else 6.0)
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


def verify(targets: dict[str, Target], results: Results) -> None:
    """Correctness of the big results (not timed): full Arrow table and JSON rows."""
    for name in (*PEERS, "ours"):
        t = targets[name]
        for key, coro in (
            ("verify_arrow10m", lambda t=t: W.arrow10m(t.port, W.Meter(t.cpu), keep=True)),
            ("verify_json200k", lambda t=t: W.json200k(t.port, W.Meter(t.cpu), 1, verify=True)),
        ):
            t.extra = ()
            t.start()
            W.CLIENT_OPTIONS.update(t.client_options)
            try:
                value = asyncio.run(coro())
            except Exception as exc:
                value = {"error": repr(exc)}
            finally:
                W.CLIENT_OPTIONS.clear()
                t.stop()
            results.add(key, name, value)
            print(f"  verify {key} {name}: {value}", flush=True)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine() -> dict[str, str]:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = subprocess.run(
        [
            PYTHON["ours"],
            "-c",
            "import duckdb, pyarrow, tornado, jupyter_server; print(duckdb.__version__, "
            "pyarrow.__version__, tornado.version, jupyter_server.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    git = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "sqlrooms_jupyter"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ours": f"sqlrooms_jupyter @ {git}{' + uncommitted changes' if dirty else ''}, "
        f"DuckDB {versions[0]}, pyarrow {versions[1]}, Tornado {versions[2]}, "
        f"jupyter_server {versions[3]}",
        "published": f"{VERSIONS['published']}, DuckDB {venv_duckdb('published')} (socketify)",
        "mosaic": f"{VERSIONS['mosaic']}, DuckDB {venv_duckdb('mosaic')} (socketify)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds per workload (3)")
    parser.add_argument("--quick", action="store_true", help="1 round, shorter workloads")
    parser.add_argument("--only", default="", help="comma-separated workload keys")
    parser.add_argument("--no-verify", action="store_true", help="skip the correctness pass")
    parser.add_argument(
        "--write", default="", help="append the report as a new section to this Markdown file"
    )
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)

    WORK.mkdir(exist_ok=True)
    ensure_venvs()
    dbs = {name: WORK / f"{name}.duckdb" for name in ("published", "mosaic", "ours")}
    for name, path in dbs.items():
        ensure_db(PYTHON[name], path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    targets = {
        name: Target(name, dbs.get(name), WORK / f"{name}-{stamp}.log")
        for name in ("published", "mosaic", "ours", "echo")
    }
    info = machine()
    info["command"] = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    info["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    info["load_start"] = loadavg()
    print(json.dumps(info, indent=1), flush=True)
    started = time.perf_counter()
    results = Results()
    wanted = set(args.only.split(",")) if args.only else None
    specs = [s for s in build_specs(args, dbs) if wanted is None or s.key in wanted]
    run_specs(specs, targets, rounds, results)
    jupyter_keys = [k for k in JUPYTER_KEYS if wanted is None or k in wanted]
    if jupyter_keys:
        run_jupyter(args, jupyter_keys, rounds, dbs["ours"], results)
    if not args.no_verify and not args.only:
        verify(targets, results)
    info["load_end"] = loadavg()
    info["elapsed"] = f"{time.perf_counter() - started:.0f} s"
    raw = WORK / f"results-{stamp}.json"
    raw.write_text(
        json.dumps(
            {"info": info, "load": results.load, "runs": results.runs}, indent=1, default=str
        )
    )
    report = render(info, results, rounds)
    print(report)
    print(f"raw results: {raw}")
    if args.write:
        out = Path(args.write)
        before = out.read_text().rstrip("\n") + "\n\n" if out.exists() else ""
        out.write_text(before + report)
    return 0


# -- the report ---------------------------------------------------------------


def good(runs: list[dict[str, Any]], key: str) -> list[Any]:
    return [r.get(key) for r in runs if "error" not in r]


def med(runs: list[dict[str, Any]], key: str) -> Any:
    """Median over rounds; None when any round had no value (e.g. no answer in time)."""
    values = good(runs, key)
    if not values or any(v is None for v in values):
        return None
    return statistics.median(values)


def show(v: Any, nd: int = 2, none: str = "—") -> str:
    if v is None:
        return none
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:,.{nd}f}"


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def round_ratios(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> list[float]:
    """a/b per round, pairing round i of a with round i of b (both measured side by side)."""
    out = []
    for ra, rb in zip(a, b, strict=False):
        va, vb = ra.get(key), rb.get(key)
        if "error" not in ra and "error" not in rb and is_number(va) and is_number(vb) and vb:
            out.append(va / vb)
    return out


def spread(ratios: list[float]) -> str:
    if not ratios:
        return "—"
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}x"
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def yesno(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


@dataclass
class Row:
    key: str
    field: str
    label: str
    nd: int = 2
    higher_is_better: bool = False
    goal: str = "—"
    # (ours/best-peer ratio, ours/floor ratio, ours value) -> met?
    met: Callable[[float | None, float | None, Any], bool | None] | None = None
    none: str = "—"


def _le(limit: float) -> Callable[[float | None], bool | None]:
    return lambda r: None if r is None else r <= limit


ROWS = [
    Row(
        "select1",
        "p50_ms",
        "`select 1` round trip p50 (ms)",
        3,
        goal="≤1.0x best peer",
        met=lambda p, f, o: _le(1.0)(p),
    ),
    Row(
        "select1",
        "p99_ms",
        "`select 1` round trip p99 (ms)",
        3,
        goal="≤1.0x best peer",
        met=lambda p, f, o: _le(1.0)(p),
    ),
    Row(
        "throughput",
        "qps",
        "8 sockets x 16 in flight, small aggregates over 1M rows (q/s)",
        0,
        True,
        "≥0.85x floor",
        lambda p, f, o: None if f is None else f >= 0.85,
    ),
    Row(
        "arrow10m",
        "last_byte_s",
        "10M rows x 5 cols as Arrow (352.9 MiB IPC): last byte (s)",
        2,
        goal="≤1.0x floor",
        met=lambda p, f, o: _le(1.0)(f),
        none="none in 180 s",
    ),
    Row(
        "arrow10m",
        "rss_delta_mib",
        "same: server peak RSS above baseline (MiB)",
        0,
        goal="≤1.0x best peer",
        met=lambda p, f, o: _le(1.0)(p),
    ),
    Row(
        "json200k",
        "last_byte_s",
        "200k rows x 5 cols as JSON: last byte (s)",
        3,
        goal="≤1.2x floor",
        met=lambda p, f, o: _le(1.2)(f),
    ),
    Row(
        "dashboard",
        "step_p50_ms",
        "dashboard: 8 aggregates per brush step, p50 (ms)",
        0,
        goal="≤1.15x floor, ≤1.0x best peer",
        met=lambda p, f, o: None if p is None or f is None else (f <= 1.15 and p <= 1.0),
    ),
    Row("dashboard", "total_s", "same: all steps (s)", 2),
    Row(
        "fairness",
        "b_max_ms",
        "B's slowest `select 1` during A's 2 MB `1+1+...` (ms)",
        1,
        goal="≤5 ms",
        met=lambda p, f, o: None if o is None else o <= 5,
        none="—",
    ),
    Row("fairness", "a_answer_s", "same: A's answer (an error: expression too deep) after (s)", 3),
    Row(
        "fairness_in",
        "b_max_ms",
        "B's slowest `select 1` during A's 2 MB `IN (1,1,...)` (ms)",
        1,
        goal="≤5 ms",
        met=lambda p, f, o: None if o is None else o <= 5,
    ),
    Row("fairness_in", "a_answer_s", "same: A's answer after (s)", 3),
    Row(
        "starvation",
        "same_socket_ms",
        "`select 1` while 2 long queries run, same socket (ms)",
        1,
        goal="≤20 ms",
        met=lambda p, f, o: o is not None and o <= 20,
        none="none within 5 s",
    ),
    Row(
        "starvation",
        "other_socket_ms",
        "same, another socket (ms)",
        1,
        goal="≤20 ms",
        met=lambda p, f, o: o is not None and o <= 20,
        none="none within 5 s",
    ),
    Row(
        "big_small",
        "lost",
        "20 small queries while 352.9 MiB is sent: lost (worst round)",
        0,
        goal="0",
        met=lambda p, f, o: o == 0,
    ),
    Row("big_small", "small_after_big_ms", "same: last small answer after the big one (ms)", 1),
    Row(
        "cancel_running",
        "terminal_p50_ms",
        "cancel a running query -> terminal reply (ms)",
        1,
        goal="≤50 ms",
        met=lambda p, f, o: o is not None and o <= 50,
        none="none within 5 s",
    ),
    Row(
        "cancel_queued",
        "terminal_p50_ms",
        "cancel a queued query -> terminal reply (ms)",
        1,
        goal="≤50 ms",
        met=lambda p, f, o: o is not None and o <= 50,
        none="none within 5 s",
    ),
    Row(
        "many_clients",
        "seconds",
        "500 clients x 1 query: all answered (s)",
        2,
        goal="≤1.0x best peer",
        met=lambda p, f, o: _le(1.0)(p),
    ),
    Row("many_clients", "failures", "same: failures", 0, goal="0", met=lambda p, f, o: o == 0),
]

JUPYTER_ROWS = [
    (
        "jupyter_select1",
        "p50_ms",
        "`select 1` p50 (ms)",
        3,
        "relay ≤ direct + 0.3 ms",
        lambda d, r: r - d <= 0.3,
    ),
    ("jupyter_select1", "p99_ms", "`select 1` p99 (ms)", 3, "—", None),
    (
        "jupyter_arrow10m",
        "last_byte_s",
        "10M rows as Arrow: last byte (s)",
        2,
        "relay ≤ 1.2x direct",
        lambda d, r: r <= 1.2 * d,
    ),
    (
        "jupyter_arrow10m",
        "jupyter_rss_delta_mib",
        "same: Jupyter server's peak RSS above idle (MiB)",
        0,
        "≤64 MiB relayed",
        lambda d, r: r <= 64,
    ),
    ("jupyter_dashboard", "step_p50_ms", "dashboard step p50 (ms)", 0, "—", None),
    ("busy_kernel", "p50_ms", "`select 1` p50 while a cell runs pure Python (ms)", 2, "—", None),
    (
        "busy_kernel",
        "p99_ms",
        "`select 1` p99 while a cell runs pure Python (ms)",
        2,
        "≤20 ms",
        lambda d, r: max(d, r) <= 20,
    ),
]


def render(info: dict[str, str], results: Results, rounds: int) -> str:
    runs = results.runs

    def get(key: str, who: str) -> list[dict[str, Any]]:
        return runs.get(key, {}).get(who, [])

    head = [
        "workload",
        VERSIONS["published"],
        f"Mosaic {VERSIONS['mosaic']}",
        "ours",
        "floor",
        "ours / best peer, median (min-max of rounds)",
        "ours / floor",
        "goal",
        "met?",
        "server CPU s (pub / mosaic / ours)",
        "load at start",
    ]
    lines = [
        f"## Run of {info['date']}",
        "",
        f"- machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}, "
        f"Python {info['python']}",
        f"- ours: {info['ours']}",
        f"- published: {info['published']}",
        f"- Mosaic: {info['mosaic']}",
        f"- command: `{info['command']}` ({rounds} rounds, interleaved, medians; "
        f"took {info['elapsed']})",
        f"- load average (1/5/15 min): start {info['load_start']}, end {info['load_end']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in ROWS:
        if row.key not in runs:
            continue
        by = {w: get(row.key, w) for w in (*PEERS, "ours", "floor")}
        values = {w: med(rs, row.field) for w, rs in by.items()}
        if row.field == "lost":  # the worst round, not the median
            values = {w: max(good(rs, "lost"), default=None) for w, rs in by.items()}
        if row.key == "select1":  # floor = in-process query + bare Tornado echo round trip
            echo = med(get("select1", "echo"), row.field)
            fl = values["floor"]
            values["floor"] = None if fl is None or echo is None else fl + echo
        # Per round, ours against the better of the peers in that round.
        peer_ratios = []
        for i, ours_run in enumerate(by["ours"]):
            peer_values = [
                by[p][i].get(row.field)
                for p in PEERS
                if i < len(by[p]) and "error" not in by[p][i] and is_number(by[p][i].get(row.field))
            ]
            o = ours_run.get(row.field)
            if peer_values and is_number(o) and "error" not in ours_run:
                best = max(peer_values) if row.higher_is_better else min(peer_values)
                if best:
                    peer_ratios.append(o / best)
        if row.key == "select1":
            floor_runs = [
                {row.field: f.get(row.field, 0) + e.get(row.field, 0)}
                for f, e in zip(by["floor"], get("select1", "echo"), strict=False)
                if "error" not in f and "error" not in e
            ]
            floor_ratios = round_ratios(by["ours"], floor_runs, row.field)
        else:
            floor_ratios = round_ratios(by["ours"], by["floor"], row.field)
        p = statistics.median(peer_ratios) if peer_ratios else None
        f = statistics.median(floor_ratios) if floor_ratios else None
        met = row.met(p, f, values["ours"]) if row.met else None
        cpu = " / ".join(show(med(by[w], "server_cpu_s")) for w in (*PEERS, "ours"))
        shown = [show(values[w], row.nd, row.none) if by[w] else "n/a" for w in (*PEERS, "ours")]
        lines.append(
            "| "
            + " | ".join(
                [
                    row.label,
                    *shown,
                    show(values["floor"], row.nd),
                    spread(peer_ratios),
                    spread(floor_ratios),
                    row.goal,
                    yesno(met),
                    cpu,
                    results.load.get(row.key, "?").split()[0],
                ]
            )
            + " |"
        )
    if any(k in runs for k in JUPYTER_KEYS):
        lines += [
            "",
            "Through Jupyter: the same kernel's server, on its own port (direct) and through "
            "the Jupyter server's relay `{base_url}sqlrooms/kernels/<id>/ws`; one Jupyter server "
            "and kernel per round, direct and relay alternating.",
            "",
            "| workload | direct | relay | relay / direct, median (min-max) | relay - direct "
            "| goal | met? | load at start |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key, fld, label, nd, goal, check in JUPYTER_ROWS:
            if key not in runs:
                continue
            d, r = med(get(key, "direct"), fld), med(get(key, "relay"), fld)
            ratios = round_ratios(get(key, "relay"), get(key, "direct"), fld)
            diff = None if d is None or r is None else r - d
            met = None if check is None or d is None or r is None else check(d, r)
            lines.append(
                f"| {label} | {show(d, nd)} | {show(r, nd)} | {spread(ratios)} | "
                f"{show(diff, nd)} | {goal} | {yesno(met)} | "
                f"{results.load.get(key, '?').split()[0]} |"
            )
    lines += ["", *notes(runs)]
    return "\n".join(lines) + "\n"


def notes(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    out = ["Details (medians over rounds unless said otherwise):", ""]

    def g(key: str, who: str) -> list[dict[str, Any]]:
        return [r for r in runs.get(key, {}).get(who, []) if "error" not in r]

    def ms(rs: list[dict[str, Any]], field: str, nd: int = 3) -> str:
        return show(med(rs, field), nd) + " ms"

    if "select1" in runs:
        out.append(
            "- select 1 floor = in-process DuckDB `select 1` -> Arrow IPC "
            f"({ms(g('select1', 'floor'), 'p50_ms')} p50) + a bare Tornado WebSocket "
            f"echo through the same client ({ms(g('select1', 'echo'), 'p50_ms')} p50, "
            f"p99 {ms(g('select1', 'echo'), 'p99_ms')})."
        )
    if "throughput" in runs:
        threads = sorted({r.get("threads") for r in g("throughput", "floor")})
        bad = {
            who: sum(r.get("lost", 0) + r.get("bad", 0) for r in g("throughput", who))
            for who in (*PEERS, "ours")
        }
        out.append(
            "- throughput floor: in-process, N threads each with its own cursor, query -> Arrow "
            f"IPC, best of 2 and 8 threads (best: {threads}). Lost or bad answers: {bad}."
        )
    if "dashboard" in runs:
        out.append(
            "- dashboard floor: in-process, the same 8 queries per step on 8 threads, each with "
            "its own cursor, query -> Arrow IPC. Slowest step (ms): "
            + ", ".join(
                f"{who} {show(med(g('dashboard', who), 'step_max_ms'), 0)}"
                for who in (*PEERS, "ours", "floor")
            )
            + ". Bad answers: "
            + str({who: sum(r.get("bad", 0) for r in g("dashboard", who)) for who in PEERS})
            + f", ours {sum(r.get('bad', 0) for r in g('dashboard', 'ours'))}."
        )
    for key in ("fairness", "fairness_in"):
        if key in runs:
            parts = []
            for who in (*PEERS, "ours"):
                rs = g(key, who)
                parts.append(
                    f"{who}: B idle p50 {ms(rs, 'b_idle_p50_ms')}, during A p50 "
                    f"{ms(rs, 'b_p50_ms')} over {[r.get('b_queries') for r in rs]} queries, "
                    f"A's answer {sorted({str(r.get('a_answer_type')) for r in rs})}"
                )
            out.append(f"- {key}: " + "; ".join(parts) + ".")
    if "arrow10m" in runs:
        for who in (*PEERS, "ours"):
            rs = g("arrow10m", who)
            out.append(
                f"- 10M Arrow, {who}: first byte after {show(med(rs, 'first_byte_s'))} s, "
                f"message {show(med(rs, 'message_bytes'), 0)} bytes, every round ended with the "
                f"IPC end-of-stream marker: {all(r.get('complete') for r in rs)}."
            )
    keep = ("rows", "columns", "id_sum_ok", "exact_doubles", "error", "message_bytes")
    for key in ("verify_arrow10m", "verify_json200k"):
        for who in (*PEERS, "ours"):
            for r in runs.get(key, {}).get(who, []):
                shown = {k: v for k, v in r.items() if k in keep}
                out.append(f"- verification, {key[7:]} {who}: {shown}")
    if "json200k" in runs:
        fl = g("json200k", "floor")
        if fl:
            out.append(
                f"- JSON floor: fastest exact in-process method of {list(fl[0]['all_s'])}: "
                f"{sorted({r['method'] for r in fl})}."
            )
    if "big_small" in runs:
        for who in (*PEERS, "ours"):
            rs = g("big_small", who)
            out.append(
                f"- big+small {who}: lost per round {[r.get('lost') for r in rs]}, wrong "
                f"{[r.get('wrong') for r in rs]}, big intact "
                f"{[r.get('big_complete') for r in rs]}, small answers p50 "
                f"{ms(rs, 'small_p50_ms', 1)} after sending."
            )
    for key in ("cancel_running", "cancel_queued"):
        for who in (*PEERS, "ours"):
            rs = g(key, who)
            if rs:
                types = sorted({t for r in rs for t in r.get("terminal_types", [])})
                out.append(
                    f"- {key} {who}: terminal answers {types}, cancelAck "
                    f"{ms(rs, 'ack_p50_ms', 1)}, said cancelled: "
                    f"{all(r.get('acked_cancelled') for r in rs)}."
                )
    if "many_clients" in runs:
        for who in (*PEERS, "ours"):
            rs = g("many_clients", who)
            out.append(
                f"- 500 clients {who}: per-client p50 {ms(rs, 'p50_ms', 1)}, slowest "
                f"{ms(rs, 'max_ms', 1)}, errors per round {[r.get('errors') for r in rs]}."
            )
    for key, metric in (
        ("select1", "p50_ms"),
        ("select1", "p99_ms"),
        ("throughput", "qps"),
        ("arrow10m", "last_byte_s"),
        ("arrow10m", "rss_delta_mib"),
        ("json200k", "last_byte_s"),
        ("dashboard", "step_p50_ms"),
        ("fairness", "b_max_ms"),
        ("fairness_in", "b_max_ms"),
        ("many_clients", "seconds"),
        ("jupyter_select1", "p50_ms"),
        ("jupyter_arrow10m", "last_byte_s"),
        ("jupyter_arrow10m", "jupyter_rss_delta_mib"),
        ("jupyter_dashboard", "step_p50_ms"),
        ("busy_kernel", "p99_ms"),
    ):
        if key in runs:
            per_round = {
                who: [None if r.get(metric) is None else round(r[metric], 3) for r in rs]
                for who, rs in runs[key].items()
                if any(metric in r for r in rs)
            }
            out.append(f"- per round, {key} {metric}: {per_round}")
    other = {
        key: round(sum(r.get("other_cpu_s", 0) for rs in by.values() for r in rs), 2)
        for key, by in runs.items()
        if not key.startswith("verify")
    }
    out.append(
        "- CPU seconds used by other processes on the machine during the measured parts "
        f"(summed over rounds and servers; disturbance indicator): {other}."
    )
    errors = [
        f"{key}/{who}: {r['error']}"
        for key, by in runs.items()
        for who, rs in by.items()
        for r in rs
        if "error" in r
    ]
    if errors:
        out += ["", "Errors:", *[f"- {e}" for e in errors]]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
