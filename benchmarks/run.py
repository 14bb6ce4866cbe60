#!/usr/bin/env python
"""Benchmark this project's server against the published sqlrooms-server 0.1.2 and floors.

    python benchmarks/run.py [--rounds N] [--quick] [--only W1,W2] [--write FILE]

Each workload runs INTERLEAVED over rounds (published, ours, floor, rotated every
round), each run on a freshly started server, one thing at a time (the machine
has 2 cores). Medians over rounds are reported. See README.md.
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
VENV = HERE / ".venv-published"
PUBLISHED_VERSION = "0.1.2"
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
    name: str  # published | ours | echo
    db: Path | None
    log: Path
    extra: tuple[str, ...] = ()
    tree: Path = REPO  # ours: the checkout whose package `-m` imports (ab.py runs others)
    proc: subprocess.Popen | None = None
    port: int = 0

    def argv(self, port: int) -> list[str]:
        if self.name == "published":
            return [
                str(VENV / "bin" / "sqlrooms-server"),
                "--db-path",
                str(self.db),
                "--port",
                str(port),
                "--extensions",
                ",",  # an empty list: no httpfs download attempt (offline)
            ]
        if self.name == "ours":
            return [
                sys.executable,
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
        return [sys.executable, str(HERE / "echo_server.py"), str(port)]

    def start(self) -> None:
        self.port = free_port()
        with open(self.log, "ab") as log:
            log.write(f"\n==== {time.ctime()} {self.argv(self.port)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(self.port),
                cwd=self.tree,
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
                c = await asyncio.wait_for(WsClient.connect("127.0.0.1", self.port), 2)
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


def ensure_published() -> None:
    if not (VENV / "bin" / "sqlrooms-server").exists():
        print("installing sqlrooms-server into", VENV, flush=True)
        subprocess.run(["bash", str(HERE / "setup_published.sh")], check=True)


def venv_duckdb() -> str:
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import duckdb; print(duckdb.__version__)"],
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


def floor(workload: str, db: Path, python: str = sys.executable, **kw: Any) -> dict[str, Any]:
    argv = [python, str(HERE / "floors.py"), workload, "--db", str(db)]
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


@dataclass
class Results:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    def add(self, key: str, who: str, value: dict[str, Any]) -> None:
        self.runs.setdefault(key, {}).setdefault(who, []).append(value)


def select1_floor(ours_db: Path, count: int) -> dict[str, Any]:
    """In-process select 1 with our DuckDB; the published venv's DuckDB for reference."""
    value = floor("select1", ours_db, count=count)
    pub = floor("select1", WORK / "published.duckdb", str(VENV / "bin" / "python"), count=count)
    value["published_duckdb"] = pub["duckdb"]
    value["published_duckdb_p50_ms"] = pub["p50_ms"]
    return value


def build_specs(args: argparse.Namespace, ours_db: Path) -> list[Spec]:
    q = args.quick

    def mem_run(t: Target, m: W.Meter, r: int) -> Any:
        assert t.proc is not None
        return W.arrow10m(t.port, m, memory=RssSampler(t.proc.pid))

    specs = [
        Spec(
            "select1",
            "select 1 round trip",
            lambda t, m, r: W.select1(t.port, m, 300 if q else 1000, echo=t.name == "echo"),
            lambda r: select1_floor(ours_db, 300 if q else 1000),
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
        ),
        Spec(
            "cancel_queued",
            "cancel a queued query (2 query threads busy) -> its terminal reply",
            lambda t, m, r: W.cancel_queued(t.port, m),
            ours_extra=("--pool-size", "2"),
        ),
        Spec(
            "many_clients",
            "500 clients x 1 query",
            lambda t, m, r: W.many_clients(t.port, m, clients=500),
        ),
    ]
    if args.only:
        wanted = set(args.only.split(","))
        specs = [s for s in specs if s.key in wanted]
    return specs


def run_one(spec: Spec, target: Target, rnd: int) -> dict[str, Any]:
    target.extra = spec.ours_extra if target.name == "ours" else ()
    target.start()
    try:
        meter = W.Meter(target.cpu)
        t0 = time.perf_counter()
        value = asyncio.run(_with_meter(spec.run(target, meter, rnd), meter))
        value["total_s"] = time.perf_counter() - t0
        value.update(meter.result or {})
        return value
    finally:
        target.stop()


async def _with_meter(coro: Any, meter: W.Meter) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(coro, 300)
    finally:
        meter.end()


