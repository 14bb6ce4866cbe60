"""Notify across replicas with PostgreSQL's NOTIFY.

`publish` only queues: one task sends in order. A message over NOTIFY's limit
goes into a table, and the NOTIFY carries its row id; rows older than
`KEEP_PAYLOADS` are removed as new ones come.

A notify acknowledged while PostgreSQL is down is not dropped: it waits, in
order, and is retried until PostgreSQL is back. Other replicas may not be
listening again yet, so what was held back (and what follows it for
`AFTER_OUTAGE` seconds) goes through the table too: a replica reads the rows it
missed when it reconnects (`Cluster._catch_up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import psycopg

from ..pubsub import Deliver, Fanout
from .link import NOTIFY_CHANNEL, Link

if TYPE_CHECKING:
    from .postgres import Cluster

log = logging.getLogger(__name__)

NOTIFY_LIMIT = 7900  # bytes; PostgreSQL refuses a payload of 8000 or more
KEEP_PAYLOADS = "10 minutes"
QUEUE_LIMIT = 10_000
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
AFTER_OUTAGE = 30.0  # seconds of sending through the table once PostgreSQL is back


class PostgresFanout(Fanout):
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._link = Link(cluster.url)
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._table_until = 0.0  # until then (monotonic), every message goes through the table
        self.dropped = 0

    async def start(self, deliver: Deliver) -> None:
        self.cluster.deliver_to(deliver)
        self._task = asyncio.get_running_loop().create_task(self._send_all())

    def publish(self, channel: str, payload: Any) -> None:
        try:
            self._queue.put_nowait((channel, payload))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("cluster: notify queue full; %r not sent to other replicas", channel)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):  # send what is queued, briefly
                await asyncio.wait_for(self._queue.join(), 2)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._link.close()

    async def _send_all(self) -> None:
        while True:
            channel, payload = await self._queue.get()
            try:
                await self._send_until_sent(channel, payload)
            finally:
                self._queue.task_done()

    async def _send_until_sent(self, channel: str, payload: Any) -> None:
        for attempt in itertools.count():
            try:
                await self._send(channel, payload)
            except (psycopg.Error, OSError) as exc:
                await self._link.close()
                self._table_until = math.inf
                if self._stopping:
                    self.dropped += 1
                    log.warning("cluster: notify %r not sent to other replicas: %s", channel, exc)
                    return
                if attempt == 0:
                    log.warning("cluster: notify %r held (PostgreSQL down): %s", channel, exc)
                await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                continue
            if self._table_until == math.inf:
                log.info("cluster: PostgreSQL is back; held notifies sent")
                self._table_until = time.monotonic() + AFTER_OUTAGE
            return

    async def _send(self, channel: str, payload: Any) -> None:
        node = self.cluster.node
        text = json.dumps({"n": node, "c": channel, "p": payload}, separators=(",", ":"))
        conn = await self._link.get()
        if len(text.encode()) <= NOTIFY_LIMIT and time.monotonic() >= self._table_until:
            await conn.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, text])
            return
        table = self.cluster.table("notify_payloads")
        async with conn.transaction():
            cursor = await conn.execute(
                f"INSERT INTO {table} (body) VALUES (%s) RETURNING id", [text]
            )
            row = await cursor.fetchone()
            assert row is not None
            reference = json.dumps({"n": node, "id": row[0]})
            await conn.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, reference])
            await conn.execute(
                f"DELETE FROM {table} WHERE created_at < now() - interval '{KEEP_PAYLOADS}'"
            )
