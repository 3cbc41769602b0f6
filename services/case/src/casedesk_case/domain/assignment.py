"""Who works a case: routing by specialization (category -> queue per tier) and by load.

The rule: the case goes to the least-loaded active specialist of the case's tier who serves its
queue; ties go to the smallest specialist id so that the choice is reproducible. When nobody
qualifies, the case waits in the queue unassigned.

Two namespaces share a case's `assignee`: the roster's specialist ids (`l1-001`: the system's
routing, by load, at registration, escalation and a supervisor's Assign) and the usernames of the
identity provider (`l1.ivanova`: the person who took the case in work at the desk). A case is a
person's only in the second sense (`person_holder`); one assigned by the roster still waits for a
specialist to take it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from casedesk_case.domain.values import Category, Tier

DEFAULT_ROUTE = "default"


@dataclass(frozen=True)
class Specialist:
    id: str
    tier: Tier
    queues: frozenset[str]
    active: bool = True
    # The person who works this roster slot: their identity provider's username (optional). A
    # case routed to the slot is in that person's own list («Мои обращения») before they take it,
    # though it stays any specialist's to take until somebody does (`person_holder`).
    username: str = ""


@dataclass(frozen=True)
class Roster:
    """Specialists and the queue each tier uses for each category."""

    specialists: tuple[Specialist, ...]
    # tier -> {category name or "default": queue}
    routes: Mapping[Tier, Mapping[str, str]] = field(default_factory=dict)

    def queue_for(self, category: Category, tier: Tier) -> str:
        table = self.routes.get(tier, {})
        queue = table.get(category.value) or table.get(DEFAULT_ROUTE)
        if queue is None:
            # Configuration is validated at load time, so this is a programming error.
            raise LookupError(f"no queue for category {category.value} at tier {tier.value}")
        return queue

    def find(self, specialist_id: str) -> Specialist | None:
        return next((s for s in self.specialists if s.id == specialist_id), None)

    def ids_of(self, username: str) -> frozenset[str]:
        """The roster slots `username` works (empty for anybody the roster does not name)."""
        if not username:
            return frozenset()
        return frozenset(s.id for s in self.specialists if s.username == username)

    def person_holder(self, assignee: str) -> str:
        """The person who holds a case assigned to `assignee`: the username, or "" when the case
        is unassigned or assigned by the roster (a specialist id of this roster)."""
        return "" if not assignee or self.find(assignee) is not None else assignee

    def candidates(self, queue: str, tier: Tier) -> list[Specialist]:
        return [s for s in self.specialists if s.active and s.tier is tier and queue in s.queues]


def choose_specialist(
    roster: Roster, queue: str, tier: Tier, load: Mapping[str, int]
) -> Specialist | None:
    """The least-loaded active specialist of `tier` in `queue`, or None when nobody serves it.

    `load` maps specialist id to the number of cases they are working; absent means zero.
    """
    candidates = roster.candidates(queue, tier)
    if not candidates:
        return None
    return min(candidates, key=lambda s: (load.get(s.id, 0), s.id))
