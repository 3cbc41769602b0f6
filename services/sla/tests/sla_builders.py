"""Builders of case facts and case events for the SLA tests; instants are microseconds.

Case events (protobuf) come from the shared `CaseStream`; `case_stream` starts one at an instant
in microseconds and `moment` turns later microseconds into the `at=` of its methods.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from casedesk_deadlines import MOSCOW
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_sla.domain import (
    CaseOpened,
    PublicReply,
    StatusChanged,
    TierChanged,
    from_micros,
    to_micros,
)

SECOND = 1_000_000
MINUTE = 60 * SECOND
# A Monday, well clear of Russian holidays, 10:00 Moscow time.
T0 = to_micros(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))


class CaseHistory:
    """Writes the events of one case with increasing versions, as the case service would."""

    def __init__(self, case_id: str = "case-1") -> None:
        self.case_id = case_id
        self._versions = itertools.count(1)

    def _common(self, at: int) -> tuple[str, int, int, str, str]:
        version = next(self._versions)
        return self.case_id, version, at, f"{self.case_id}/e{version}", "corr-1"

    def opened(
        self, at: int, channel: str = "PORTAL_CHAT", tier: str = "L1", category: str = ""
    ) -> CaseOpened:
        return CaseOpened(*self._common(at), channel=channel, tier=tier, category=category)

    def status(
        self, at: int, from_status: str, to_status: str, by_citizen: bool = False
    ) -> StatusChanged:
        return StatusChanged(
            *self._common(at), from_status=from_status, to_status=to_status, by_citizen=by_citizen
        )

    def reply(self, at: int) -> PublicReply:
        return PublicReply(*self._common(at))

    def tier(self, at: int, tier: str) -> TierChanged:
        return TierChanged(*self._common(at), tier=tier)


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """A Moscow wall-clock instant, in microseconds."""
    return to_micros(datetime(year, month, day, hour, minute, tzinfo=MOSCOW))


def moment(at: int) -> datetime:
    """The instant of microseconds `at`, for the shared case-event builder."""
    return from_micros(at)


def case_stream(case_id: str, at: int = T0, **fields: Any) -> CaseStream:
    """Case events of `case_id` as the case service publishes them, from microseconds `at`."""
    return CaseStream(case_id, at=moment(at), **fields)
