"""A session on a real engine (in-memory DuckDB) behind a fake connection: the door's seam."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pyarrow as pa

from sqlrooms_jupyter import protocol
from sqlrooms_jupyter.backpressure import Backpressure, Pieces, ResultStream, size_of
from sqlrooms_jupyter.db.engine import Engine, EngineConfig
from sqlrooms_jupyter.pubsub import Hub
from sqlrooms_jupyter.session import Limits, ServerState, Session


class FakeConnection:
    """What a door gives a session: records every message, takes every byte at once."""

    def __init__(self, budget: int = 64 << 20) -> None:
        self.budget = Backpressure(budget)
        self.messages: list[tuple[bytes | str, bool]] = []
        self.closed_with: tuple[int, str] | None = None
        self._streams: set[asyncio.Task[None]] = set()

    def send(
        self, data: str | bytes | bytearray | Pieces, *, binary: bool, reserved: bool = False
    ) -> None:
        if reserved:
            self.budget.release(size_of(data if not isinstance(data, str) else data.encode()))
        whole = (
            data if isinstance(data, str) else b"".join(data if isinstance(data, list) else [data])
        )
        self.messages.append((whole, binary))

    def send_stream(self, stream: ResultStream) -> None:
        async def read() -> None:
            parts: list[bytes] = []
            async for chunk, _last in stream.chunks():
                self.budget.release(size_of(chunk))
                parts.extend(bytes(piece) for piece in chunk)
            self.messages.append((b"".join(parts), True))

        task = asyncio.ensure_future(read())
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)

    def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    # -- what the tests read ------------------------------------------------

    def texts(self) -> list[dict[str, Any]]:
        return [json.loads(data) for data, binary in self.messages if not binary]

    def answers(self, query_id: str) -> list[Any]:
        """Every frame about `query_id` (text ones as dicts, Arrow results as tables)."""
        found: list[Any] = []
        for data, binary in self.messages:
            if binary:
                assert isinstance(data, bytes)
                framed = protocol.parse_binary(data)
                assert framed is not None
                header, payload = framed
                if header.get("queryId") == query_id:
                    found.append(pa.ipc.open_stream(pa.py_buffer(payload)).read_all())
            else:
                frame = json.loads(data)
                if frame.get("queryId") == query_id:
                    found.append(frame)
        return found


class Harness:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def connect(self, *, authenticated: bool = True) -> tuple[Session, FakeConnection]:
        connection = FakeConnection()
        return Session(self.state, connection, authenticated=authenticated), connection


@asynccontextmanager
async def server(
    limits: Limits | None = None, token: str | None = None, ready: bool = True, **engine: Any
) -> AsyncIterator[Harness]:
    engine_ = Engine(EngineConfig(extensions=(), pool_size=2, **engine))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, engine_.open)
    state = ServerState(engine_, Hub(), loop, token, limits=limits or Limits())
    if ready:
        state.ready.set()
    try:
        yield Harness(state)
    finally:
        for session in list(state.sessions):
            session.close()
        await loop.run_in_executor(None, engine_.close)


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the loop run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        await asyncio.sleep(0.005)


def send(session: Session, **message: Any) -> None:
    session.receive_text(json.dumps(message))
