"""Network attacks on a real server with a token: memory before auth, socket floods, readers
that stop reading (issue 28 items 4, 5, 6). Loopback only, bounded in count and time.

    python benchmarks/stress/fuzz_net.py --minutes 2

Attackers, all at once against one `sqlrooms-server --auth-token T --max-connections 50`:
- oversize: 3 tokenless sockets announce a 400 MB message (a binary frame, or text fragments)
  and stream up to 16 MB of it, again and again;
- flood: 150 tokenless sockets opened, held 2 s, closed, again and again;
- stalled: 10 subscribers that never read (4 KiB receive buffers) while a token holder
  publishes 40 notifies of 900 KB, again and again.
Probes hold the token: one presents it at the upgrade and one by its first message, each
running `SELECT 1` every 0.5 s. A probe without an answer in 10 s is a hang; any probe
refused is a lock-out. The server's RSS is sampled every second.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a file

from benchmarks.peers import WORK
from benchmarks.procs import free_port, proc_status

TOKEN = "fuzz-net-token"
MB = 1 << 20
NOTIFIES = 40  # of 900 KB each, per round: 36 MB, over the 16 MiB bound


def frame(opcode: int, payload: bytes, *, fin: bool = True, length: int | None = None) -> bytes:
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        head = struct.pack("!BB", first, 0x80 | size)
    elif size <= 0xFFFF:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    mask = b"\0\0\0\0"  # a zero mask: the payload goes as it is
    return head + mask + payload


async def upgrade(
    port: int, rcvbuf: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    if status != 101:
        writer.close()
        raise ConnectionError(f"upgrade answered {status}")
    return reader, writer


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", await reader.readexactly(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await reader.readexactly(size)


async def close_code(reader: asyncio.StreamReader, timeout: float) -> int:
    """The server's close code; 0 for a socket that ended without one, -1 if still open."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                opcode, payload = await read_frame(reader)
                if opcode == 0x8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0
    except TimeoutError:
        return -1
    except (asyncio.IncompleteReadError, ConnectionError):
        return 0


class Stats:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.hangs: list[str] = []
        self.lockouts: list[str] = []
        self.latencies: list[float] = []

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


async def oversize(port: int, n: int, stats: Stats, end: float) -> None:
    chunk = b"\0" * MB
    while time.monotonic() < end:
        try:
            reader, writer = await upgrade(port)
        except (ConnectionError, OSError, TimeoutError):
            await asyncio.sleep(0.2)
            continue
        if n % 2:
            writer.write(frame(0x2, b"", length=400 * MB))
        else:
            writer.write(frame(0x1, b'{"type":"auth","token":"', fin=False))
            writer.write(frame(0x0, b"", fin=False, length=400 * MB))
        try:
            for _ in range(16):
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), 10)
        except (ConnectionError, OSError, TimeoutError):
            pass
        stats.add(f"oversize close {await close_code(reader, 10)}")
        writer.close()


async def flood(port: int, stats: Stats, end: float) -> None:
    while time.monotonic() < end:
        held = []
        for _ in range(150):
            try:
                held.append(await upgrade(port))
            except (ConnectionError, OSError, TimeoutError) as exc:
                stats.add(f"flood refused {type(exc).__name__}")
        stats.add("flood sockets", len(held))
        await asyncio.sleep(2)
        codes = await asyncio.gather(*(close_code(r, 0.05) for r, _ in held))
        stats.add("flood evicted (1013)", sum(code == 1013 for code in codes))
        for _, writer in held:
            writer.close()


async def stalled(port: int, stats: Stats, end: float) -> None:
    url = f"ws://127.0.0.1:{port}/?token={TOKEN}"
    payload = "z" * 900_000
    while time.monotonic() < end:
        subscribers = []
        for _ in range(10):
            reader, writer = await upgrade(port, rcvbuf=4096)
            auth = json.dumps({"type": "auth", "token": TOKEN}).encode()
            writer.write(frame(0x1, auth))
            writer.write(frame(0x1, json.dumps({"type": "subscribe", "channel": "c"}).encode()))
            await read_frame(reader)  # authAck
            await read_frame(reader)  # subscribed
            subscribers.append((reader, writer))
        async with connect(url, max_size=None) as publisher:
            for _ in range(NOTIFIES):
                await publisher.send(
                    json.dumps({"type": "notify", "channel": "c", "payload": payload})
                )
                await publisher.recv()
                await publisher.recv()
        stats.add("stalled notifies", NOTIFIES)
        codes = await asyncio.gather(*(close_code(r, 15) for r, _ in subscribers))
        for code in codes:
            stats.add(f"stalled close {code}")
        for _, writer in subscribers:
            writer.close()


