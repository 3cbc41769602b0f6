"""Every pair of statuses: legal transitions happen, illegal ones are refused with the options."""

from __future__ import annotations

import itertools

import pytest

from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import IllegalTransition
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    EventContext,
    Origin,
    Priority,
    Status,
    Tier,
)

CONTEXT = EventContext(Actor(ActorKind.SPECIALIST, "l1-001"))

# Written out independently of the implementation's table on purpose.
LEGAL = {
    (Status.REGISTERED, Status.IN_PROGRESS),
    (Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN),
    (Status.IN_PROGRESS, Status.ANSWER_READY),
    (Status.WAITING_FOR_CITIZEN, Status.IN_PROGRESS),
    (Status.WAITING_FOR_CITIZEN, Status.ANSWER_READY),
    (Status.ANSWER_READY, Status.CLOSED),
}

# A legal path that reaches each status, to start a transition from it.
PATH_TO = {
    Status.REGISTERED: [],
    Status.IN_PROGRESS: [Status.IN_PROGRESS],
    Status.WAITING_FOR_CITIZEN: [Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN],
    Status.ANSWER_READY: [Status.IN_PROGRESS, Status.ANSWER_READY],
    Status.CLOSED: [Status.IN_PROGRESS, Status.ANSWER_READY, Status.CLOSED],
}


def new_case() -> Case:
    return Case(
        number="2026-0000001", channel=Channel.PORTAL_CHAT, case_type=CaseType.CONSULTATION,
        category=Category.OTHER, queue="l1-general", tier=Tier.L1, priority=Priority.NORMAL,
        citizen=Citizen(account_login="petrov"), content=CaseContent(subject="Вопрос"),
        origin=Origin(), attachments=[], repeat_of="", linked_to="", context=CONTEXT,
    )  # fmt: skip


def reply(case: Case) -> None:
    """The specialist's public answer that «Ответ готов» needs (test_case_rules.py tests it)."""
    case.comment("answer-1", "Ответ", True, [], CONTEXT)


def case_in(status: Status) -> Case:
    case = new_case()
    for step in PATH_TO[status]:
        if step is Status.ANSWER_READY:
            reply(case)
        case.change_status(step, "", CONTEXT)
    assert case.status is status
    return case


@pytest.mark.parametrize(("current", "requested"), sorted(LEGAL, key=str))
def test_legal_transition_records_status_changed(current: Status, requested: Status) -> None:
    case = case_in(current)
    if requested is Status.ANSWER_READY:
        reply(case)
    version = case.version
    case.change_status(requested, "because", CONTEXT)
    assert case.status is requested
    recorded = case.pending_events[-1]
    assert isinstance(recorded, Case.StatusChanged)
    assert (recorded.from_status, recorded.to_status, recorded.reason) == (
        current,
        requested,
        "because",
    )
    assert case.version == version + 1


ILLEGAL = [p for p in itertools.product(Status, Status) if p not in LEGAL]


@pytest.mark.parametrize(("current", "requested"), ILLEGAL, ids=lambda s: s.value)
def test_illegal_transition_is_refused_naming_the_allowed_ones(
    current: Status, requested: Status
) -> None:
    case = case_in(current)
    version = case.version
    with pytest.raises(IllegalTransition) as refused:
        case.change_status(requested, "", CONTEXT)
    allowed = sorted(to.value for (frm, to) in LEGAL if frm is current)
    message = str(refused.value)
    assert f"from {current.value} to {requested.value}" in message
    if allowed:
        assert f"allowed: {', '.join(allowed)}" in message
    else:
        assert "none (the case is final)" in message
    assert case.status is current and case.version == version
