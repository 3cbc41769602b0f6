"""How many open cases each specialist has, for the assignment rule, without a query per case.

The counts come from the case index (all replicas' assignments), re-read at most every `ttl_s`;
assignments this process made since are added on top, so a burst of new cases spreads across the
queue instead of all landing on whoever was least loaded at the last read.

Once read, the counts are refreshed in the background: the command pipeline decides every command
on one thread, and a query there would hold up every command behind it. Until the refresh is done
the previous counts (plus local assignments) serve; assignments made while it runs are kept on
top of the counts it brings, as the index has most likely not seen them yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

log = logging.getLogger(__name__)


class Workload:
    def __init__(
        self,
        read_loads: Callable[[Sequence[str]], dict[str, int]],
        specialists: Iterable[str],
        ttl_s: float = 0.5,
        refresh_in_background: bool = True,
    ) -> None:
        self._read_loads = read_loads
        self._specialists = sorted(set(specialists))
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._base: dict[str, int] = {}
        self._since: dict[str, int] = {}
        self._read_at = float("-inf")
        self._background = refresh_in_background
        self._during_refresh: dict[str, int] | None = None  # assignments since a refresh began

    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._read_at > self._ttl_s:
                if not self._background or self._read_at == float("-inf"):
                    self._base = self._read_loads(self._specialists) if self._specialists else {}
                    self._since = {}
                    self._read_at = time.monotonic()
                elif self._during_refresh is None:
                    self._during_refresh = {}
                    threading.Thread(
                        target=self._refresh, name="case-workload", daemon=True
                    ).start()
            return {
                s: self._base.get(s, 0) + self._since.get(s, 0)
                for s in specialist_ids
                if self._base.get(s, 0) + self._since.get(s, 0)
            }

    def assigned(self, specialist_id: str, previous_specialist_id: str) -> None:
        """A case of open work moved from `previous_specialist_id` to `specialist_id`."""
        with self._lock:
            for counts in (self._since, self._during_refresh):
                if counts is None:
                    continue
                if specialist_id:
                    counts[specialist_id] = counts.get(specialist_id, 0) + 1
                if previous_specialist_id:
                    counts[previous_specialist_id] = counts.get(previous_specialist_id, 0) - 1

    def _refresh(self) -> None:
        try:
            counts = self._read_loads(self._specialists) if self._specialists else {}
        except Exception:  # keep the counts we have; the next call tries again
            log.exception("could not read the specialists' loads")
            counts = None
        with self._lock:
            during, self._during_refresh = self._during_refresh or {}, None
            if counts is not None:
                self._base, self._since = counts, during
                self._read_at = time.monotonic()
