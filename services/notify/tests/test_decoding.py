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
from casedesk_vocabulary.enums import (
    ActorKind,
    Channel,
    ContactChannel,
    EscalationReason,
    Status,
    Tier,
)


class FixedDeadlines:
    def __init__(self) -> None:
        self.asked: list[tuple[str, datetime, str | None]] = []

    def expected(
        self, channel: str, registered_at: datetime, category: str | None = None
    ) -> ExpectedDeadlines:
        self.asked.append((channel, registered_at, category))
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
    assert deadlines.asked == [("EMAIL", registered_at, "TECHNICAL_FAULT")]


def test_status_escalation_and_public_specialist_reply_are_facts_with_who_acted() -> None:
    decoder = CaseEventDecoder(NoDeadlines())
    case = CaseStream("c")
    case.created()
    case.status_changed(to=Status.IN_PROGRESS)
    status = case.status_changed(to=Status.WAITING_FOR_CITIZEN)
    assert decoder.decode(status.SerializeToString()).fact == StatusChanged(
        Status.WAITING_FOR_CITIZEN, Status.IN_PROGRESS, ActorKind.SPECIALIST
    )
    answered = case.status_changed(to=Status.IN_PROGRESS, by=ActorKind.CITIZEN)
    assert decoder.decode(answered.SerializeToString()).fact == StatusChanged(
        Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN, ActorKind.CITIZEN
    )
    escalated = case.escalated(
        to_tier=Tier.L2, callback_required=True, reason=EscalationReason.RESOLUTION_BREACH,
        by=ActorKind.SYSTEM,
    )  # fmt: skip
    assert decoder.decode(escalated.SerializeToString()).fact == Escalated(
        Tier.L2, True, ActorKind.SYSTEM, EscalationReason.RESOLUTION_BREACH
    )
    reply = case.commented(public=True, by=ActorKind.SPECIALIST, body="Код отправлен")
    decoded = decoder.decode(reply.SerializeToString())
    assert decoded.fact == PublicReply("Код отправлен")
    assert decoded.occurred_at == case.at


def test_an_unstated_actor_or_previous_status_is_none_not_poison() -> None:
    event = CaseStream("c").status_changed(to=Status.CLOSED, from_=Status.ANSWER_READY)
    event.meta.actor.kind = types_pb2.Actor.KIND_UNSPECIFIED
    event.status_changed.from_status = types_pb2.STATUS_UNSPECIFIED
    fact = CaseEventDecoder(NoDeadlines()).decode(event.SerializeToString()).fact
    assert fact == StatusChanged(Status.CLOSED, None, None)


@pytest.mark.parametrize(
    ("channel", "login", "portal_account"),
    [
        (Channel.EMAIL, "", False),
        (Channel.PHONE, "", False),
        (Channel.EMAIL, "ivanov.ii", True),
        (Channel.PORTAL_CHAT, "", True),  # opened on the portal: signed in there
        (Channel.PERSONAL_ACCOUNT, "", True),
    ],
)
def test_the_card_knows_whether_the_citizen_has_a_portal_account(
    channel: Channel, login: str, portal_account: bool
) -> None:
    event = CaseStream("c", channel=channel).created(citizen=a_citizen(account_login=login))
    fact = CaseEventDecoder(NoDeadlines()).decode(event.SerializeToString()).fact
    assert isinstance(fact, Registered) and fact.card.portal_account is portal_account


def test_a_repeat_names_the_case_it_repeats() -> None:
    event = CaseStream("new").created()
    event.created.repeat_of = "original"
    fact = CaseEventDecoder(NoDeadlines()).decode(event.SerializeToString()).fact
    assert isinstance(fact, Registered) and fact.repeat_of == "original"


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
