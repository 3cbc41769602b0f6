"""A command of the case application, as planned before it runs: what it asks, how it decides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.domain import Aggregate

from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.person_rules import Person
from casedesk_case.domain.values import Citizen, EventContext

# decide(case or None) -> (the case the caller gets back, other aggregates saved with it)
Decision = Callable[[Case | None], tuple[Case, Sequence[Aggregate]]]


@dataclass(frozen=True)
class CommandMeta:
    """What every command carries besides its own arguments."""

    context: EventContext
    idempotency_key: str = ""
    expected_version: int = 0  # 0: do not check
    # The member of staff acting (their verified token), whose rules (domain/person_rules.py)
    # the command must pass; None for a service acting for a citizen or as the system.
    person: Person | None = None


@dataclass(frozen=True)
class Command:
    """One command as the application planned it: what it asks and how it decides."""

    name: str
    meta: CommandMeta
    arguments: tuple[object, ...]
    case_id: UUID | None  # None: the command creates its case
    decide: Decision
    # The citizen of a new case, whose key seals it when sealing is on: the pipeline fetches
    # that key on the event loop, with the batch's others, before the command thread seals.
    new_citizen: Citizen | None = None


@dataclass
class Decided:
    """A command decided on this process's cached case, its aggregates not saved yet."""

    command: Command
    case: Case
    pending: list[Aggregate] = field(default_factory=list)


def parse_case_id(case_id: str, field: str = "case_id") -> UUID:
    try:
        return UUID(case_id)
    except (ValueError, TypeError, AttributeError):
        raise InvalidCommand(field, "is not a case id (a UUID)") from None
