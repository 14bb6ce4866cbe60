"""In-process floors: what the same work costs with DuckDB in the calling process.

Run by run.py in a fresh subprocess per measurement (so that memory is measured
from a clean process), one workload at a time; prints one JSON object.

    python floors.py WORKLOAD --db PATH [--seconds S] [--count N]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks.workloads import AGG_QUERIES, BIG_SQL, JSON_SQL, WARM_SQL, dashboard_step


class CountingSink:
    """File-like target for the IPC writer that only counts bytes."""

    closed = False

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: Any) -> int:
        n = len(data)
        self.size += n
        return n

    def flush(self) -> None:
        pass


def to_ipc(relation: duckdb.DuckDBPyRelation, batch_rows: int = 65_536) -> int:
    """Stream a relation's record batches through an IPC writer; returns the IPC size."""
    reader = relation.to_arrow_reader(batch_rows)
    sink = CountingSink()
    with pa.ipc.new_stream(sink, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
    return sink.size


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def vm(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def select1(con: duckdb.DuckDBPyConnection, count: int) -> dict[str, Any]:
    for _ in range(50):
        to_ipc(con.sql("select 1"))
    c0 = cpu()
    lat = []
    for _ in range(count):
        t = time.perf_counter()
        to_ipc(con.sql("select 1"))
        lat.append(time.perf_counter() - t)
    lat.sort()
    return {
        "p50_ms": lat[len(lat) // 2] * 1e3,
        "p99_ms": lat[int(len(lat) * 0.99)] * 1e3,
        "cpu_s": cpu() - c0,
    }


def throughput(con: duckdb.DuckDBPyConnection, seconds: float) -> dict[str, Any]:
    """Small aggregates on N threads, each with its own cursor; best of 2 and 8 threads."""
    best: dict[str, Any] = {}
    for threads in (2, 8):
        stop = threading.Event()
        measuring = threading.Event()
        counts = [0] * threads

        def worker(
            i: int, n: int, stop: threading.Event, measuring: threading.Event, counts: list[int]
        ) -> None:
            cur = con.cursor()
            j = i
            while not stop.is_set():
                to_ipc(cur.sql(AGG_QUERIES[j % len(AGG_QUERIES)]))
                j += n
                if measuring.is_set():
                    counts[i] += 1

        pool = [
            threading.Thread(target=worker, args=(i, threads, stop, measuring, counts))
            for i in range(threads)
        ]
        for t in pool:
            t.start()
        time.sleep(0.5)
        c0, t0 = cpu(), time.perf_counter()
        measuring.set()
        time.sleep(seconds)
        done, t1, c1 = sum(counts), time.perf_counter(), cpu()
        stop.set()
        for t in pool:
            t.join()
        qps = done / (t1 - t0)
        if qps > best.get("qps", 0):
            best = {"qps": qps, "threads": threads, "cpu_s": c1 - c0, "seconds": t1 - t0}
    return best


def arrow10m(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    con.execute(WARM_SQL).fetchall()
    to_ipc(con.sql("select 1"))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = vm("VmRSS")
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            peak[0] = max(peak[0], vm("VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    c0, t0 = cpu(), time.perf_counter()
    size = to_ipc(con.sql(BIG_SQL))
    t1, c1 = time.perf_counter(), cpu()
    stop.set()
    sampler.join()
    peak_rss = max(peak[0], vm("VmHWM"))
    return {
        "last_byte_s": t1 - t0,
        "ipc_bytes": size,
        "rss_delta_mib": (peak_rss - base) / 2**20,
        "cpu_s": c1 - c0,
    }


def _json_sql_text(con: duckdb.DuckDBPyConnection) -> bytes:
    """DuckDB's to_json per row into an Arrow column, joined by Arrow (exact, in order)."""
    table = con.sql(f"SELECT to_json(t) AS j FROM ({JSON_SQL}) t").to_arrow_table()
    values = table.column(0).combine_chunks()
    offsets = pa.array([0, len(values)], pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, values), ",")[0]
    return b"[" + joined.as_buffer().to_pybytes() + b"]"


def _json_string_agg(con: duckdb.DuckDBPyConnection) -> bytes:
    """One ordered string_agg of to_json rows, all inside DuckDB."""
    sql = (
        f"SELECT '[' || string_agg(to_json(t)::VARCHAR, ',' ORDER BY id) || ']' FROM ({JSON_SQL}) t"
    )
    return con.execute(sql).fetchall()[0][0].encode()


def _json_copy(con: duckdb.DuckDBPyConnection) -> bytes:
    """COPY ... (FORMAT json) to a RAM file, newline-delimited rows turned into an array."""
    path = "/dev/shm/sqlrooms-bench-floor.json"
    con.execute(f"COPY ({JSON_SQL}) TO '{path}' (FORMAT json)")
    with open(path, "rb") as f:
        data = f.read()
    return b"[" + data.rstrip(b"\n").replace(b"\n", b",") + b"]"


def json200k(con: duckdb.DuckDBPyConnection, repeats: int) -> dict[str, Any]:
    """The fastest of three exact in-process ways to get the rows as a JSON array text."""
    results = {}
    for fn in (_json_sql_text, _json_string_agg, _json_copy):
        fn(con)  # warm-up
        times = []
        c0 = cpu()
        for _ in range(repeats):
            t = time.perf_counter()
            data = fn(con)
            times.append(time.perf_counter() - t)
        rows = json.loads(data)
        assert len(rows) == 200_000 and rows[1]["id"] == 1, "wrong JSON floor result"
        results[fn.__name__.lstrip("_")] = (
            statistics.median(times),
            (cpu() - c0) / repeats,
            len(data),
        )
    name, (seconds, cpu_s, size) = min(results.items(), key=lambda kv: kv[1][0])
    return {
        "last_byte_s": seconds,
        "method": name,
        "cpu_s": cpu_s,
        "json_bytes": size,
        "all_s": {k: round(v[0], 4) for k, v in results.items()},
    }


def dashboard(con: duckdb.DuckDBPyConnection, steps: int) -> dict[str, Any]:
    """The dashboard's 8 queries per brush step on 8 threads, each with its own cursor."""
    local = threading.local()

    def one(sql: str) -> int:
        if not hasattr(local, "cursor"):
            local.cursor = con.cursor()
        return to_ipc(local.cursor.sql(sql))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, dashboard_step(steps // 2, steps)))  # warm-up
        per_step = []
        c0 = cpu()
        for step in range(steps):
            t = time.perf_counter()
            list(pool.map(one, dashboard_step(step, steps)))
            per_step.append(time.perf_counter() - t)
        cpu_s = cpu() - c0
    return {
        "step_p50_ms": statistics.median(per_step) * 1e3,
        "step_max_ms": max(per_step) * 1e3,
        "total_s": sum(per_step),
        "cpu_s": cpu_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "workload", choices=["select1", "throughput", "arrow10m", "json200k", "dashboard"]
    )
    parser.add_argument("--db", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    con = duckdb.connect(args.db, read_only=True)
    if args.workload == "select1":
        out = select1(con, args.count)
    elif args.workload == "throughput":
        out = throughput(con, args.seconds)
    elif args.workload == "arrow10m":
        out = arrow10m(con)
    elif args.workload == "dashboard":
        out = dashboard(con, args.count)
    else:
        out = json200k(con, args.count)
    out["duckdb"] = duckdb.__version__
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
