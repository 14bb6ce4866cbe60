"""Soak a real server with many mixed clients: lost or duplicated replies, latency, RSS.

    python benchmarks/stress/soak.py --clients 200 --minutes 10

Each client loops over random operations on its socket: a small query whose answer carries its
own value, a big Arrow result (300k rows), a slow query cancelled mid-way, subscribe + notify,
an Arrow upload, a CRDT update (rooms are on), a slow reader (waits before reading) and an
abrupt disconnect (TCP abort, then a new socket). Every queryId must get exactly one terminal
answer (lost = none within 60 s, duplicated = a second one). Reports p50/p99 of the small
queries per minute and the server's RSS over time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
from loro import ExportMode, LoroDoc
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks.peers import WORK
from benchmarks.procs import free_port, proc_status

TERMINAL = {"arrow", "json", "ok", "error", "uploadAck"}


def upload_frame(name: str, query_id: str) -> bytes:
    sink = io.BytesIO()
    table = pa.table({"v": list(range(10_000))})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    header = json.dumps({"type": "uploadArrow", "tableName": name, "queryId": query_id}).encode()
    return len(header).to_bytes(4, "big") + header + sink.getvalue()


class Totals:
    def __init__(self) -> None:
        self.sent = 0
        self.answered = 0
        self.lost: list[str] = []
        self.duplicated: list[str] = []
        self.wrong: list[str] = []
        self.latency: dict[int, list[float]] = {}
        self.ops: dict[str, int] = {}


class Socket:
    """One connection: counts terminal answers per queryId."""

    def __init__(self, ws: ClientConnection, totals: Totals) -> None:
        self.ws = ws
        self.totals = totals
        self.answers: dict[str, list[dict]] = {}
        self.pending: dict[str, asyncio.Future[dict]] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    n = int.from_bytes(frame[:4], "big")
                    try:
                        message = json.loads(frame[4 : 4 + n])
                    except ValueError:
                        continue  # a relayed CRDT update
                else:
                    message = json.loads(frame)
                query_id = message.get("queryId")
                if message.get("type") not in TERMINAL or query_id is None:
                    continue
                seen = self.answers.setdefault(query_id, [])
                seen.append(message)
                if len(seen) > 1:
                    self.totals.duplicated.append(f"{query_id}: {seen}")
                future = self.pending.pop(query_id, None)
                if future is not None and not future.done():
                    future.set_result(message)
        except ConnectionClosed:
            pass

    async def ask(self, message: dict | bytes, query_id: str, timeout: float = 60) -> dict | None:
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self.pending[query_id] = future
        self.totals.sent += 1
        await self.ws.send(message if isinstance(message, bytes) else json.dumps(message))
        try:
            answer = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.totals.lost.append(query_id)
            return None
        self.totals.answered += 1
        return answer


async def client(n: int, url: str, totals: Totals, start: float, end: float) -> None:
    rng = random.Random(n)
    doc = LoroDoc()
    seq = 0
    while time.monotonic() < end:
        try:
            async with connect(url, max_size=None, open_timeout=30) as ws:
                sock = Socket(ws, totals)
                if n % 4 == 0:
                    await ws.send(json.dumps({"type": "crdt-join", "roomId": f"room{n % 10}"}))
                while time.monotonic() < end:
                    seq += 1
                    qid = f"c{n}-{seq}"
                    op = rng.choice(
                        ["small"] * 6
                        + ["big", "cancel", "notify", "upload", "slow", "abort"]
                        + (["crdt"] if n % 4 == 0 else [])
                    )
                    totals.ops[op] = totals.ops.get(op, 0) + 1
                    if op == "small":
                        value = rng.randrange(1 << 30)
                        t0 = time.monotonic()
                        sql = f"SELECT {value} AS v"
                        answer = await sock.ask({"type": "json", "sql": sql, "queryId": qid}, qid)
                        if answer is not None:
                            minute = int((t0 - start) // 60)
                            totals.latency.setdefault(minute, []).append(time.monotonic() - t0)
                            if json.loads(answer["data"]) != [{"v": value}]:
                                totals.wrong.append(f"{qid}: {answer}")
                    elif op == "big":
                        sql = "SELECT * FROM range(300000)"
                        await sock.ask({"type": "arrow", "sql": sql, "queryId": qid}, qid)
                    elif op == "cancel":
                        sql = "SELECT count(*) FROM range(1000000000)"
                        task = asyncio.ensure_future(
                            sock.ask({"type": "arrow", "sql": sql, "queryId": qid}, qid)
                        )
                        await asyncio.sleep(rng.random() * 0.2)
                        await ws.send(json.dumps({"type": "cancel", "queryId": qid}))
                        await task
                    elif op == "notify":
                        await ws.send(json.dumps({"type": "subscribe", "channel": f"ch{n % 7}"}))
                        await ws.send(
                            json.dumps({"type": "notify", "channel": f"ch{n % 7}", "payload": n})
                        )
                    elif op == "upload":
                        await sock.ask(upload_frame(f"up{n}", qid), qid)
                    elif op == "crdt":
                        before = doc.oplog_vv
                        doc.get_map("m").insert(str(seq), n)
                        doc.commit()
                        await ws.send(doc.export(ExportMode.Updates(before)))
                    elif op == "slow":
                        sock.reader.cancel()  # stop reading for a while: a big answer waits
                        await ws.send(
                            json.dumps(
                                {
                                    "type": "arrow",
                                    "sql": "SELECT * FROM range(2000000)",
                                    "queryId": qid,
                                }
                            )
                        )
                        totals.sent += 1
                        await asyncio.sleep(2)
                        sock.reader = asyncio.ensure_future(sock._read())
                        future = asyncio.get_running_loop().create_future()
                        sock.pending[qid] = future
                        try:
                            await asyncio.wait_for(future, 60)
                            totals.answered += 1
                        except TimeoutError:
                            totals.lost.append(qid)
                    else:  # abort: in-flight query, then the TCP connection just vanishes
                        await ws.send(
                            json.dumps(
                                {
                                    "type": "arrow",
                                    "sql": "SELECT * FROM range(1000000)",
                                    "queryId": qid,
                                }
                            )
                        )
                        ws.transport.abort()
                        break
                    await asyncio.sleep(rng.random() * 0.5)
                sock.reader.cancel()
        except (ConnectionClosed, OSError) as exc:
            totals.lost.append(f"client {n} connection: {type(exc).__name__} {exc}")
            await asyncio.sleep(1)


async def main_async(args: argparse.Namespace) -> int:
    port = free_port()
    work = WORK
    work.mkdir(exist_ok=True)
    log = open(work / f"soak-{port}.log", "wb")  # noqa: SIM115
    command = [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(port), "--extensions", ""]
    command += ["--sync", "--db-path", str(work / f"soak-{port}.duckdb")]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"ws://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            async with connect(url):
                break
        except OSError:
            await asyncio.sleep(0.1)
    totals = Totals()
    start = time.monotonic()
    end = start + args.minutes * 60
    rss: list[tuple[float, int]] = []

    async def sample() -> None:
        while time.monotonic() < end + 5 and server.poll() is None:
            rss.append((time.monotonic() - start, proc_status(server.pid, "VmRSS")))
            await asyncio.sleep(args.sample_seconds)

    await asyncio.gather(
        *(client(n, url, totals, start, end) for n in range(args.clients)), sample()
    )
    crashed = server.poll() is not None
    server.terminate()
    code = server.wait(60)
    print(f"clients {args.clients}, minutes {args.minutes}; ops {dict(sorted(totals.ops.items()))}")
    print(f"queryIds sent {totals.sent}, answered {totals.answered}")
    print(
        f"lost {len(totals.lost)}, duplicated {len(totals.duplicated)}, wrong {len(totals.wrong)}"
    )
    for line in (totals.lost + totals.duplicated + totals.wrong)[:10]:
        print("  ", line[:300])
    print("minute | small queries | p50 ms | p99 ms")
    for minute, values in sorted(totals.latency.items()):
        q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        print(f"{minute} | {len(values)} | {q[49] * 1000:.1f} | {q[98] * 1000:.1f}")
    print("RSS (MiB):", " ".join(f"{t:.0f}s={b / 2**20:.0f}" for t, b in rss))
    print(f"crash: {crashed}; exit code after SIGTERM: {code}")
    return int(crashed or bool(totals.lost) or bool(totals.duplicated) or bool(totals.wrong))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--sample-seconds", type=float, default=30)
    parser.add_argument("--smoke", action="store_true", help="3 s, 4 clients: that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.clients, args.sample_seconds = 0.05, 4, 1
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
