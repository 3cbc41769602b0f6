"""Notify's listener on the key service's erasure journal (`WatchErasures`, issue #18).

Notify follows the journal with the key client's follower
(`casedesk_keyservice.client.ErasureFollower`: one stream per process, its retries and position
handling in one place), to which two listeners are attached in this order: the key cache's (the
erased subject's keys forgotten first: no key of his used from then on), then `ErasedRows`.
A cache alone would only need the erasures from now on; the store must forget an erased
citizen's rows even when the erasure happened while notify was down, and needs each erasure's
generation (a subject reopened later has live rows under a newer key). So `ErasedRows` answers
the position its store applied last (the journal's start for a store that never applied one),
and for each batch `ErasureSweep.apply` blanks the rows and records the batch's position in the
same transaction: the stream resumes after that position, also after a restart.

A broken stream is watched again after a pause (0.1 s growing to 5 s); meanwhile the key cache's
TTL still ends the use of an erased key, and the rows are blanked when the stream is back. A
position the key service refuses as ahead of its journal (a restored backup, another
installation) is dropped: the journal is read again from its start (applying an erasure twice
changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

from casedesk_keyservice.client import ErasureNotice
from casedesk_notify.application.erasures import Erasure, ErasureSweep


class ErasedRows:
    """The store's listener (an `ErasureListener`): erased citizens' rows blanked, the position
    recorded with them."""

    def __init__(self, sweep: ErasureSweep) -> None:
        self._sweep = sweep
        self._position: int | None = None  # recorded in the store; None: not read yet

    async def resume_after(self) -> int:
        self._position = self._sweep.resume_after()
        return self._position

    async def apply(self, notices: Sequence[ErasureNotice], position: int) -> None:
        erasures = [Erasure(str(notice.subject), notice.generation) for notice in notices]
        if erasures or position != self._position:  # an empty batch at the same place: nothing
            self._sweep.apply(erasures, position)
        self._position = position
