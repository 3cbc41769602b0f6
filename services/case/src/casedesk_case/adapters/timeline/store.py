"""What the timeline consumer writes through: the `CaseTimeline` port plus recording facts."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime

from casedesk_case.application.timeline import CaseTimeline, NotificationFact, SlaFact

# A fact and the id of the event that reported it: the key every store deduplicates on.
Entry = tuple[str, SlaFact | NotificationFact]


class TimelineStore(CaseTimeline):
    @abstractmethod
    def create_tables(self) -> None:
        """Create what the store needs (idempotent), where the service creates its tables."""

    @abstractmethod
    def record(self, entries: Sequence[Entry]) -> None:
        """Keep the facts not kept yet (by event id) and bring the touched cases' clocks up to
        date, atomically: once this returns, the entries are durable and may be committed."""


def notice_order(notice: NotificationFact) -> tuple[datetime, str, str]:
    """Notices oldest first; one notification's stages at one instant in a fixed order."""
    return notice.at, notice.notification_id, notice.kind
