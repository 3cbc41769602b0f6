"""What a queue page shows: its view and the form's filters, checked, and whether a case belongs.

The case service filters the page (ListCases); the live queue asks `matches` of each changed
case, so that a change which takes a case out of the page's view removes its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.queue import QueueRow, QueueView
from casedesk_desk.domain.words import CATEGORY_LABELS, CHANNEL_LABELS, STATUS_LABELS

OPEN_STATUSES = frozenset({"REGISTERED", "IN_PROGRESS", "WAITING_FOR_CITIZEN"})
STATUS_NAMES = frozenset(status.name for status in STATUS_LABELS)
MAX_QUEUE_NAME = 100


@dataclass(frozen=True)
class QueueFilter:
    view: QueueView = QueueView.MINE
    status: str = ""  # a vocabulary Status name; empty: every open status
    channel: str = ""  # a Channel name; empty: any
    category: str = ""  # a Category name; empty: any
    queue: str = ""  # empty: any

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> QueueFilter:
        """From the page's query string; Refused (INVALID, or NOT_FOUND for the view) naming what
        is wrong."""
        try:
            view = QueueView(params.get("view") or QueueView.MINE.value)
        except ValueError:
            raise Refused(RefusalKind.NOT_FOUND, "Такой очереди нет.") from None
        status, channel = params.get("status", ""), params.get("channel", "")
        category, queue = params.get("category", ""), params.get("queue", "").strip()
        if status and status not in STATUS_NAMES:
            raise Refused(RefusalKind.INVALID, "Неизвестный статус в фильтре.")
        if channel and channel not in CHANNEL_LABELS:
            raise Refused(RefusalKind.INVALID, "Неизвестный канал в фильтре.")
        if category and category not in CATEGORY_LABELS:
            raise Refused(RefusalKind.INVALID, "Неизвестная категория в фильтре.")
        if len(queue) > MAX_QUEUE_NAME or not queue.isprintable():
            raise Refused(
                RefusalKind.INVALID, f"Название очереди: до {MAX_QUEUE_NAME} печатных знаков."
            )
        return cls(view, status, channel, category, queue)

    def as_params(self) -> dict[str, str]:
        """The query string's fields (empty ones left out)."""
        fields = {
            "view": self.view.value,
            "status": self.status,
            "channel": self.channel,
            "category": self.category,
            "queue": self.queue,
        }
        return {name: value for name, value in fields.items() if value}

    def matches(self, row: QueueRow, username: str, tier: str | None) -> bool:
        """Whether the case, as it is now, belongs on this page for this person."""
        if self.status and row.status != self.status:
            return False
        if not self.status and row.status not in OPEN_STATUSES:
            return False
        for wanted, value in (
            (self.channel, row.channel),
            (self.category, row.category),
            (self.queue, row.queue),
        ):
            if wanted and value != wanted:
                return False
        if self.view is QueueView.MINE:
            return row.assignee == username
        if self.view is QueueView.TIER:
            return tier is not None and row.tier == tier
        return not row.assignee
