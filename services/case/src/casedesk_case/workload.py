"""How many open cases each specialist has, for the assignment rule, without a query per case.

The counts come from the case index (all replicas' assignments), re-read at most every `ttl_s`;
assignments this process made since are added on top, so a burst of new cases spreads across the
queue instead of all landing on whoever was least loaded at the last read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence


class Workload:
    def __init__(
        self,
        read_loads: Callable[[Sequence[str]], dict[str, int]],
        specialists: Iterable[str],
        ttl_s: float = 0.5,
    ) -> None:
        self._read_loads = read_loads
        self._specialists = sorted(set(specialists))
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._base: dict[str, int] = {}
        self._since: dict[str, int] = {}
        self._read_at = float("-inf")

    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._read_at > self._ttl_s:
                self._base = self._read_loads(self._specialists) if self._specialists else {}
                self._since = {}
                self._read_at = time.monotonic()
            return {
                s: self._base.get(s, 0) + self._since.get(s, 0)
                for s in specialist_ids
                if self._base.get(s, 0) + self._since.get(s, 0)
            }

    def assigned(self, specialist_id: str, previous_specialist_id: str) -> None:
        """A case of open work moved from `previous_specialist_id` to `specialist_id`."""
        with self._lock:
            if specialist_id:
                self._since[specialist_id] = self._since.get(specialist_id, 0) + 1
            if previous_specialist_id:
                self._since[previous_specialist_id] = self._since.get(previous_specialist_id, 0) - 1
