"""The cases this process saved last, kept as it saved them, so that a command needs no read.

A command takes its case out of the cache (no defensive copy is needed, and a command that fails
half-way cannot leave a half-changed case behind) and the case goes back only once its events are
stored. Commands on one case in this process run one after another (`KeyedLocks`), so a case is
held by at most one command at a time.

Another replica may have changed a cached case since. Nothing is lost: a decision taken on a stale
case cannot be stored (the store refuses a second event with the same case version), and the
command runner decides again on the state read from the store, also before refusing a command.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

from casedesk_case.domain.case import Case

DEFAULT_CASE_CACHE_SIZE = 10_000


class CaseCache:
    def __init__(self, maxsize: int = DEFAULT_CASE_CACHE_SIZE) -> None:
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._cases: OrderedDict[UUID, Case] = OrderedDict()

    def take(self, case_id: UUID) -> Case | None:
        """The case as this process last saved it (removed from the cache), or None."""
        with self._lock:
            return self._cases.pop(case_id, None)

    def put(self, case: Case) -> None:
        """Keep a case whose pending events have just been stored."""
        if self._maxsize < 1:
            return
        with self._lock:
            self._cases[case.id] = case
            self._cases.move_to_end(case.id)
            while len(self._cases) > self._maxsize:
                self._cases.popitem(last=False)  # the least recently saved case

    def discard(self, case_id: UUID) -> None:
        with self._lock:
            self._cases.pop(case_id, None)
