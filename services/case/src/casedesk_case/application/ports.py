"""What the case application needs from its adapters (implemented in casedesk_case.adapters)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    JSONTranscoder,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import Environment

from casedesk_case.application.timeline import SlaClock
from casedesk_case.application.views import (
    AccessFilter,
    CaseFilter,
    CasePage,
    CaseSummary,
    CaseTerm,
    DeskLoad,
    ErasedKey,
)
from casedesk_case.domain.access_journal import AccessEntry, AccessRecord


class CaseIndex(TrackingRecorder):
    """The case index (read model behind ListCases and the specialists' load): rows per case,
    open-case counts per specialist, and the position they reflect.

    A materialised view of the application's events, kept with its position (a tracking record)
    in the same transaction as its rows, so it can always be rebuilt from the notification log.
    What it returns to readers carries each case's SLA clock as the case timeline keeps it
    (application/timeline.py), read together with the rows; the deadline order sorts by it.
    """

    @abstractmethod
    def rows(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        """The stored rows of those cases that are indexed (without clocks: the projector's)."""

    @abstractmethod
    def summaries(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        """The rows of those cases that are indexed, each with its SLA clock."""

    @abstractmethod
    def write(
        self,
        rows: Sequence[CaseSummary],
        load_changes: Mapping[str, int],
        tracking: Tracking,
        terms: Sequence[CaseTerm] = (),
    ) -> None:
        """Atomically upsert rows, add load changes and search terms (new cases' citizens'
        keyed hashes, application/search_terms.py), and advance the position.

        Raises eventsourcing's IntegrityError when the position is not ahead of the stored one
        (another projector got there first); nothing is written then.
        """

    @abstractmethod
    def clocks(self, case_ids: Iterable[str]) -> dict[str, SlaClock]:
        """The SLA clocks of those cases as the case timeline keeps them (indexed or not)."""

    @abstractmethod
    def answered_before(self, cutoff: datetime, limit: int) -> list[tuple[str, int]]:
        """At most `limit` cases at ANSWER_READY unchanged since `cutoff` (their latest event
        at or before it), longest unchanged first, as (case id, version): the auto-closer's
        candidates (the case decides: domain/closing.py)."""

    @abstractmethod
    def search(self, criteria: CaseFilter, limit: int, page_token: str) -> CasePage:
        """The cases matching every given criterion, in the criteria's order, with clocks."""

    @abstractmethod
    def desk_load(self, roster_ids: frozenset[str]) -> DeskLoad:
        """Open cases per tier and queue (held by nobody: no assignee or one of `roster_ids`;
        breached), and per assignee (all, waiting for the citizen)."""

    @abstractmethod
    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        """How many open cases each of these specialists has (absent: none)."""

    @abstractmethod
    def reset(self, tracking_name: str) -> None:
        """Forget every row, load, search term and the position, so the index can be rebuilt
        (the erasures it has seen stay: they still keep those citizens' terms out)."""

    @abstractmethod
    def forget_erased(self, erasures: Sequence[ErasedKey]) -> int:
        """Delete the search terms of every case whose citizen's key an erasure destroyed (the
        subject's, of its generation or older, and his terms in clear), and remember the
        erasures: from then on `write` adds no term of theirs (a projector that opened the
        citizen just before). Atomic and idempotent; returns how many terms went."""

    @abstractmethod
    def erasure_position(self) -> int:
        """The key service's erasure journal position of the last erasure remembered; 0: none."""

    @abstractmethod
    def sealed_since(self) -> datetime | None:
        """Since when the events beside the index hold personal data sealed (a start with
        CASEDESK_SEAL_PERSONAL_DATA on said so); None: never."""

    @abstractmethod
    def mark_sealed(self, since: datetime) -> None:
        """Remember that the events hold sealed personal data from `since` on (the first mark
        stays)."""


class AccessJournal(Protocol):
    """The append-only journal of people's reads (domain/access_journal.py), in the same
    database as the events. Nothing is ever updated or deleted."""

    def create_table(self) -> None:
        """Create the table (idempotent), where the service creates its tables."""

    def append(self, entries: Sequence[AccessEntry]) -> list[AccessRecord]:
        """Record the entries after the last record, chained to it, atomically; the records."""

    def search(self, criteria: AccessFilter, after_sequence: int, limit: int) -> list[AccessRecord]:
        """Records matching every criterion with a sequence above `after_sequence`, in order."""


class EventStoreSetup(Protocol):
    """How the application's event store and case index are built on the chosen database.

    eventsourcing builds the store from the environment (PERSISTENCE_MODULE, ...) while the
    application is constructed; these hooks add what the case service stores differently.
    """

    def configure(self, environment: Environment) -> None:
        """Adjust eventsourcing's settings (e.g. name a recorder) before anything is built."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Teach the transcoder the domain's enums and value objects."""

    def recorder(self, recorder: ApplicationRecorder) -> ApplicationRecorder:
        """The recorder the application saves through (the library's, or one wrapping it)."""

    def case_index(self, factory: InfrastructureFactory[Any]) -> CaseIndex:
        """The case index, in the same database as the events."""

    def access_journal(self, factory: InfrastructureFactory[Any]) -> AccessJournal:
        """The access journal, in the same database as the events."""
