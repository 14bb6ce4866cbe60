"""A PostgreSQL connection that reopens after a failure, and the cluster's NOTIFY channels."""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

NOTIFY_CHANNEL = "sqlrooms_notify"  # notify frames
CRDT_CHANNEL = "sqlrooms_crdt"  # committed CRDT updates


class Link:
    """One PostgreSQL connection (autocommit), opened on first use and again once broken."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def get(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            await self.close()
            self._conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=3
            )
        return self._conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
