"""Builders of case facts for the SLA tests; instants are microseconds on an injected clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk_sla.domain import CaseOpened, PublicReply, StatusChanged, TierChanged, to_micros
from casedesk_sla.wire.timestamps import timestamp_of

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

    def opened(self, at: int, channel: str = "PORTAL_CHAT", tier: str = "L1") -> CaseOpened:
        return CaseOpened(*self._common(at), channel=channel, tier=tier)

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


def case_event(
    case_id: str,
    version: int,
    at: int,
    *,
    actor: int = 2,
    **payload: object,
) -> events_pb2.CaseEvent:
    """A protobuf CaseEvent as the case service publishes it (actor 2 = SPECIALIST)."""
    meta = envelope_pb2.EventMeta(
        event_id=f"{case_id}/v{version}",
        case_id=case_id,
        case_version=version,
        event_type="case.Event",
        occurred_at=timestamp_of(at),
        correlation_id=f"corr-{case_id}",
        actor=types_pb2.Actor(kind=actor, id="someone"),
    )
    return events_pb2.CaseEvent(meta=meta, **payload)


def created(case_id: str, at: int, channel: str = "PORTAL_CHAT", tier: str = "L1"):
    payload = events_pb2.Created(
        number="2026-0000001",
        channel=types_pb2.Channel.Value(channel),
        tier=types_pb2.Tier.Value(tier),
        registered_at=timestamp_of(at),
    )
    return case_event(case_id, 1, at, actor=3, created=payload)


def status_changed(case_id: str, version: int, at: int, old: str, new: str, actor: int = 2):
    change = events_pb2.StatusChanged(
        from_status=types_pb2.Status.Value(old), to_status=types_pb2.Status.Value(new)
    )
    return case_event(case_id, version, at, actor=actor, status_changed=change)


def commented(case_id: str, version: int, at: int, public: bool, actor: int = 2):
    comment = events_pb2.Commented(comment_id="c", body="Здравствуйте!", public=public)
    return case_event(case_id, version, at, actor=actor, commented=comment)
