"""Raw-frame fuzzing of a real server: crashes, hangs and RSS over time.

    python benchmarks/stress/fuzz.py --minutes 10 [--clients 4] [--sync]

Several clients send random and mutated frames (text, binary, fragmented, oversized, invalid
UTF-8, truncated Arrow uploads; with --sync also CRDT joins and garbage updates) to one
`sqlrooms-server` on a free loopback port. After every burst each client asks a sentinel query
on the same socket and waits for it; a separate probe client runs `SELECT 1` every second. A
sentinel or probe without an answer in 10 s is a hang; the server process exiting is a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
from loro import ExportMode, LoroDoc
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks.peers import WORK
from benchmarks.procs import free_port, proc_status

TEMPLATES = [
    {"type": "arrow", "sql": "SELECT * FROM range(1000)", "queryId": "a"},
    {"type": "json", "sql": "SELECT 'x' AS s, 1.5 AS d", "queryId": "j"},
    {"type": "exec", "sql": "CREATE OR REPLACE TABLE f AS SELECT 1 AS x", "queryId": "e"},
    {"type": "cancel", "queryId": "a"},
    {"type": "subscribe", "channel": "c"},
    {"type": "notify", "channel": "c", "payload": {"k": [1, 2]}},
    {"type": "auth", "token": "t"},
    {"type": "crdt-join", "roomId": "r"},
]


def upload_frame(rows: int) -> bytes:
    sink = io.BytesIO()
    table = pa.table({"v": list(range(rows))})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    header = json.dumps({"type": "uploadArrow", "tableName": "fz", "queryId": "up"}).encode()
    return len(header).to_bytes(4, "big") + header + sink.getvalue()


def crdt_update(rng: random.Random) -> bytes:
    doc = LoroDoc()
    doc.get_text("t").insert(0, "x" * rng.randint(1, 50))
    doc.commit()
    return doc.export(ExportMode.Snapshot())


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        if op == 0 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 1 and buf:
            del buf[rng.randrange(len(buf)) :]
        elif op == 2:
            buf.insert(rng.randrange(len(buf) + 1), rng.randrange(256))
        else:
            buf += rng.randbytes(rng.randint(1, 16))
    return bytes(buf)


def random_frame(rng: random.Random, sync: bool, max_size: int) -> tuple[str, bytes | str, bool]:
    """(kind, payload, as_text)."""
    kind = rng.choice(
        ["text", "text", "mutated", "mutated", "binary", "upload", "truncated", "utf8", "frag"] * 3
        + ["big"]
        + (["crdt"] * 2 if sync else [])
    )
    template = json.dumps(rng.choice(TEMPLATES)).encode()
    if kind == "text":
        return kind, template.decode(), True
    if kind == "mutated":
        return kind, mutate(template, rng).decode("utf-8", "replace"), True
    if kind == "binary":
        return kind, rng.randbytes(rng.randint(0, 300)), False
    if kind == "upload":
        return kind, upload_frame(rng.randint(1, 5000)), False
    if kind == "truncated":
        frame = upload_frame(rng.randint(1, 5000))
        return kind, frame[: rng.randrange(len(frame))], False
    if kind == "utf8":
        return kind, template[:-2] + b"\xff\xc0" + template[-2:], True
    if kind == "frag":
        return kind, template.decode(), True
    if kind == "big":
        return kind, b"\x00" * (max_size + 1), False
    update = crdt_update(rng)
    return kind, update if rng.random() < 0.5 else mutate(update, rng), False


class Stats:
    def __init__(self) -> None:
        self.frames: dict[str, int] = {}
        self.hangs: list[str] = []
        self.closes: dict[int, int] = {}
        self.probes = 0


async def fuzz_client(n: int, url: str, args: argparse.Namespace, stats: Stats, end: float) -> None:
    rng = random.Random(args.seed + n)
    while time.monotonic() < end:
        try:
            async with connect(url, max_size=None, open_timeout=10) as ws:
                if args.sync:
                    await ws.send(json.dumps({"type": "crdt-join", "roomId": f"r{n}"}))
                while time.monotonic() < end:
                    for _ in range(rng.randint(1, 30)):
                        kind, payload, _ = random_frame(rng, args.sync, args.max_message_size)
                        stats.frames[kind] = stats.frames.get(kind, 0) + 1
                        if kind == "frag":
                            cut = rng.randrange(1, max(2, len(payload)))
                            await ws.send([payload[:cut], payload[cut:]])
                        elif kind == "utf8":
                            await ws.send(payload, text=True)
                        else:
                            await ws.send(payload)
                    sentinel = f"s{n}-{time.monotonic_ns()}"
                    await ws.send(
                        json.dumps({"type": "json", "sql": "SELECT 1", "queryId": sentinel})
                    )
                    try:
                        async with asyncio.timeout(10):
                            while True:
                                frame = await ws.recv()
                                if isinstance(frame, str) and sentinel in frame:
                                    break
                    except TimeoutError:
                        stats.hangs.append(f"client {n}: sentinel unanswered")
                        break
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else -1
            stats.closes[code] = stats.closes.get(code, 0) + 1
        except OSError as exc:
            stats.hangs.append(f"client {n}: cannot connect: {exc}")
            await asyncio.sleep(1)


async def probe(url: str, stats: Stats, end: float) -> None:
    while time.monotonic() < end:
        try:
            async with asyncio.timeout(10), connect(url, open_timeout=10) as ws:
                await ws.send(json.dumps({"type": "json", "sql": "SELECT 1 AS ok", "queryId": "p"}))
                assert json.loads(await ws.recv())["queryId"] == "p"
                stats.probes += 1
        except (TimeoutError, OSError, ConnectionClosed) as exc:
            stats.hangs.append(f"probe: {type(exc).__name__} {exc}")
        await asyncio.sleep(1)


async def main_async(args: argparse.Namespace) -> int:
    port = free_port()
    work = WORK
    work.mkdir(exist_ok=True)
    log = open(work / f"fuzz-{port}.log", "wb")  # noqa: SIM115
    command = [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(port), "--extensions", ""]
    command += ["--max-message-size", str(args.max_message_size)]
    command += ["--sync", "--db-path", str(work / f"fuzz-{port}.duckdb")] if args.sync else []
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"ws://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            async with connect(url):
                break
        except OSError:
            await asyncio.sleep(0.1)
    stats = Stats()
    start = time.monotonic()
    end = start + args.minutes * 60
    rss: list[tuple[float, int]] = []

    async def sample() -> None:
        while time.monotonic() < end and server.poll() is None:
            rss.append((time.monotonic() - start, proc_status(server.pid, "VmRSS")))
            await asyncio.sleep(args.sample_seconds)

    tasks = [fuzz_client(n, url, args, stats, end) for n in range(args.clients)]
    await asyncio.gather(*tasks, probe(url, stats, end), sample())
    crashed = server.poll() is not None
    server.terminate()
    code = server.wait(30)
    print(f"minutes {args.minutes}, clients {args.clients}, sync {args.sync}, seed {args.seed}")
    print(f"frames sent: {sum(stats.frames.values())} {dict(sorted(stats.frames.items()))}")
    print(f"server closes seen by clients: {stats.closes}; probes answered: {stats.probes}")
    print(f"crash: {crashed}; exit code after SIGTERM: {code}; hangs: {len(stats.hangs)}")
    for hang in stats.hangs[:10]:
        print("  hang:", hang)
    print("RSS (MiB) over time:", " ".join(f"{t:.0f}s={b / 2**20:.0f}" for t, b in rss))
    return int(crashed or bool(stats.hangs) or code != 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-message-size", type=int, default=1 << 20)
    parser.add_argument("--sample-seconds", type=float, default=30)
    parser.add_argument("--smoke", action="store_true", help="3 s, 2 clients, --sync: that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.minutes, args.clients, args.sync, args.sample_seconds = 0.05, 2, True, 1
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