async def probe(port: int, by_message: bool, stats: Stats, end: float) -> None:
    url = f"ws://127.0.0.1:{port}/" + ("" if by_message else f"?token={TOKEN}")
    name = "first-message probe" if by_message else "upgrade probe"
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            async with asyncio.timeout(10), connect(url, open_timeout=10) as ws:
                if by_message:
                    await ws.send(json.dumps({"type": "auth", "token": TOKEN}))
                    assert json.loads(await ws.recv()) == {"type": "authAck"}
                await ws.send(json.dumps({"type": "json", "sql": "SELECT 1 AS ok", "queryId": "p"}))
                assert json.loads(await ws.recv())["queryId"] == "p"
            stats.latencies.append(time.monotonic() - started)
            stats.add(f"{name} answered")
        except TimeoutError:
            stats.hangs.append(f"{name}: no answer in 10 s")
        except (InvalidStatus, ConnectionClosed, AssertionError, OSError) as exc:
            stats.lockouts.append(f"{name}: {type(exc).__name__} {exc}")
        await asyncio.sleep(0.5)


async def main_async(args: argparse.Namespace) -> int:
    port = free_port()
    work = WORK
    work.mkdir(exist_ok=True)
    log_path = work / f"fuzz-net-{port}.log"
    command = [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(port), "--extensions", ""]
    command += ["--auth-token-file", str(work / "fuzz-net-token"), "--max-connections", "50"]
    (work / "fuzz-net-token").write_text(TOKEN + "\n")
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            async with connect(f"ws://127.0.0.1:{port}/?token={TOKEN}"):
                break
        except OSError:
            await asyncio.sleep(0.1)
    baseline = proc_status(server.pid, "VmRSS")
    stats = Stats()
    start = time.monotonic()
    end = start + args.minutes * 60
    rss: list[tuple[float, int]] = []

    async def sample() -> None:
        while time.monotonic() < end and server.poll() is None:
            rss.append((time.monotonic() - start, proc_status(server.pid, "VmRSS")))
            await asyncio.sleep(1)

    await asyncio.gather(
        *(oversize(port, n, stats, end) for n in range(3)),
        flood(port, stats, end),
        stalled(port, stats, end),
        probe(port, False, stats, end),
        probe(port, True, stats, end),
        sample(),
    )
    crashed = server.poll() is not None
    server.terminate()
    code = server.wait(30)
    peak = max(b for _, b in rss)
    latencies = sorted(stats.latencies) or [0.0]
    print(f"minutes {args.minutes}; server log {log_path}")
    print(json.dumps(dict(sorted(stats.counts.items())), indent=1))
    p50, worst = latencies[len(latencies) // 2] * 1000, latencies[-1] * 1000
    print(
        f"probes: {len(stats.latencies)} answered, p50 {p50:.0f} ms, max {worst:.0f} ms; "
        f"lock-outs {len(stats.lockouts)}; hangs {len(stats.hangs)}"
    )
    for problem in (stats.lockouts + stats.hangs)[:10]:
        print("  ", problem)
    print(
        f"RSS MiB: baseline {baseline / MB:.0f}, peak {peak / MB:.0f}, "
        f"last {rss[-1][1] / MB:.0f}; crash: {crashed}; exit code after SIGTERM: {code}"
    )
    print(
        "RSS over time:",
        " ".join(f"{t:.0f}s={b / MB:.0f}" for t, b in rss[:: max(1, len(rss) // 30)]),
    )
    return int(crashed or bool(stats.hangs) or bool(stats.lockouts) or code != 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=2)
    parser.add_argument("--smoke", action="store_true", help="3 s: that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.minutes = 0.05
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
