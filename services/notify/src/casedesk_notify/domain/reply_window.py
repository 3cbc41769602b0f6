"""A specialist's public reply and the status change it leads to make one notice.

At the desk a specialist writes the reply and then marks «Ответ готов» (or writes the question and
then asks for a clarification): two case events seconds apart, and announcing each would send
the citizen two e-mails and two SMS about one thing. So a reply's notice waits `seconds` from the
reply's instant; a change to one of `MERGING` within that time carries the reply (the answer, or
the question) in its own notice, and the reply's notice is withdrawn as merged. A reply nothing
follows is announced alone when its window ends. Instants are the events' own, so a replayed or
late-read pair merges exactly as it did, or would have, when read at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from casedesk_notify.domain.facts import Fact, StatusChanged
from casedesk_vocabulary.enums import Status

# The changes a reply leads to: the answer is ready, or the reply was the question.
MERGING = frozenset({Status.ANSWER_READY, Status.WAITING_FOR_CITIZEN})


@dataclass(frozen=True)
class ReplyWindow:
    seconds: float  # 0: no window, every reply is announced at once

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError("a reply window cannot be negative")

    def due(self, replied_at: datetime) -> datetime | None:
        """When a reply's own notice goes if nothing merged it; None: at once."""
        return replied_at + timedelta(seconds=self.seconds) if self.seconds else None

    @staticmethod
    def collects(fact: Fact) -> bool:
        """Whether `fact` takes the replies still waiting in their window."""
        return isinstance(fact, StatusChanged) and fact.status in MERGING

    def covers(self, replied_at: datetime, changed_at: datetime) -> bool:
        """Whether a change at `changed_at` is within the window of a reply at `replied_at`.

        Only the upper bound counts: the change follows the reply in the case's log, whatever
        the clocks that stamped them say.
        """
        return changed_at - replied_at <= timedelta(seconds=self.seconds)
