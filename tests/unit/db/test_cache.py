"""cache: persisted results are never stale, and identical queries compute once."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlrooms_jupyter.db.cache import ResultCache
from tests.polling import stays_blocked, wait_until


@pytest.fixture
def cache() -> Iterator[ResultCache]:
    store = ResultCache()
    yield store
    store.close()


def test_keys_differ_by_kind_and_sql() -> None:
    keys = {
        ResultCache.key("arrow", "select 1"),
        ResultCache.key("json", "select 1"),
        ResultCache.key("arrow", "select 2"),
    }
    assert len(keys) == 3
    assert ResultCache.key("arrow", "select 1") == ResultCache.key("arrow", "select 1")


def test_put_at_the_current_generation_is_kept(cache: ResultCache) -> None:
    cache.put("k", b"value", cache.generation)
    assert cache.get("k") == b"value"
    assert cache.stats()["entries"] == 1
    assert cache.stats()["bytes"] > 0


def test_invalidate_clears_and_bumps_the_generation(cache: ResultCache) -> None:
    cache.put("k", b"value", cache.generation)
    before = cache.generation
    cache.invalidate()
    assert cache.generation == before + 1
    assert cache.get("k") is None
    assert cache.stats()["entries"] == 0


def test_a_result_computed_across_a_write_is_not_stored(cache: ResultCache) -> None:
    generation = cache.generation  # a query starts computing
    cache.invalidate()  # a write lands meanwhile
    cache.put("k", b"stale", generation)
    assert cache.get("k") is None
    cache.put("k", b"fresh", cache.generation)
    assert cache.get("k") == b"fresh"


def test_puts_racing_invalidations_never_leave_a_stale_entry(cache: ResultCache) -> None:
    """Workers store results tagged with the generation they read; a writer thread keeps
    invalidating. Whatever survives must have been computed in the current generation."""
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            cache.invalidate()

    def worker(n: int) -> None:
        for i in range(200):
            generation = cache.generation
            cache.put(f"k{n}-{i}", str(generation).encode(), generation)

    thread = threading.Thread(target=writer)
    thread.start()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    thread.join()
    final = cache.generation
    for n in range(4):
        for i in range(200):
            value = cache.get(f"k{n}-{i}")
            assert value is None or int(value) == final


def test_non_bytes_values_in_the_store_are_ignored(cache: ResultCache) -> None:
    cache._store.set("odd", "text")  # e.g. written by another version into --cache-dir
    assert cache.get("odd") is None


def test_computing_runs_identical_queries_once(cache: ResultCache) -> None:
    computed: list[int] = []
    answers: list[bytes] = []
    gate = threading.Event()
    key = ResultCache.key("arrow", "select 42")

    def query(n: int) -> None:
        with cache.computing(key):
            stored = cache.get(key)
            if stored is None:
                gate.wait(5)  # the first one computes slowly: the others pile up
                computed.append(n)
                stored = b"42"
                cache.put(key, stored, cache.generation)
            answers.append(stored)

    threads = [threading.Thread(target=query, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: cache._locks.get(key, (None, 0))[1] == 8)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(computed) == 1
    assert answers == [b"42"] * 8
    assert cache._locks == {}  # no lock is left behind


def test_computing_does_not_serialise_different_queries(cache: ResultCache) -> None:
    inside = threading.Event()
    release = threading.Event()

    def slow() -> None:
        with cache.computing("a"):
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=slow)
    holder.start()
    wait_until(inside.is_set)
    other_done = threading.Event()

    def other() -> None:
        with cache.computing("b"):
            other_done.set()

    threading.Thread(target=other).start()
    wait_until(other_done.is_set)

    def same_key() -> None:
        with cache.computing("a"):
            pass

    same = threading.Thread(target=same_key, daemon=True)
    same.start()
    assert stays_blocked(same)  # the same key does wait
    release.set()
    holder.join(5)
    same.join(5)
    assert not same.is_alive()


def test_computing_releases_its_lock_when_the_query_fails(cache: ResultCache) -> None:
    with pytest.raises(ValueError), cache.computing("k"):
        raise ValueError("bad sql")
    assert cache._locks == {}
    entered = threading.Event()

    def again() -> None:
        with cache.computing("k"):
            entered.set()

    threading.Thread(target=again).start()
    wait_until(entered.is_set)


def test_a_given_directory_is_cleared_at_start_and_kept_at_close(tmp_path: Path) -> None:
    first = ResultCache(str(tmp_path))
    first.put("k", b"from a previous run", first.generation)
    first.close()
    second = ResultCache(str(tmp_path))
    assert second.get("k") is None  # the database may have changed while we were down
    second.close()
    assert tmp_path.is_dir()


def test_an_own_temporary_directory_is_removed_at_close() -> None:
    store = ResultCache()
    directory = store.directory
    assert os.path.isdir(directory)
    store.close()
    assert not os.path.exists(directory)
