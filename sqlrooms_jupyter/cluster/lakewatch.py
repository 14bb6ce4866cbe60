"""Is the lake reachable, and did it change? A probe of each attached DuckLake catalog,
once a second.

`/readyz` fails while a probe fails or hangs, so a load balancer drains a
replica that lost its catalog. A new snapshot, whoever made it (any replica, or
a program outside the servers), sends `table:<name>` notifications to this
replica's subscribers; every replica probes, so they are not fanned out.
DuckDB only: no PostgreSQL driver needed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import duckdb

from ..db.engine import Engine
from ..db.lake import current_snapshots, table_changes
from ..pubsub import TABLE_CHANNEL_PREFIX

log = logging.getLogger(__name__)

PROBE_SECONDS = 1.0
PROBE_TIMEOUT = 5.0


class LakeWatch:
    def __init__(self, engine: Engine, deliver: Callable[[str, Any], object]) -> None:
        self.engine = engine
        self.deliver = deliver
        self._seen: dict[str, int] | None = None  # snapshot ids at the last probe
        self.healthy = True
        self._task: asyncio.Task[None] | None = None
        self._cursor: duckdb.DuckDBPyConnection | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._cursor is not None:
            with contextlib.suppress(duckdb.Error):
                self._cursor.close()
            self._cursor = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        failing = False
        while True:
            started = time.monotonic()
            probe = loop.run_in_executor(None, self._probe)
            try:
                changes = await asyncio.wait_for(asyncio.shield(probe), PROBE_TIMEOUT)
                self.healthy = True
                for name, op, snapshot in changes:
                    self.deliver(f"{TABLE_CHANNEL_PREFIX}{name}", {"op": op, "snapshot": snapshot})
                if failing:
                    log.info("lake: reachable again")
                failing = False
            except (duckdb.Error, asyncio.TimeoutError) as exc:
                self.healthy = False
                if not failing:
                    log.warning(
                        "lake: unreachable: %s", str(exc).splitlines()[0] if str(exc) else exc
                    )
                failing = True
                with contextlib.suppress(BaseException):
                    await probe  # never two probes at once
            await asyncio.sleep(max(0.0, PROBE_SECONDS - (time.monotonic() - started)))

    def _probe(self) -> list[tuple[str, str, int]]:
        if self._cursor is None:
            self._cursor = self.engine.connection.cursor()
        now = current_snapshots(self._cursor, self.engine.lakes)
        seen, self._seen = self._seen, now
        changes: list[tuple[str, str, int]] = []
        for catalog, snapshot in now.items():
            if seen is not None and snapshot > seen.get(catalog, snapshot):
                changes += table_changes(self._cursor, catalog, seen[catalog])
        return changes
