"""A minimal asyncio WebSocket client for load generation (RFC 6455, no extensions).

Why not `websockets`: for a 352 MiB result the load generator must not be the
bottleneck. This client reads into one preallocated buffer (`BufferedProtocol`),
parses frame headers in place and, by default, keeps only the first
`keep_bytes` of each message plus its last 8 bytes (enough to read the queryId
and to check the Arrow IPC end-of-stream marker); payload bytes are counted,
not copied. Client frames use the all-zero masking key, which makes masking a
no-op (servers must accept any key).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_READ_BUFFER = 1 << 20
_ZERO_MASK = b"\x00\x00\x00\x00"
ARROW_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_QUERY_ID = re.compile(rb'"queryId"\s*:\s*"((?:[^"\\]|\\.)*)"')
_TYPE = re.compile(rb'"type"\s*:\s*"([A-Za-z]+)"')
TERMINAL = frozenset({"arrow", "json", "ok", "error"})


class WsClosed(Exception):
    pass


@dataclass
class Message:
    binary: bool
    size: int  # payload bytes of the whole message
    head: bytes  # the first `keep_bytes` (everything with keep_bytes=None)
    tail: bytes  # the last 8 bytes
    t_first: float  # perf_counter when its first frame header arrived
    t_done: float  # perf_counter when its last byte arrived
    type: str = ""
    query_id: str | None = None
    obj: dict[str, Any] | None = None  # parsed text message (small ones only)
    bare_ipc: bool = False  # a Mosaic answer: the message is the IPC stream, no header

    @property
    def arrow_ipc(self) -> memoryview:
        """The Arrow IPC bytes of a whole (kept) arrow message."""
        if self.bare_ipc:
            return memoryview(self.head)
        n = int.from_bytes(self.head[:4], "big")
        return memoryview(self.head)[4 + n :]

    @property
    def arrow_complete(self) -> bool:
        return self.binary and self.tail == ARROW_EOS


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + _ZERO_MASK + payload


class _Proto(asyncio.BufferedProtocol):
    def __init__(self, client: WsClient) -> None:
        self.c = client
        self.buf = bytearray(_READ_BUFFER)
        self.view = memoryview(self.buf)
        self.start = 0
        self.end = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.c._transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view[self.end :]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        try:
            self.c._parse(self)
        except Exception as exc:  # protocol violation: fail every waiter
            self.c._fail(exc)
            if self.c._transport is not None:
                self.c._transport.close()
            return
        if self.start == self.end:
            self.start = self.end = 0
        elif len(self.buf) - self.end < 65536:
            rest = self.end - self.start
            self.buf[:rest] = self.buf[self.start : self.end]
            self.start, self.end = 0, rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.c._fail(WsClosed(str(exc) if exc else "connection closed"))


@dataclass
class WsClient:
    keep_bytes: int | None = 4096
    on_message_start: Callable[[WsClient, bool], None] | None = None
    _transport: asyncio.Transport | None = None
    _handshaken: bool = False
    _open: asyncio.Future[None] | None = None
    # frame state
    _remaining: int = 0
    _opcode: int = 0
    _fin: bool = False
    _ctrl: bytearray = field(default_factory=bytearray)
    # message state
    _msg_binary: bool = False
    _msg_size: int = 0
    _msg_head: bytearray = field(default_factory=bytearray)
    _msg_tail: bytes = b""
    _msg_t0: float = 0.0
    _in_message: bool = False
    # routing
    pending: dict[str, asyncio.Future[Message]] = field(default_factory=dict)
    acks: dict[str, asyncio.Future[Message]] = field(default_factory=dict)
    unrouted: list[Message] = field(default_factory=list)
    received: list[Message] = field(default_factory=list)
    record_all: bool = False
    closed: BaseException | None = None
    # Mosaic's duckdb-server answers in order, without queryIds: a bare Arrow IPC
    # stream, `{}` for exec, `{"error": ...}`, or the JSON rows as the whole text.
    ordered: bool = False

    # -- connecting --------------------------------------------------------

    @classmethod
    async def connect(cls, host: str, port: int, path: str = "/", **kw: Any) -> WsClient:
        client = cls(**kw)
        loop = asyncio.get_running_loop()
        client._open = loop.create_future()
        await loop.create_connection(lambda: _Proto(client), host, port)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert client._transport is not None
        client._transport.write(request.encode())
        await client._open
        return client

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            try:
                self._transport.write(_frame(0x8, (1000).to_bytes(2, "big")))
            finally:
                self._transport.close()

    # -- sending -----------------------------------------------------------

    def send_text(self, text: str) -> None:
        if self.closed is not None or self._transport is None:
            raise WsClosed(str(self.closed))
        self._transport.write(_frame(0x1, text.encode()))

    def send(self, obj: dict[str, Any]) -> None:
        self.send_text(json.dumps(obj, separators=(",", ":")))

    def query(self, kind: str, sql: str, query_id: str) -> asyncio.Future[Message]:
        """Send a query; the future resolves with its terminal message."""
        fut = asyncio.get_running_loop().create_future()
        self.pending[query_id] = fut
        self.send({"type": kind, "sql": sql, "queryId": query_id})
        return fut

    def cancel(self, query_id: str) -> asyncio.Future[Message]:
        """Send a cancel; the future resolves with the cancelAck."""
        fut = asyncio.get_running_loop().create_future()
        self.acks[query_id] = fut
        self.send({"type": "cancel", "queryId": query_id})
        return fut

    # -- receiving ---------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if self.closed is None:
            self.closed = exc
        for fut in (self._open, *self.pending.values(), *self.acks.values()):
            if fut is not None and not fut.done():
                fut.set_exception(WsClosed(str(exc)))
                fut.exception()  # retrieved: nobody may be waiting for it any more
        self.pending.clear()
        self.acks.clear()

    def _parse(self, p: _Proto) -> None:
        buf = p.buf
        if not self._handshaken:
            idx = buf.find(b"\r\n\r\n", p.start, p.end)
            if idx < 0:
                return
            status = bytes(buf[p.start : min(idx, p.start + 200)]).split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                raise WsClosed(f"handshake refused: {status.decode(errors='replace')}")
            p.start = idx + 4
            self._handshaken = True
            assert self._open is not None
            self._open.set_result(None)
        while True:
            avail = p.end - p.start
            if self._remaining:
                if not avail:
                    return
                take = min(self._remaining, avail)
                self._payload(p.view[p.start : p.start + take])
                p.start += take
                self._remaining -= take
                if not self._remaining:
                    self._frame_done()
                continue
            if avail < 2:
                return
            b0, b1 = buf[p.start], buf[p.start + 1]
            n, hl = b1 & 0x7F, 2
            if n == 126:
                hl = 4
                if avail < hl:
                    return
                n = int.from_bytes(buf[p.start + 2 : p.start + 4], "big")
            elif n == 127:
                hl = 10
                if avail < hl:
                    return
                n = int.from_bytes(buf[p.start + 2 : p.start + 10], "big")
            if b1 & 0x80:
                raise WsClosed("masked frame from server")
            p.start += hl
            self._fin = bool(b0 & 0x80)
            self._opcode = b0 & 0x0F
            self._remaining = n
            self._begin_frame()
            if not n:
                self._frame_done()

    def _begin_frame(self) -> None:
        op = self._opcode
        if op >= 0x8:
            self._ctrl = bytearray()
            return
        if op in (0x1, 0x2):
            self._in_message = True
            self._msg_binary = op == 0x2
            self._msg_size = 0
            self._msg_head = bytearray()
            self._msg_tail = b""
            self._msg_t0 = time.perf_counter()
            if self.on_message_start is not None:
                self.on_message_start(self, self._msg_binary)

    def _payload(self, chunk: memoryview) -> None:
        if self._opcode >= 0x8:
            self._ctrl += chunk
            return
        self._msg_size += len(chunk)
        keep = self.keep_bytes
        if keep is None:
            self._msg_head += chunk
        elif len(self._msg_head) < keep:
            self._msg_head += chunk[: keep - len(self._msg_head)]
        if len(chunk) >= 8:
            self._msg_tail = bytes(chunk[-8:])
        else:
            self._msg_tail = (self._msg_tail + bytes(chunk))[-8:]

    def _frame_done(self) -> None:
        op = self._opcode
        if op == 0x9:  # ping -> pong
            if self._transport is not None:
                self._transport.write(_frame(0xA, bytes(self._ctrl)))
            return
        if op == 0x8:
            self._fail(WsClosed(f"closed by server: {bytes(self._ctrl[:2]).hex()}"))
            if self._transport is not None:
                self._transport.close()
            return
        if op == 0xA or not self._fin:
            return
        self._in_message = False
        msg = Message(
            binary=self._msg_binary,
            size=self._msg_size,
            head=bytes(self._msg_head),
            tail=self._msg_tail,
            t_first=self._msg_t0,
            t_done=time.perf_counter(),
        )
        self._route(msg)

    def _route(self, msg: Message) -> None:
        if self.ordered:
            return self._route_in_order(msg)
        head = msg.head
        if msg.binary:
            n = int.from_bytes(head[:4], "big")
            try:
                header = json.loads(head[4 : 4 + n])
                msg.type = header.get("type", "")
                msg.query_id = header.get("queryId")
            except ValueError:
                msg.type = "binary"
        elif msg.size == len(head) and msg.size < 65536:
            msg.obj = json.loads(head)
            msg.type = msg.obj.get("type", "")
            msg.query_id = msg.obj.get("queryId")
        else:  # a large text message (e.g. a JSON result): read type/queryId from its start
            m = _TYPE.search(head, 0, 256)
            msg.type = m.group(1).decode() if m else ""
            m = _QUERY_ID.search(head, 0, 512)
            msg.query_id = m.group(1).decode() if m else None
        if self.record_all:
            self.received.append(msg)
        qid = msg.query_id
        if msg.type == "cancelAck":
            fut = self.acks.pop(qid, None) if qid else None
        else:
            fut = self.pending.pop(qid, None) if qid and msg.type in TERMINAL else None
        if fut is None and msg.type in TERMINAL and qid is None and len(self.pending) == 1:
            fut = self.pending.pop(next(iter(self.pending)))  # error without queryId
        if fut is not None and not fut.done():
            fut.set_result(msg)
        elif not self.record_all:
            self.unrouted.append(msg)

    def _route_in_order(self, msg: Message) -> None:
        if msg.binary:
            msg.type, msg.bare_ipc = "arrow", True
        elif msg.head[:1] == b"{":
            msg.obj = json.loads(msg.head) if msg.size == len(msg.head) else {}
            msg.type = "error" if "error" in msg.obj else "ok"
        else:
            msg.type = "json"
        if self.record_all:
            self.received.append(msg)
        fut = None
        if self.pending:
            msg.query_id = next(iter(self.pending))
            fut = self.pending.pop(msg.query_id)
        if fut is not None and not fut.done():
            fut.set_result(msg)
        elif not self.record_all:
            self.unrouted.append(msg)


def new_id(prefix: str = "q") -> str:
    return f"{prefix}-{os.urandom(6).hex()}"
