"""The workloads, as WebSocket clients of a running server (published, ours or echo).

Each coroutine takes the server's port and a `Meter`, narrows the meter to the
measured part where that matters (`meter.begin()` / `meter.end()`), and returns
a dict of numbers. Every wait is bounded: a server that never answers gives
`None` ("none within N s"), never a hang.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.wsclient import Message, WsClient, WsClosed, new_id

HOST = "127.0.0.1"

# ~35 s of CPU on 2 cores: always cancelled or killed.
LONG_SQL = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"
BIG_SQL = "SELECT * FROM big"  # 10M rows x 5 columns, 352.9 MiB as Arrow IPC
JSON_SQL = "SELECT * FROM big WHERE id < 200000"
# Reads every column of `big` once, so that its blocks are in DuckDB's buffer pool
# before memory is measured: the RSS delta is then the result path only.
WARM_SQL = "SELECT count(*), sum(id), sum(x), sum(y), sum(k), max(c) FROM big"
# Small aggregates over the 1M-row table; distinct texts so that no server can
# serve them from a cache or serialise them on a per-SQL lock.
_AGG_TEMPLATES = (
    "SELECT count(*) AS n FROM t1m WHERE k = {j}",
    "SELECT sum(id) AS s, count(*) AS n FROM t1m WHERE k < {j}",
    "SELECT avg(k) AS a, count(*) AS n FROM t1m WHERE id >= {j}",
)
AGG_QUERIES = [t.format(j=j) for j in range(1, 33) for t in _AGG_TEMPLATES]


def machine_busy_cpu() -> float:
    """CPU seconds the whole machine has spent busy (all processes), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Client, server and other processes' CPU and wall time over the measured part."""

    def __init__(self, cpu_of_server: Callable[[], float]) -> None:
        self._server_cpu = cpu_of_server
        self.t0: float | None = None
        self.result: dict[str, float] | None = None

    def begin(self) -> None:
        self.t0 = time.perf_counter()
        self._c0 = time.process_time()
        self._s0 = self._server_cpu()
        self._m0 = machine_busy_cpu()

    def end(self) -> None:
        if self.t0 is None or self.result is not None:
            return
        client = time.process_time() - self._c0
        server = self._server_cpu() - self._s0
        self.result = {
            "wall_s": time.perf_counter() - self.t0,
            "client_cpu_s": client,
            "server_cpu_s": server,
            # CPU used meanwhile by anything else on the machine (e.g. another test run)
            "other_cpu_s": max(0.0, machine_busy_cpu() - self._m0 - client - server),
        }


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


async def _answer(fut: asyncio.Future[Message], timeout: float) -> Message | None:
    try:
        return await asyncio.wait_for(asyncio.shield(fut), timeout)
    except (asyncio.TimeoutError, WsClosed):
        return None


# Options for every client of the server under test (run.py sets `ordered` for Mosaic,
# and `path` for a relayed Jupyter socket).
CLIENT_OPTIONS: dict[str, Any] = {}


async def connect(port: int, **kw: Any) -> WsClient:
    return await asyncio.wait_for(WsClient.connect(HOST, port, **{**CLIENT_OPTIONS, **kw}), 10)


def arrow_value(msg: Message) -> Any:
    """The first value of a small (fully kept) Arrow result."""
    import pyarrow as pa

    table = pa.ipc.open_stream(msg.arrow_ipc).read_all()
    return table.column(0)[0].as_py()


# -- 1. select 1 round trip -------------------------------------------------