def verify(targets: dict[str, Target], results: Results) -> None:
    """Correctness of the big results (not timed): full Arrow table and JSON rows."""
    for name in ("published", "ours"):
        t = targets[name]
        for key, coro in (
            ("verify_arrow10m", lambda t=t: W.arrow10m(t.port, W.Meter(t.cpu), keep=True)),
            ("verify_json200k", lambda t=t: W.json200k(t.port, W.Meter(t.cpu), 1, verify=True)),
        ):
            t.extra = ()
            t.start()
            try:
                value = asyncio.run(coro())
            except Exception as exc:
                value = {"error": repr(exc)}
            finally:
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
    import duckdb
    import pyarrow
    import tornado

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
        f"DuckDB {duckdb.__version__}, pyarrow {pyarrow.__version__}, Tornado {tornado.version}",
        "published": f"sqlrooms-server {PUBLISHED_VERSION}, DuckDB {venv_duckdb()} (socketify)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds per workload (3)")
    parser.add_argument("--quick", action="store_true", help="1 round, shorter workloads")
    parser.add_argument("--only", default="", help="comma-separated workload keys")
    parser.add_argument("--no-verify", action="store_true", help="skip the correctness pass")
    parser.add_argument("--write", default="", help="also write the Markdown report here")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)

    WORK.mkdir(exist_ok=True)
    ensure_published()
    pub_db, ours_db = WORK / "published.duckdb", WORK / "ours.duckdb"
    ensure_db(str(VENV / "bin" / "python"), pub_db)
    ensure_db(sys.executable, ours_db)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    targets = {
        "published": Target("published", pub_db, WORK / f"published-{stamp}.log"),
        "ours": Target("ours", ours_db, WORK / f"ours-{stamp}.log"),
        "echo": Target("echo", None, WORK / f"echo-{stamp}.log"),
    }
    info = machine()
    info["command"] = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    info["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    info["load_start"] = loadavg()
    print(json.dumps(info, indent=1), flush=True)
    started = time.perf_counter()
    results = Results()
    for spec in build_specs(args, ours_db):
        print(f"== {spec.key}: {spec.title}", flush=True)
        for rnd in range(rounds):
            order: list[str] = ["published", "ours"] + (["floor"] if spec.floor else [])
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
    if not args.no_verify and not args.only:
        verify(targets, results)
    info["load_end"] = loadavg()
    info["elapsed"] = f"{time.perf_counter() - started:.0f} s"
    raw = WORK / f"results-{stamp}.json"
    raw.write_text(json.dumps({"info": info, "runs": results.runs}, indent=1, default=str))
    report = render(info, results, rounds)
    print(report)
    print(f"raw results: {raw}")
    if args.write:
        Path(args.write).write_text(report)
    return 0


# -- the report ---------------------------------------------------------------


def med(runs: list[dict[str, Any]], key: str) -> Any:
    """Median over rounds; None when any round had no value (e.g. no answer in time)."""
    values = [r.get(key) for r in runs if "error" not in r]
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


def ratio(a: Any, b: Any) -> str:
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    return f"{a / b:.2f}x" if numbers and b else "—"


def yesno(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def render(info: dict[str, str], results: Results, rounds: int) -> str:
    runs = results.runs
    rows: list[list[str]] = []

    def get(key: str, who: str) -> list[dict[str, Any]]:
        return runs.get(key, {}).get(who, [])

    def m3(key: str, field: str) -> tuple[Any, Any, Any]:
        return tuple(med(get(key, w), field) for w in ("published", "ours", "floor"))  # type: ignore[return-value]

    def add(
        key: str,
        label: str,
        values: tuple[Any, Any, Any],
        target: str,
        met: bool | None,
        nd: int = 2,
        none: str = "—",
    ) -> None:
        if key not in runs:
            return
        p, o, fl = values
        cpu = [
            f"{show(med(get(key, 'published'), f))} / {show(med(get(key, 'ours'), f))}"
            for f in ("client_cpu_s", "server_cpu_s")
        ]
        shown = [show(p, nd, none), show(o, nd, none), show(fl, nd)]
        rows.append([label, *shown, ratio(o, p), ratio(o, fl), target, yesno(met), *cpu])

    # 1. select 1
    k = "select1"
    p50p, p50o, inproc = m3(k, "p50_ms")
    p99p, p99o, inproc99 = m3(k, "p99_ms")
    echo, echo99 = med(get(k, "echo"), "p50_ms"), med(get(k, "echo"), "p99_ms")
    fl = None if inproc is None or echo is None else inproc + echo
    fl99 = None if inproc99 is None or echo99 is None else inproc99 + echo99
    met = None
    if None not in (p50o, p50p, fl):
        met = p50o <= 0.25 * p50p and p50o <= 1.5 * fl
    add(k, "`select 1` round trip p50 (ms)", (p50p, p50o, fl), "≤0.25x pub, ≤1.5x floor", met, 3)
    met = None if p99o is None or p50o is None else p99o <= 3 * p50o
    add(k, "`select 1` round trip p99 (ms)", (p99p, p99o, fl99), "p99 ≤ 3x p50", met, 3)

    # 2. throughput
    k = "throughput"
    qp, qo, qf = m3(k, "qps")
    met = None if qo is None or qf is None else qo >= 0.9 * qf
    label = "8 sockets x 16 in flight, small aggregates over 1M rows (q/s)"
    add(k, label, (qp, qo, qf), "≥0.9x floor", met, 0)

    # 3. 10M rows as Arrow
    k = "arrow10m"
    lp, lo, lf = m3(k, "last_byte_s")
    met = None if lo is None or lf is None else lo <= 1.3 * lf
    label = "10M rows x 5 cols as Arrow (352.9 MiB IPC): last byte (s)"
    add(k, label, (lp, lo, lf), "≤1.3x floor", met, 2, "none in 180 s")
    mp, mo, mf = m3(k, "rss_delta_mib")
    ipc = med(get(k, "floor"), "ipc_bytes")
    ipc_mib = ipc / 2**20 if ipc else 352.9
    met = None if mo is None else mo <= 1.3 * ipc_mib
    label = "same: server peak RSS above baseline (MiB)"
    add(k, label, (mp, mo, mf), f"≤1.3x IPC size (≤{1.3 * ipc_mib:.0f})", met, 0)

    # 4. 200k rows as JSON
    k = "json200k"
    jp, jo, jf = m3(k, "last_byte_s")
    met = None if jo is None or jf is None else jo <= 1.5 * jf
    add(k, "200k rows x 5 cols as JSON: last byte (s)", (jp, jo, jf), "≤1.5x floor", met, 3)

    # 5. select 1 during long queries
    k = "starvation"
    for f, where in (("same_socket_ms", "same socket"), ("other_socket_ms", "another socket")):
        sp, so, _ = m3(k, f)
        met = so is not None and so <= 20
        label = f"`select 1` while 2 long queries run, {where} (ms)"
        add(k, label, (sp, so, None), "≤20 ms", met, 1, "none within 5 s")

    # 6. small results while a big one streams
    k = "big_small"

    def losses(who: str) -> str | None:
        rs = [r for r in get(k, who) if "error" not in r]
        if not rs:
            return None
        worst = {f: max(r.get(f) or 0 for r in rs) for f in ("lost", "wrong", "inversions")}
        big = "intact" if all(r.get("big_complete") for r in rs) else "BROKEN"
        return (
            f"{worst['lost']} lost, {worst['wrong']} wrong, {worst['inversions']} out of "
            f"order; big {big}"
        )

    rs_o = get(k, "ours")
    met = bool(rs_o) and all(
        r.get("lost") == 0 and r.get("wrong") == 0 and r.get("big_complete") for r in rs_o
    )
    label = "20 small queries on the socket while 352.9 MiB is sent (worst round)"
    add(k, label, (losses("published"), losses("ours"), None), "none lost or wrong", met)
    sp, so, _ = m3(k, "small_after_big_ms")
    label = "same: last small answer after the big one's last byte (ms)"
    add(k, label, (sp, so, None), "—", None, 1)

    # 7/8. cancel
    for k, what in (("cancel_running", "running"), ("cancel_queued", "queued")):
        cp, co, _ = m3(k, "terminal_p50_ms")
        met = co is not None and co <= 50
        label = f"cancel a {what} query -> its terminal reply, p50 (ms)"
        add(k, label, (cp, co, None), "≤50 ms", met, 1, "none within 5 s")
        ap, ao, _ = m3(k, "ack_p50_ms")
        add(k, f"same ({what}): cancelAck (ms)", (ap, ao, None), "—", None, 1, "none within 5 s")

    # 9. many clients
    k = "many_clients"
    tp, to, _ = m3(k, "seconds")
    fp, fo, _ = m3(k, "failures")
    met = None if to is None or tp is None else (fo == 0 and to <= 0.8 * tp)
    add(k, "500 clients x 1 query: all answered (s)", (tp, to, None), "≤0.8x pub", met)
    add(k, "same: failures", (fp, fo, None), "0", None if fo is None else fo == 0, 0)

    head = [
        "workload",
        f"published {PUBLISHED_VERSION}",
        "ours",
        "floor",
        "ours/published",
        "ours/floor",
        "target",
        "met?",
        "client CPU s (pub / ours)",
        "server CPU s (pub / ours)",
    ]
    lines = [
        f"# Benchmark: sqlrooms_jupyter vs sqlrooms-server {PUBLISHED_VERSION}",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}",
        f"- Python {info['python']}",
        f"- ours: {info['ours']}",
        f"- published: {info['published']}",
        f"- command: `{info['command']}` ({rounds} rounds, interleaved, medians; "
        f"took {info['elapsed']})",
        f"- load average (1/5/15 min): start {info['load_start']}, end {info['load_end']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", *notes(runs)]
    return "\n".join(lines) + "\n"


def notes(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    out = ["Details (medians over rounds unless said otherwise):", ""]

    def g(key: str, who: str) -> list[dict[str, Any]]:
        return [r for r in runs.get(key, {}).get(who, []) if "error" not in r]

    def ms(rs: list[dict[str, Any]], field: str, nd: int = 3) -> str:
        return show(med(rs, field), nd) + " ms"

    if "select1" in runs:
        fl = g("select1", "floor")
        pub_duckdb = fl[0].get("published_duckdb", "?") if fl else "?"
        out.append(
            "- select 1 floor = in-process DuckDB `select 1` -> Arrow IPC "
            f"({ms(fl, 'p50_ms')} p50 with our DuckDB; {ms(fl, 'published_duckdb_p50_ms')} "
            f"with DuckDB {pub_duckdb}, the published server's) + a bare Tornado WebSocket "
            f"echo through the same client ({ms(g('select1', 'echo'), 'p50_ms')} p50)."
        )
    if "throughput" in runs:
        threads = sorted({r.get("threads") for r in g("throughput", "floor")})
        bad = {
            who: sum(r.get("lost", 0) + r.get("bad", 0) for r in g("throughput", who))
            for who in ("published", "ours")
        }
        out.append(
            "- throughput floor: in-process, N threads each with its own cursor, query -> Arrow "
            f"IPC, best of 2 and 8 threads (best: {threads}). Lost or bad answers: {bad}."
        )
    if "arrow10m" in runs:
        for who in ("published", "ours"):
            rs = g("arrow10m", who)
            out.append(
                f"- 10M Arrow, {who}: first byte after {show(med(rs, 'first_byte_s'))} s, "
                f"message {show(med(rs, 'message_bytes'), 0)} bytes, every round ended with the "
                f"IPC end-of-stream marker: {all(r.get('complete') for r in rs)}."
            )
        fl = g("arrow10m", "floor")
        out.append(f"- 10M Arrow floor IPC size: {show(med(fl, 'ipc_bytes'), 0)} bytes.")
    keep = ("rows", "columns", "id_sum_ok", "exact_doubles", "error", "message_bytes")
    for key in ("verify_arrow10m", "verify_json200k"):
        for who in ("published", "ours"):
            for r in runs.get(key, {}).get(who, []):
                shown = {k: v for k, v in r.items() if k in keep}
                out.append(f"- verification, {key[7:]} {who}: {shown}")
    if "json200k" in runs:
        fl = g("json200k", "floor")
        if fl:
            out.append(
                f"- JSON floor: fastest exact in-process method of {list(fl[0]['all_s'])}: "
                f"{sorted({r['method'] for r in fl})} (per round: {[r['all_s'] for r in fl]})."
            )
    if "big_small" in runs:
        for who in ("published", "ours"):
            rs = g("big_small", who)
            out.append(
                f"- big+small {who}: lost per round {[r.get('lost') for r in rs]}, small answers "
                f"p50 {ms(rs, 'small_p50_ms', 1)} after sending, big last byte "
                f"{show(med(rs, 'big_last_byte_s'))} s."
            )
    for key in ("cancel_running", "cancel_queued"):
        for who in ("published", "ours"):
            rs = g(key, who)
            if not rs:
                continue
            types = sorted({t for r in rs for t in r.get("terminal_types", [])})
            line = (
                f"- {key} {who}: terminal answers {types}, cancelAck said cancelled: "
                f"{all(r.get('acked_cancelled') for r in rs)}"
            )
            if key == "cancel_queued":
                after = [r["running_terminal_ms"] for r in rs]
                line += f"; then cancelling the 2 running ones: {after} ms"
            out.append(line + ".")
    if "many_clients" in runs:
        for who in ("published", "ours"):
            rs = g("many_clients", who)
            out.append(
                f"- 500 clients {who}: per-client p50 {ms(rs, 'p50_ms', 1)}, slowest "
                f"{ms(rs, 'max_ms', 1)}, errors per round {[r.get('errors') for r in rs]}."
            )
    for key, metric in (
        ("select1", "p50_ms"),
        ("throughput", "qps"),
        ("arrow10m", "last_byte_s"),
        ("arrow10m", "rss_delta_mib"),
        ("json200k", "last_byte_s"),
        ("many_clients", "seconds"),
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
