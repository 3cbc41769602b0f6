"""An erased citizen's search terms leave the case index as soon as the key service announces the
erasure (issue #18: "Search without plaintext", and erasure within seconds everywhere).

The key service journals every erasure and streams the journal (WatchErasures: the erasures
after a position, then each new one). The process's one follower of that stream
(`casedesk_keyservice.client.ErasureFollower`, which also feeds the key cache) resumes after the
position the case index remembers (`CaseIndex.erasure_position`: the last erasure it applied),
and `ErasedTerms`, its listener, deletes for each batch the terms of every case sealed with an
erased key and remembers the erasures, in one transaction (`CaseIndex.forget_erased`,
adapters/readmodel/erased_keys.py); the projector then adds no term of theirs. So:

- a restart resumes after the last erasure applied: erasures made while the service was down
  (or before this index existed: position 0 reads the journal from its first erasure) are
  applied on start;
- applying an erasure twice is harmless, so it runs beside the index in the first worker of
  every replica (CASEDESK_INDEX_ENABLED), not under the projector's lease: the replica that
  learns an erasure first deletes the terms;
- the follower watches a broken stream again after a pause, from the position reached; a
  position the key service does not know (its journal is another one: a restored backup) is
  answered INVALID_ARGUMENT, and the journal is then read again from its first erasure.

Terms written before they named their citizen's key (an index made before this) name none: only a
rebuild of the index removes those (cli/rebuild_index.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.views import ErasedKey
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)


class Notice(Protocol):
    """An erasure as the journal announces it (`casedesk_keyservice.client.ErasureNotice`)."""

    @property
    def subject(self) -> object: ...  # a SubjectId: its text is the 32 hex digits the terms name
    @property
    def generation(self) -> int: ...
    @property
    def position(self) -> int: ...


class ErasedTerms:
    """The case index's listener on the erasure journal (an `ErasureListener`)."""

    def __init__(self, index: CaseIndex) -> None:
        self._index = index

    async def resume_after(self) -> int:
        """The last erasure the index applied (0: none, the journal is read from its start)."""
        return await asyncio.to_thread(self._index.erasure_position)

    async def apply(self, notices: Sequence[Notice], position: int) -> None:
        # An empty batch changes nothing: the index remembers the erasures it applied, and a
        # position with none is the journal's head, found again at the next start.
        if not notices:
            return
        erased = [ErasedKey(str(n.subject), n.generation, n.position) for n in notices]
        deleted = await asyncio.to_thread(self._index.forget_erased, erased)
        log.info(
            "erased citizens' search terms deleted",
            extra={"erasures": len(erased), "terms": deleted, "position": position},
        )