async def select1(port: int, meter: Meter, count: int = 1000, echo: bool = False) -> dict:
    """Sequential `select 1` round trips on one socket: latency percentiles."""
    c = await connect(port)
    bad = 0
    lat: list[float] = []

    async def run(n: int, record: bool) -> None:
        nonlocal bad
        for _ in range(n):
            t = time.perf_counter()
            msg = await _answer(c.query("arrow", "select 1", new_id()), 5)
            if msg is None:
                raise RuntimeError("select 1 got no answer within 5 s")
            ok = (msg.type == "arrow" and msg.arrow_complete) or echo
            bad += not ok
            if record:
                lat.append(msg.t_done - t)

    await run(50, False)
    meter.begin()
    await run(count, True)
    meter.end()
    c.close()
    return {"p50_ms": pct(lat, 0.5) * 1e3, "p99_ms": pct(lat, 0.99) * 1e3, "bad": bad}


# -- 2. throughput ----------------------------------------------------------


async def throughput(
    port: int, meter: Meter, sockets: int = 8, depth: int = 16, seconds: float = 4.0
) -> dict:
    """`sockets` connections with `depth` queries in flight each; completions per second."""
    clients = [await connect(port) for _ in range(sockets)]
    state = {"measuring": False, "stop": False, "done": 0, "bad": 0, "lost": 0}

    async def lane(c: WsClient, first: int) -> None:
        j = first
        while not state["stop"]:
            msg = await _answer(c.query("arrow", AGG_QUERIES[j % len(AGG_QUERIES)], new_id()), 30)
            j += sockets * depth
            if state["measuring"]:
                if msg is None:
                    state["lost"] += 1
                elif msg.type == "arrow" and msg.arrow_complete:
                    state["done"] += 1
                else:
                    state["bad"] += 1

    lanes = [
        asyncio.ensure_future(lane(c, i * depth + d))
        for i, c in enumerate(clients)
        for d in range(depth)
    ]
    await asyncio.sleep(1.0)  # warm-up
    state["measuring"] = True
    meter.begin()
    await asyncio.sleep(seconds)
    done = state["done"]
    meter.end()
    state["measuring"] = False
    state["stop"] = True
    await asyncio.wait(lanes, timeout=35)
    for c in clients:
        c.close()
    assert meter.result is not None
    return {
        "qps": done / meter.result["wall_s"],
        "bad": state["bad"],
        "lost": state["lost"],
    }


# -- 3. 10M rows as Arrow ---------------------------------------------------


