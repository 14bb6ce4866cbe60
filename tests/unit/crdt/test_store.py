"""crdt.store: the job queue every room storage shares (order, batching, failures, stop),
driven through a small storage that keeps its rooms in memory."""

from __future__ import annotations

import asyncio
import builtins
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sqlrooms_jupyter.crdt.store import (
    LoadedRoom,
    RoomError,
    RoomInfo,
    RoomStore,
    Update,
    build_room,
)


class MemoryStore(RoomStore):
    """Rooms in dicts; records every operation; `gate` holds the writer inside one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.log: dict[str, list[tuple[int, bytes]]] = {}
        self.snapshots: dict[str, bytes] = {}
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()  # the writer is held at the gate
        self.open_error: Exception | None = None
        self.closed = False

    async def open(self) -> None:
        if self.open_error is not None:
            raise self.open_error

    async def close(self) -> None:
        self.calls.append("close")
        self.closed = True

    async def _pass_gate(self) -> None:
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()

    async def read_room(self, room_id: str) -> LoadedRoom:
        self.calls.append(f"load {room_id}")
        await self._pass_gate()
        return build_room(room_id, self.snapshots.get(room_id), self.log.get(room_id, []), None)

    async def write_updates(self, updates: builtins.list[Update]) -> None:
        self.calls.append(f"append x{len(updates)}")
        await self._pass_gate()
        if any(data == b"refused" for _, _, data in updates):
            raise ValueError("refused by the storage")
        for room_id, seq, data in updates:
            self.log.setdefault(room_id, []).append((seq, data))

    async def write_snapshot(self, room_id: str, snapshot: bytes, upto: int) -> None:
        self.calls.append(f"compact {room_id}")
        await self._pass_gate()
        self.snapshots[room_id] = snapshot
        self.log[room_id] = [(seq, data) for seq, data in self.log[room_id] if seq > upto]

    async def read_list(self) -> builtins.list[RoomInfo]:
        self.calls.append("list")
        await self._pass_gate()
        return [
            RoomInfo(room_id, 0, None, len(log), None, False) for room_id, log in self.log.items()
        ]


def record(labels: list[str], label: str, _: object) -> None:
    labels.append(label)


def run(scenario: Callable[[MemoryStore], Awaitable[Any]], *, start: bool = True) -> Any:
    async def main() -> Any:
        store = MemoryStore(asyncio.get_running_loop())
        if start:
            await store.start()
        try:
            return await scenario(store)
        finally:
            await store.stop()

    return asyncio.run(main())


def test_jobs_run_and_resolve_in_call_order() -> None:
    async def scenario(store: MemoryStore) -> tuple[list[str], list[str]]:
        resolved: list[str] = []
        futures: list[asyncio.Future[Any]] = [
            store.append("r", 1, b"a"),
            store.list(),
            store.load("r"),
            store.compact("r", b"", 1),
            store.append("r", 2, b"b"),
        ]
        labels = ["append 1", "list", "load", "compact", "append 2"]
        for label, future in zip(labels, futures, strict=True):
            future.add_done_callback(functools.partial(record, resolved, label))
        await asyncio.gather(*futures)
        return resolved, list(store.calls)

    resolved, calls = run(scenario)
    assert resolved == ["append 1", "list", "load", "compact", "append 2"]
    assert calls == ["append x1", "list", "load r", "compact r", "append x1"]


def test_appends_queued_while_the_writer_is_busy_share_one_write() -> None:
    async def scenario(store: MemoryStore) -> list[str]:
        store.gate = asyncio.Event()
        first = store.append("r", 1, b"a")
        await store.waiting.wait()  # the writer took it
        burst = [store.append(room, seq, b"x") for seq, room in enumerate("rrs", start=2)]
        listing = store.list()
        after = store.append("r", 5, b"y")
        store.gate.set()
        await asyncio.gather(first, *burst, listing, after)
        return list(store.calls)

    assert run(scenario) == ["append x1", "append x3", "list", "append x1"]


def test_a_failed_write_fails_its_batch_and_no_other_job() -> None:
    async def scenario(store: MemoryStore) -> tuple[list[Any], Any, Any]:
        batch = [store.append("r", 1, b"ok"), store.append("r", 2, b"refused")]
        loaded = store.load("r")
        after = store.append("r", 3, b"later")
        await store.start()
        outcomes = await asyncio.gather(*batch, return_exceptions=True)
        await after
        return outcomes, await loaded, after.result()

    outcomes, loaded, after = run(scenario, start=False)
    assert all(isinstance(o, ValueError) and "refused" in str(o) for o in outcomes)
    assert loaded.seq == 0 and after is None


def test_a_storage_can_translate_its_failures() -> None:
    class Translating(MemoryStore):
        async def failed(self, kind: str, exc: BaseException) -> BaseException:
            return RoomError(f"{kind} failed: storage says {exc}")

    async def main() -> BaseException | None:
        store = Translating(asyncio.get_running_loop())
        await store.start()
        (outcome,) = await asyncio.gather(store.append("r", 1, b"refused"), return_exceptions=True)
        await store.stop()
        return outcome

    outcome = asyncio.run(main())
    assert isinstance(outcome, RoomError)
    assert str(outcome) == "append failed: storage says refused by the storage"


def test_a_caller_that_gives_up_does_not_stop_the_writer() -> None:
    async def scenario(store: MemoryStore) -> Any:
        store.gate = asyncio.Event()
        abandoned = store.load("r")
        await store.waiting.wait()
        abandoned.cancel()
        store.gate.set()
        appended = store.append("r", 1, b"a")
        await appended
        return appended.result(), store.log

    assert run(scenario) == (None, {"r": [(1, b"a")]})


def test_stop_finishes_queued_jobs_closes_the_storage_then_refuses_new_ones() -> None:
    async def scenario(store: MemoryStore) -> list[Any]:
        futures = [store.append("r", seq, b"z") for seq in range(1, 21)]
        await store.stop()
        assert store.closed and store.calls[-1] == "close"
        with pytest.raises(RoomError, match="shutting down"):
            store.load("r")
        return [future.result() for future in futures]

    assert run(scenario) == [None] * 20


def test_a_store_stopped_before_it_started_fails_its_queued_jobs() -> None:
    async def scenario(store: MemoryStore) -> list[BaseException | None]:
        jobs: list[asyncio.Future[Any]] = [store.append("r", 1, b"a"), store.list()]
        await store.stop()
        return [job.exception() for job in jobs]

    outcomes = run(scenario, start=False)
    assert all(isinstance(o, RoomError) and "shutting down" in str(o) for o in outcomes)


def test_a_storage_that_cannot_open_fails_every_job_and_still_stops() -> None:
    async def main() -> tuple[list[Any], bool]:
        store = MemoryStore(asyncio.get_running_loop())
        store.open_error = OSError("disk gone")
        await store.start()  # the server keeps serving: only the rooms fail
        jobs: list[asyncio.Future[Any]] = [
            store.append("r", 1, b"x"),
            store.load("r"),
            store.list(),
        ]
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        await store.stop()
        return outcomes, store.calls == ["close"]

    outcomes, only_closed = asyncio.run(main())
    assert all(isinstance(o, RoomError) and "unavailable: disk gone" in str(o) for o in outcomes)
    assert only_closed
