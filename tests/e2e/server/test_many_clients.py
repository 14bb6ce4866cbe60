"""Many simultaneous connections."""

from __future__ import annotations

import asyncio
import json

import websockets

from tests.support import ServerProcess


def test_two_hundred_simultaneous_connections(server: ServerProcess) -> None:
    async def one(i: int) -> int:
        async with websockets.connect(server.url, max_size=None, open_timeout=30) as ws:
            await ws.send(
                json.dumps({"type": "json", "sql": f"select {i} as i", "queryId": f"c{i}"})
            )
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            assert frame["queryId"] == f"c{i}"
            return json.loads(frame["data"])[0]["i"]

    async def run() -> list[int]:
        return await asyncio.gather(*(one(i) for i in range(200)))

    assert asyncio.run(run()) == list(range(200))
