"""Results of `persist: true` queries, kept on disk with diskcache.

Unlike the published server, a cached result is never served stale: every
write that goes through the server bumps a generation and clears the store,
and a result computed while a write happened is not stored. The store is
cleared at start too, since the database may have changed while we were down.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import diskcache


class ResultCache:
    def __init__(self, directory: str | None = None) -> None:
        self._owns_directory = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="sqlrooms-cache-")
        self._store = diskcache.Cache(self.directory)
        self._store.clear()
        self._generation = 0
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @staticmethod
    def key(kind: str, sql: str) -> str:
        return f"{kind}:{hashlib.sha256(sql.encode()).hexdigest()}"

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key: str) -> bytes | None:
        value = self._store.get(key)
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes, generation: int) -> None:
        with self._guard:
            if generation == self._generation:
                self._store.set(key, value)

    def invalidate(self) -> None:
        with self._guard:
            self._generation += 1
            self._store.clear()

    @contextmanager
    def computing(self, key: str) -> Iterator[None]:
        """Serialise identical queries so that only the first one computes."""
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._store), "bytes": self._store.volume()}

    def close(self) -> None:
        self._store.close()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
