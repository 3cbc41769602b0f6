from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casedesk.common.v1 import types_pb2
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.domain import (
    Escalated,
    ExpectedDeadlines,
    PublicReply,
    Registered,
    StatusChanged,
)
from casedesk_notify.wire.case_events import CaseEventDecoder, PoisonRecord
from casedesk_runtime.testing.case_events import CaseEvent, CaseStream, a_citizen
from casedesk_vocabulary.enums import ActorKind, Channel, ContactChannel, Status, Tier


class FixedDeadlines:
    def __init__(self) -> None:
        self.asked: list[tuple[str, datetime]] = []

    def expected(self, channel: str, registered_at: datetime) -> ExpectedDeadlines:
        self.asked.append((channel, registered_at))
        return ExpectedDeadlines(resolution_due=datetime(2026, 3, 5, 21, tzinfo=UTC))


def test_created_becomes_a_card_with_contacts_and_deadlines() -> None:
    deadlines = FixedDeadlines()
    registered_at = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    case = CaseStream("case-7", number="2026-0000007", channel=Channel.EMAIL)
    event = case.created(
        citizen=a_citizen(preferred=ContactChannel.SMS), registered_at=registered_at
    )
    decoded = CaseEventDecoder(deadlines).decode(event.SerializeToString())
    assert (decoded.event_id, decoded.case_id, decoded.case_version) == (
        event.meta.event_id, "case-7", 1,
    )  # fmt: skip
    assert isinstance(decoded.fact, Registered)
    card = decoded.fact.card
    assert (card.number, card.status, card.tier) == ("2026-0000007", Status.REGISTERED, Tier.L1)
    assert card.contacts.preference is ContactChannel.SMS
    assert card.contacts.phone == "+79161234567"
    assert card.deadlines.resolution_due == datetime(2026, 3, 5, 21, tzinfo=UTC)
    assert deadlines.asked == [("EMAIL", registered_at)]


def test_status_escalation_and_public_specialist_reply_are_facts() -> None:
    decoder = CaseEventDecoder(NoDeadlines())
    case = CaseStream("c")
    case.created()
    status = case.status_changed(to=Status.WAITING_FOR_CITIZEN)
    assert decoder.decode(status.SerializeToString()).fact == StatusChanged(
        Status.WAITING_FOR_CITIZEN
    )
    escalated = case.escalated(to_tier=Tier.L2, callback_required=True)
    assert decoder.decode(escalated.SerializeToString()).fact == Escalated(Tier.L2, True)
    reply = case.commented(public=True, by=ActorKind.SPECIALIST)
    assert decoder.decode(reply.SerializeToString()).fact == PublicReply()


@pytest.mark.parametrize(("public", "by_specialist"), [(False, True), (True, False)])
def test_internal_notes_and_citizen_comments_are_not_facts(
    public: bool, by_specialist: bool
) -> None:
    author = ActorKind.SPECIALIST if by_specialist else ActorKind.CITIZEN
    comment = CaseStream("c").commented(public=public, by=author)
    assert CaseEventDecoder(NoDeadlines()).decode(comment.SerializeToString()).fact is None


def unknown_status() -> CaseEvent:
    """A status change to no status at all."""
    event = CaseStream("c").status_changed(from_=Status.IN_PROGRESS, to=Status.IN_PROGRESS)
    event.status_changed.to_status = types_pb2.STATUS_UNSPECIFIED
    return event


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xff\xff",  # not protobuf
        b"",  # no meta
        unknown_status().SerializeToString(),
    ],
)
def test_records_that_cannot_be_understood_are_poison(value: bytes) -> None:
    with pytest.raises(PoisonRecord):
        CaseEventDecoder(NoDeadlines()).decode(value)
