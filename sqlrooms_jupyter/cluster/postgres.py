"""PostgreSQL as the replicas' meeting point (`--cluster postgresql://…`).

One listening connection per replica receives both kinds of message: `notify`
frames another replica published, and CRDT updates another replica committed.
Each message names the replica it came from, so a replica skips its own. The
listener pings the database every second; `healthy` is what `/readyz` reports.
After an outage it reads the notify rows it missed (see `fanout`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable

import psycopg

from ..db.meta_tables import CLUSTER_SCHEMA, postgres_definitions
from ..pubsub import Deliver
from .fanout import PostgresFanout
from .link import CRDT_CHANNEL, NOTIFY_CHANNEL, Link
from .room_store import PostgresRoomStore

log = logging.getLogger(__name__)

PING_SECONDS = 1.0
RECONNECT_SECONDS = 0.5
SEEN_PAYLOADS = 10_000  # notify rows remembered, so a row read twice is delivered once
LOOK_BACK = 1_000  # rows before the highest seen: ids are taken in one order, committed in another


class Cluster:
    def __init__(
        self, url: str, loop: asyncio.AbstractEventLoop, schema: str = CLUSTER_SCHEMA
    ) -> None:
        self.url = url
        self.schema = schema
        self.node = uuid.uuid4().hex  # this replica, in every message it sends
        self.fanout = PostgresFanout(self)
        self.store = PostgresRoomStore(self, loop)
        self.healthy = False
        self._loop = loop
        self._listener: asyncio.Task[None] | None = None
        self._deliver: Deliver | None = None
        self._fetch = Link(url)  # payloads too big for a NOTIFY
        self.on_reconnect: list[Callable[[], Awaitable[None]]] = [self._catch_up]
        self._first_payload = 0  # notify rows up to this id predate this replica
        self._last_payload = 0  # the highest notify row id read
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()

    async def start(self) -> None:
        """Create the shared tables (refuses to start if PostgreSQL is unreachable), then listen."""
        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=5)
        try:
            async with conn.transaction():
                # Replicas that start together would race on CREATE ... IF NOT EXISTS.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sqlrooms-schema'))")
                for statement in postgres_definitions(self.schema):
                    await conn.execute(statement)
            cursor = await conn.execute(
                f"SELECT coalesce(max(id), 0) FROM {self.table('notify_payloads')}"
            )
            row = await cursor.fetchone()
            self._first_payload = self._last_payload = int(row[0]) if row else 0
        finally:
            await conn.close()
        connected = self._loop.create_future()
        self._listener = self._loop.create_task(self._listen(connected))
        await connected

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        self.healthy = False
        await self._fetch.close()

    def deliver_to(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def _listen(self, connected: asyncio.Future[None]) -> None:
        link = Link(self.url)
        outage = False
        try:
            while True:
                try:
                    conn = await link.get()
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    await conn.execute(f"LISTEN {CRDT_CHANNEL}")
                    self.healthy = True
                    if not connected.done():
                        connected.set_result(None)
                    if outage:
                        log.info("cluster: PostgreSQL is back")
                        outage = False
                        for hook in self.on_reconnect:  # catch up on what was missed
                            await hook()
                    while True:
                        async for message in conn.notifies(timeout=PING_SECONDS):
                            await self._dispatch(message.channel, message.payload)
                        await asyncio.wait_for(conn.execute("SELECT 1"), PING_SECONDS * 3)
                except (psycopg.Error, OSError, asyncio.TimeoutError) as exc:
                    if not outage:
                        log.warning("cluster: PostgreSQL unreachable: %s", exc)
                    outage, self.healthy = True, False
                    await link.close()
                    await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            self.healthy = False
            await link.close()

    async def _dispatch(self, channel: str, text: str) -> None:
        try:
            message = json.loads(text)
            if message.get("n") == self.node:
                return
            if channel == NOTIFY_CHANNEL:
                if "id" in message:  # kept in a table: large, or sent after an outage
                    row_id = int(message["id"])
                    if not self._first_sight(row_id):
                        return
                    message = json.loads(await self._large_payload(row_id))
                self._deliver_notify(message)
            elif channel == CRDT_CHANNEL:
                room_id = message["r"]
                if "d" in message:
                    data = base64.b64decode(message["d"])
                    self.store.remote(room_id, data)
                else:
                    await self.store.fetch_remote(room_id, int(message["i"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("cluster: ignoring a malformed %s message: %s", channel, exc)
        except psycopg.Error as exc:
            log.warning("cluster: could not read a %s message's payload: %s", channel, exc)
        except Exception:  # a bug in one delivery must not stop the listener
            log.exception("cluster: delivering a %s message failed", channel)

    def _deliver_notify(self, message: dict[str, object]) -> None:
        if self._deliver is not None:
            self._deliver(str(message["c"]), message.get("p"))

    def _first_sight(self, row_id: int) -> bool:
        if row_id in self._seen:
            return False
        self._seen.add(row_id)
        self._seen_order.append(row_id)
        if len(self._seen_order) > SEEN_PAYLOADS:
            self._seen.discard(self._seen_order.popleft())
        self._last_payload = max(self._last_payload, row_id)
        return True

    async def _catch_up(self) -> None:
        """Deliver the notify rows other replicas wrote while this one was not listening."""
        conn = await self._fetch.get()
        cursor = await conn.execute(
            f"SELECT id, body FROM {self.table('notify_payloads')} WHERE id > %s ORDER BY id",
            [max(self._first_payload, self._last_payload - LOOK_BACK)],
        )
        missed = 0
        for row_id, body in await cursor.fetchall():
            if not self._first_sight(int(row_id)):
                continue
            try:
                message = json.loads(body)
            except ValueError:
                continue
            if message.get("n") != self.node:
                missed += 1
                self._deliver_notify(message)
        if missed:
            log.info("cluster: delivered %d notifies sent while PostgreSQL was unreachable", missed)

    async def _large_payload(self, row_id: int) -> str:
        conn = await self._fetch.get()
        cursor = await conn.execute(
            f"SELECT body FROM {self.table('notify_payloads')} WHERE id = %s",
            [row_id],
        )
        row = await cursor.fetchone()
        if row is None:
            raise ValueError(f"notify payload {row_id} is gone")
        return str(row[0])

    def table(self, name: str) -> str:
        return f'"{self.schema}".{name}'
