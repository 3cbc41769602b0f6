"""The storage interface of the case index and the choice of its implementation."""

from __future__ import annotations

import base64
import json
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from eventsourcing.persistence import InfrastructureFactory, Tracking, TrackingRecorder

from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.views import CaseFilter, CasePage, CaseSummary


class CaseIndex(TrackingRecorder):
    """Rows per case, open-case counts per specialist, and the position they reflect."""

    @abstractmethod
    def rows(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        """The stored rows of those cases that are indexed."""

    @abstractmethod
    def write(
        self, rows: Sequence[CaseSummary], load_changes: Mapping[str, int], tracking: Tracking
    ) -> None:
        """Atomically upsert rows, add load changes and advance the position.

        Raises eventsourcing's IntegrityError when the position is not ahead of the stored one
        (another projector got there first); nothing is written then.
        """

    @abstractmethod
    def search(self, criteria: CaseFilter, limit: int, page_token: str) -> CasePage:
        """Newest cases first, matching every given criterion."""

    @abstractmethod
    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        """How many open cases each of these specialists has (absent: none)."""

    @abstractmethod
    def reset(self, tracking_name: str) -> None:
        """Forget every row, load and the position, so the index can be rebuilt."""


def construct_case_index(factory: InfrastructureFactory[Any]) -> CaseIndex:
    """The case index living in the same database as the application's events."""
    # Imported here: each implementation pulls in its database driver.
    module = type(factory).__module__
    if module == "eventsourcing.postgres":
        from casedesk_case.readmodel.postgres import PostgresCaseIndex

        return cast(CaseIndex, factory.tracking_recorder(PostgresCaseIndex))
    if module == "eventsourcing.sqlite":
        from casedesk_case.readmodel.sql import SQLiteCaseIndex

        return cast(CaseIndex, factory.tracking_recorder(SQLiteCaseIndex))
    from casedesk_case.readmodel.memory import InMemoryCaseIndex

    return cast(CaseIndex, factory.tracking_recorder(InMemoryCaseIndex))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return _EPOCH + micros * _MICROSECOND


def encode_page_token(summary: CaseSummary) -> str:
    key = [to_micros(summary.registered_at), summary.case_id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_page_token(token: str) -> tuple[int, str] | None:
    """The (registered_at in µs, case id) after which the next page starts."""
    if not token:
        return None
    try:
        registered_us, case_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(registered_us), str(case_id)
    except (ValueError, TypeError):
        raise InvalidCommand("page_token", "is not a token from a previous page") from None