async def arrow10m(
    port: int, meter: Meter, memory: Any = None, keep: bool = False, rows: int = 10_000_000
) -> dict[str, Any]:
    """One 352.9 MiB Arrow result: first/last byte and (with `memory`) peak server RSS delta.

    `memory` is a sampler with start()/stop() -> peak delta in bytes; with `keep`, the
    whole table is read and checked against `rows` (the data file's size).
    """
    c = await connect(port, keep_bytes=None if keep else 4096)
    warm = await _answer(c.query("arrow", WARM_SQL, new_id()), 60)
    if warm is None or warm.type != "arrow":
        raise RuntimeError(f"warm-up scan failed: {warm}")
    await _answer(c.query("arrow", "select 1", new_id()), 5)
    await asyncio.sleep(0.2)
    if memory is not None:
        memory.start()
    meter.begin()
    t = time.perf_counter()
    msg = await _answer(c.query("arrow", BIG_SQL, new_id()), 180)
    meter.end()
    delta = memory.stop() if memory is not None else None
    c.close()
    if msg is None:
        return {"last_byte_s": None}
    out: dict[str, Any] = {
        "first_byte_s": msg.t_first - t,
        "last_byte_s": msg.t_done - t,
        "message_bytes": msg.size,
        "complete": msg.arrow_complete,
        "rss_delta_mib": None if delta is None else delta / 2**20,
    }
    if keep:
        import pyarrow as pa

        table = pa.ipc.open_stream(msg.arrow_ipc).read_all()
        out["rows"] = table.num_rows
        out["columns"] = table.num_columns
        out["id_sum_ok"] = bool(table.column("id").to_numpy().sum() == rows * (rows - 1) // 2)
    return out


# -- 4. 200k rows as JSON ---------------------------------------------------


async def json200k(port: int, meter: Meter, repeats: int = 3, verify: bool = False) -> dict:
    c = await connect(port, keep_bytes=None if verify else 4096)
    await _answer(c.query("json", JSON_SQL, new_id()), 60)  # warm-up
    times = []
    msg = None
    meter.begin()
    for _ in range(repeats):
        t = time.perf_counter()
        msg = await _answer(c.query("json", JSON_SQL, new_id()), 60)
        if msg is None or msg.type != "json":
            raise RuntimeError(f"JSON query failed: {msg and msg.head[:300]!r}")
        times.append(msg.t_done - t)
    meter.end()
    c.close()
    out: dict[str, Any] = {"last_byte_s": statistics.median(times), "message_bytes": msg.size}
    if verify:
        text = json.loads(msg.head)
        rows = text if isinstance(text, list) else json.loads(text["data"])  # Mosaic: bare rows
        out["rows"] = len(rows)
        # y = sin(id): exact JSON numbers round-trip to the same doubles.
        out["exact_doubles"] = all(r["y"] == math.sin(r["id"]) for r in rows[:20_000])
    return out


# -- 5. select 1 while 2 long queries run -----------------------------------


async def _select1_latencies(c: WsClient, n: int, timeout: float) -> list[float | None]:
    out: list[float | None] = []
    for _ in range(n):
        t = time.perf_counter()
        msg = await _answer(c.query("arrow", "select 1", new_id()), timeout)
        if msg is None or msg.type != "arrow":
            out.append(None)
            break  # a server that starves one select 1 starves the next as well
        out.append(msg.t_done - t)
    return out


async def starvation(port: int, meter: Meter, timeout: float = 5.0) -> dict[str, Any]:
    """Two long queries on a socket, then `select 1` on the same and on another socket."""
    c = await connect(port)
    long_ids = [new_id("long"), new_id("long")]
    longs = [c.query("arrow", LONG_SQL, q) for q in long_ids]
    await asyncio.sleep(0.5)
    meter.begin()
    same = await _select1_latencies(c, 5, timeout)
    try:
        other_c: WsClient | None = await connect(port)
    except (OSError, asyncio.TimeoutError, WsClosed):
        other_c = None
    other = await _select1_latencies(other_c, 5, timeout) if other_c else [None]
    meter.end()
    for q in long_ids:
        c.cancel(q)
    await asyncio.wait(longs, timeout=2)
    c.close()
    if other_c:
        other_c.close()

    def p50(values: list[float | None]) -> float | None:
        return None if None in values else statistics.median(values) * 1e3

    return {"same_socket_ms": p50(same), "other_socket_ms": p50(other)}


# -- 6. small results while a big one streams -------------------------------


async def big_and_small(port: int, meter: Meter, small: int = 20, grace: float = 10.0) -> dict:
    """20 small queries sent on the socket once the 352.9 MiB result starts arriving."""
    started = asyncio.Event()
    c = await connect(port, record_all=True, on_message_start=lambda _c, _b: started.set())
    meter.begin()
    t0 = time.perf_counter()
    big = c.query("arrow", BIG_SQL, "big")
    try:
        await asyncio.wait_for(started.wait(), 120)
    except asyncio.TimeoutError:
        return {"lost": small, "note": "big result never started"}
    t_send = time.perf_counter()
    futs = [c.query("arrow", f"SELECT {i} AS v", f"s{i:02d}") for i in range(small)]
    big_msg = await _answer(big, 180)
    t_big = time.perf_counter()
    await asyncio.wait(futs, timeout=grace)
    meter.end()
    c.close()
    arrived = [f.result() for f in futs if f.done() and not f.exception()]
    wrong = 0
    for i, f in enumerate(futs):
        if f.done() and not f.exception():
            m = f.result()
            try:
                wrong += m.type != "arrow" or arrow_value(m) != i
            except Exception:
                wrong += 1
    order = [int(m.query_id[1:]) for m in sorted(arrived, key=lambda m: m.t_done)]
    inversions = sum(1 for a, b in itertools.pairwise(order) if a > b)
    lat = [m.t_done - t_send for m in arrived]
    return {
        "lost": small - len(arrived),
        "wrong": wrong,
        "inversions": inversions,
        "big_complete": bool(big_msg and big_msg.arrow_complete),
        "big_last_byte_s": (big_msg.t_done - t0) if big_msg else None,
        "small_p50_ms": pct(lat, 0.5) * 1e3 if lat else None,
        "small_max_ms": max(lat) * 1e3 if lat else None,
        "small_after_big_ms": (max(m.t_done for m in arrived) - t_big) * 1e3 if arrived else None,
    }


# -- 7/8. cancel ------------------------------------------------------------


async def _cancel_one(c: WsClient, fut: asyncio.Future[Message], qid: str, timeout: float) -> dict:
    t = time.perf_counter()
    ack = await _answer(c.cancel(qid), timeout)
    term = await _answer(fut, timeout)
    return {
        "ack_ms": (ack.t_done - t) * 1e3 if ack else None,
        "acked_cancelled": bool(ack and ack.obj and ack.obj.get("cancelled")),
        "terminal_ms": (term.t_done - t) * 1e3 if term else None,
        "terminal_type": term.type if term else None,
    }


async def cancel_running(port: int, meter: Meter, n: int = 3, timeout: float = 5.0) -> dict:
    """Cancel a running long query: time to its cancelAck and to its terminal answer."""
    c = await connect(port)
    samples = []
    meter.begin()
    for _ in range(n):
        qid = new_id("long")
        fut = c.query("arrow", LONG_SQL, qid)
        await asyncio.sleep(0.3)
        s = await _cancel_one(c, fut, qid, timeout)
        samples.append(s)
        if s["terminal_ms"] is None:
            break  # no terminal answer: the next ones would not get one either
    meter.end()
    c.close()
    return _cancel_summary(samples)


async def cancel_queued(port: int, meter: Meter, timeout: float = 5.0) -> dict:
    """Two long queries fill a 2-thread pool; cancel a third one that is still queued."""
    c = await connect(port)
    running = [(q, c.query("arrow", LONG_SQL, q)) for q in (new_id("long"), new_id("long"))]
    await asyncio.sleep(0.3)
    qid = new_id("queued")
    fut = c.query("arrow", LONG_SQL, qid)
    await asyncio.sleep(0.2)
    meter.begin()
    queued = await _cancel_one(c, fut, qid, timeout)
    meter.end()
    out = _cancel_summary([queued])
    rest = [await _cancel_one(c, f, q, 2.0) for q, f in running]
    out["running_terminal_ms"] = [
        None if s["terminal_ms"] is None else round(s["terminal_ms"], 2) for s in rest
    ]
    c.close()
    return out


def _cancel_summary(samples: list[dict]) -> dict:
    term = [s["terminal_ms"] for s in samples]
    acks = [s["ack_ms"] for s in samples]
    return {
        "terminal_p50_ms": None if None in term else statistics.median(term),
        "ack_p50_ms": None if None in acks else statistics.median(acks),
        "terminal_types": sorted({str(s["terminal_type"]) for s in samples}),
        "acked_cancelled": all(s["acked_cancelled"] for s in samples),
        "samples": len(samples),
    }


# -- 9. many clients --------------------------------------------------------


async def many_clients(port: int, meter: Meter, clients: int = 500, timeout: float = 30.0) -> dict:
    """`clients` sockets at once, each: connect, one query, close."""
    lat: list[float] = []
    errors: dict[str, int] = {}

    async def one(i: int) -> None:
        t = time.perf_counter()
        c = None
        try:
            c = await WsClient.connect(HOST, port, **CLIENT_OPTIONS)
            msg = await c.query("arrow", f"SELECT {i} AS v", f"c{i}")
            if msg.type != "arrow" or not msg.arrow_complete:
                raise RuntimeError(msg.type)
            lat.append(time.perf_counter() - t)
        finally:
            if c is not None:
                c.close()

    meter.begin()
    results = await asyncio.gather(
        *(asyncio.wait_for(one(i), timeout) for i in range(clients)), return_exceptions=True
    )
    meter.end()
    for r in results:
        if isinstance(r, BaseException):
            key = type(r).__name__
            errors[key] = errors.get(key, 0) + 1
    assert meter.result is not None
    return {
        "seconds": meter.result["wall_s"],
        "failures": sum(errors.values()),
        "errors": errors,
        "p50_ms": pct(lat, 0.5) * 1e3 if lat else None,
        "max_ms": max(lat) * 1e3 if lat else None,
    }


# -- 10. dashboard: a Mosaic cross-filter replay -----------------------------

# `x` runs from 0 to 5M (id * 0.5). A brush of a fifth of that range moves across it;
# on every step each of the 8 other charts re-runs its aggregate under the brush's
# range predicate, as Mosaic's coordinator does (one connector, 8 queries in flight).
_X_MAX = 5_000_000.0
_BRUSH = 0.2 * _X_MAX
DASHBOARD_CHARTS = (
    "SELECT floor((y + 1) / 0.05)::INTEGER AS bin, count(*) AS n FROM big WHERE {p} GROUP BY bin",
    "SELECT k // 25 AS bin, count(*) AS n FROM big WHERE {p} GROUP BY bin",
    "SELECT c, count(*) AS n FROM big WHERE {p} GROUP BY c",
    "SELECT count(*) AS n FROM big WHERE {p}",
    "SELECT floor((y + 1) * 10)::INTEGER AS by, k // 100 AS bk, count(*) AS n "
    "FROM big WHERE {p} GROUP BY ALL",
    "SELECT c, avg(y) AS mean_y, count(*) AS n FROM big WHERE {p} GROUP BY c",
    "SELECT min(y) AS lo, max(y) AS hi, sum(k) AS total FROM big WHERE {p}",
    "SELECT k, count(*) AS n FROM big WHERE {p} GROUP BY k ORDER BY n DESC, k LIMIT 10",
)


def dashboard_step(step: int, steps: int) -> list[str]:
    """The 8 queries of brush step `step` (distinct texts on every step: nothing cached)."""
    lo = (_X_MAX - _BRUSH) * step / max(1, steps - 1)
    predicate = f"x BETWEEN {lo:.1f} AND {lo + _BRUSH:.1f}"
    return [chart.format(p=predicate) for chart in DASHBOARD_CHARTS]


async def dashboard(port: int, meter: Meter, steps: int = 30) -> dict[str, Any]:
    """Per brush step, 8 aggregates sent at once on one socket; time until all 8 answered."""
    c = await connect(port)
    for sql in dashboard_step(steps // 2, steps):  # warm-up: DuckDB's buffer pool holds `big`
        msg = await _answer(c.query("arrow", sql, new_id()), 60)
        if msg is None or msg.type != "arrow":
            raise RuntimeError(f"dashboard warm-up failed: {msg and msg.head[:300]!r}")
    per_step: list[float] = []
    bad = 0
    meter.begin()
    for step in range(steps):
        t = time.perf_counter()
        futs = [c.query("arrow", sql, new_id()) for sql in dashboard_step(step, steps)]
        answers = [await _answer(f, 60) for f in futs]
        if any(a is None for a in answers):
            raise RuntimeError(f"dashboard step {step}: no answer within 60 s")
        per_step.append(max(a.t_done for a in answers if a) - t)
        bad += sum(not (a and a.type == "arrow" and a.arrow_complete) for a in answers)
    meter.end()
    c.close()
    return {
        "step_p50_ms": statistics.median(per_step) * 1e3,
        "step_max_ms": max(per_step) * 1e3,
        "total_s": sum(per_step),
        "bad": bad,
    }


# -- 11. fairness: one client's 2 MB SQL text against another's select 1 -----

# `select 1+1+...+1`, 2 MB: DuckDB's parser gives up on it (expression depth > 1000),
# but only after reading it all. IN_LIST_SQL is a 2 MB statement that is valid.
FAIR_PLUS_SQL = "select 1" + "+1" * 1_000_000
FAIR_IN_SQL = (
    "select count(*) AS n from range(10) where range in (" + ",".join(["1"] * 1_000_000) + ")"
)


async def fairness(port: int, meter: Meter, sql: str = FAIR_PLUS_SQL) -> dict[str, Any]:
    """Client B's sequential `select 1` latencies while client A's 2 MB statement is in flight."""
    a = await connect(port)
    b = await connect(port)
    for _ in range(20):  # warm-up, and B's latency when nothing else runs
        await _answer(b.query("arrow", "select 1", new_id()), 5)
    idle = []
    for _ in range(50):
        t = time.perf_counter()
        msg = await _answer(b.query("arrow", "select 1", new_id()), 5)
        if msg is None:
            raise RuntimeError("select 1 got no answer within 5 s")
        idle.append(msg.t_done - t)
    meter.begin()
    t_a = time.perf_counter()
    big = a.query("arrow", sql, new_id("big"))
    during: list[float] = []
    deadline = t_a + 60
    while not big.done() and time.perf_counter() < deadline:
        t = time.perf_counter()
        msg = await _answer(b.query("arrow", "select 1", new_id()), 60)
        if msg is None:
            break
        during.append(msg.t_done - t)
    big_msg = await _answer(big, max(0.1, deadline - time.perf_counter()))
    meter.end()
    refused = big.done() and big.exception() is not None  # e.g. closed: message too big
    a.close()
    b.close()
    return {
        "b_max_ms": max(during) * 1e3 if during else None,
        "b_p50_ms": pct(during, 0.5) * 1e3 if during else None,
        "b_idle_p50_ms": pct(idle, 0.5) * 1e3,
        "b_queries": len(during),
        "a_answer_s": (big_msg.t_done - t_a) if big_msg else None,
        "a_answer_type": big_msg.type if big_msg else ("socket closed" if refused else None),
    }


# -- 12. busy kernel: select 1 while a notebook cell runs pure-Python code ---


async def busy_kernel(port: int, meter: Meter, door: Any, seconds: float = 6.0) -> dict[str, Any]:
    """`select 1` round trips while the kernel's main thread runs a CPU-bound cell.

    `door` is a jupyter_door.JupyterDoor; the cell runs for `seconds`, and queries are
    sent from 0.3 s after it started until 0.3 s before it ends.
    """
    from benchmarks.jupyter_door import BUSY_CELL

    c = await connect(port)
    for _ in range(20):
        await _answer(c.query("arrow", "select 1", new_id()), 5)
    msg_id = door.start_cell(BUSY_CELL.format(seconds=seconds))
    t_cell = time.perf_counter()
    await asyncio.sleep(0.3)
    lat: list[float] = []
    meter.begin()
    while time.perf_counter() - t_cell < seconds - 0.3:
        t = time.perf_counter()
        msg = await _answer(c.query("arrow", "select 1", new_id()), 10)
        if msg is None or msg.type != "arrow":
            raise RuntimeError("select 1 got no answer within 10 s while the kernel was busy")
        lat.append(msg.t_done - t)
    meter.end()
    c.close()
    door.wait_cell(msg_id, timeout=seconds + 60)
    return {
        "p50_ms": pct(lat, 0.5) * 1e3,
        "p99_ms": pct(lat, 0.99) * 1e3,
        "max_ms": max(lat) * 1e3,
        "queries": len(lat),
    }
