"""Helpers for the server extension tests: a notebook kernel of the Jupyter server under test,
driven through jupyter_client, and a protocol client on the relayed WebSocket.

Everything here is async: the Jupyter server runs on the test's own event loop,
so blocking calls would stall it.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from tornado.websocket import WebSocketClientConnection

from .kernel_support import SHOW_TOKEN, CellOutput
from .support import answer

LONG_SQL = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"
BIG_SQL = "select range::BIGINT a, range*2 b from range(3_300_000)"  # about 53 MB of Arrow
BIG_ROWS = 3_300_000


class NotebookKernel:
    """A kernel started by the Jupyter server's session manager, as a notebook would."""

    def __init__(self, serverapp: Any, kernel_id: str) -> None:
        self.serverapp = serverapp
        self.kernel_id = kernel_id
        self.started_output = ""  # what `%sqlrooms start` printed
        self.client: Any = None

    @classmethod
    async def start(cls, serverapp: Any, path: str = "work/relay.ipynb") -> NotebookKernel:
        session = await serverapp.session_manager.create_session(
            path=path, type="notebook", kernel_name="python3"
        )
        kernel = cls(serverapp, session["kernel"]["id"])
        await kernel.connect()
        return kernel

    @property
    def manager(self) -> Any:
        return self.serverapp.kernel_manager.get_kernel(self.kernel_id)

    @property
    def pid(self) -> int:
        return self.manager.provisioner.pid

    @property
    def discovery_file(self) -> Path:
        return Path(self.manager.connection_file).parent / "sqlrooms" / f"{self.kernel_id}.json"

    async def connect(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
        self.client = self.manager.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=60)

    async def run(self, code: str, timeout: float = 60) -> CellOutput:
        output = CellOutput()
        await self.client.execute_interactive(code, timeout=timeout, output_hook=output.collect)
        return output

    async def start_server(self) -> str:
        """`%load_ext` and `%sqlrooms start`; returns the kernel-side token (not needed
        through the relay)."""
        output = (await self.run("%load_ext sqlrooms_jupyter\n%sqlrooms start --port 0")).check()
        assert f"sqlrooms/kernels/{self.kernel_id}/ws" in output.stdout, output.text
        self.started_output = output.stdout
        token = (await self.run(SHOW_TOKEN)).check().stdout.strip()
        assert token, output.text
        return token

    def close(self) -> None:
        if self.client is not None:
            self.client.stop_channels()


class Closed(Exception):
    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class RelayClient:
    """The SQLRooms protocol over a Tornado WebSocket client connection."""

    def __init__(self, ws: WebSocketClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any] | bytes) -> None:
        if isinstance(message, dict):
            await self.ws.write_message(json.dumps(message))
        else:
            await self.ws.write_message(message, binary=True)

    async def recv(self, timeout: float = 30) -> dict[str, Any] | tuple[dict[str, Any], bytes]:
        frame = await asyncio.wait_for(self.ws.read_message(), timeout)
        if frame is None:
            raise Closed(self.ws.close_code, self.ws.close_reason)
        if isinstance(frame, str):
            return json.loads(frame)
        length = int.from_bytes(frame[:4], "big")
        return json.loads(frame[4 : 4 + length]), frame[4 + length :]

    async def recv_json(self, timeout: float = 30) -> dict[str, Any]:
        frame = await self.recv(timeout)
        assert isinstance(frame, dict), f"expected a text frame, got binary {frame[0]}"
        return frame

    async def recv_until(self, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv_json(max(0.1, deadline - time.monotonic()))
            if predicate(frame):
                return frame

    async def query(
        self, sql: str, kind: str = "arrow", query_id: str = "q", timeout: float = 60
    ) -> Any:
        await self.send({"type": kind, "sql": sql, "queryId": query_id})
        return answer(await self.recv(timeout), query_id)

    async def wait_closed(self, timeout: float = 60) -> tuple[int | None, str | None]:
        """Read until the relay closes the socket; returns its close code and reason."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.recv(max(0.1, deadline - time.monotonic()))
            except Closed as closed:
                return closed.code, closed.reason

    def close(self) -> None:
        self.ws.close()


def check_big_table(table: pa.Table) -> None:
    assert table.num_rows == BIG_ROWS
    assert table.column_names == ["a", "b"]
    total = BIG_ROWS * (BIG_ROWS - 1) // 2
    assert pc.sum(table["a"]).as_py() == total
    assert pc.sum(table["b"]).as_py() == 2 * total
