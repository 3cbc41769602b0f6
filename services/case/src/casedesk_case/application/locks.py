"""Per-key locks, so that commands on one case in this process run one after another.

Optimistic concurrency in the event store stays the guard between replicas; the lock only avoids
pointless conflicts (and retries) between threads of the same process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, users = self._locks[key]
                if users == 1:
                    del self._locks[key]  # nobody else waits: forget it, keep the map small
                else:
                    self._locks[key] = (lock, users - 1)
