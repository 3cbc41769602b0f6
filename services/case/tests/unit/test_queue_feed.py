"""WatchQueue's changes: each case event with the case's summary once the event is in it, whether
the case index is behind, caught up or ahead; only what the reader opens; each one journaled."""

from __future__ import annotations

import pytest

from casedesk_case.adapters.queue_feed import CaseQueueFeed
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application.person_reads import Reader
from casedesk_case.application.views import AccessFilter
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.person_rules import Person, Role
from casedesk_case.domain.values import EscalationReason, Status, Tier
from casedesk_case.testing import CaseApplication

from ..conftest import SPECIALIST, create, meta

IVANOVA = Reader(Person("l1.ivanova", frozenset({Role.SPECIALIST}), Tier.L1), "desk")
SIDOROVA = Reader(Person("l3.sidorova", frozenset({Role.SPECIALIST}), Tier.L3), "desk")
AUDITOR = Person("audit.kuznetsov", frozenset({Role.AUDITOR}))


def start(app: CaseApplication, case_id: str) -> None:
    app.change_status(case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))


@pytest.mark.parametrize("index", ["behind", "half-way", "ahead"])
def test_each_change_carries_the_case_with_that_change_in_it(
    app: CaseApplication, index: str
) -> None:
    feed, projector = CaseQueueFeed(app, batch_size=2), CaseIndexProjector(app, app.index)
    position = feed.start_position(None)
    case = create(app)  # Created, Assigned
    if index == "half-way":
        projector.catch_up()  # the index has the case as registered, not what follows
    start(app, case.case_id)
    if index == "ahead":
        projector.catch_up()
    changes, more = [], True
    while more:
        batch, position, more = feed.changes_after(SIDOROVA, position)
        changes += batch
    # An index already past an event sends the case as it is now (later changes follow).
    versions = {"behind": [1, 2, 3], "half-way": [2, 2, 3], "ahead": [3, 3, 3]}[index]
    assert [(c.event_type, c.summary.version) for c in changes] == list(
        zip(["Created", "Assigned", "StatusChanged"], versions, strict=True)
    )
    assert changes[-1].summary.status is Status.IN_PROGRESS
    assert changes[1].summary.assignee == case.assignee
    assert [c.position for c in changes] == sorted(c.position for c in changes)
    assert feed.changes_after(SIDOROVA, position) == ([], position, False)
    # Resuming after a change sends what followed it, exactly.
    again, _, _ = feed.changes_after(SIDOROVA, changes[0].position)
    assert [c.event_type for c in again] == ["Assigned", "StatusChanged"]


def test_a_reader_gets_only_the_changes_of_cases_he_opens_each_journaled(
    app: CaseApplication,
) -> None:
    feed = CaseQueueFeed(app)
    position = feed.start_position(None)
    mine, up = create(app), create(app)
    app.escalate(up.case_id, to_tier=Tier.L3, reason=EscalationReason.CRITICAL_ERROR, meta=meta())
    changes, _, more = feed.changes_after(IVANOVA, position)
    assert not more
    # The L3 case is not hers now, whatever it was when registered; its escalation tells her
    # desk to drop it, with nothing of the case's content.
    assert [(c.summary.case_id, c.event_type) for c in changes] == [
        (mine.case_id, "Created"), (mine.case_id, "Assigned"), (up.case_id, "Escalated"),
    ]  # fmt: skip
    left = changes[-1]
    assert (left.summary.tier, left.escalated_from) == (Tier.L3, Tier.L1)
    assert (left.summary.subject, left.summary.assignee) == ("", "")
    assert changes[0].summary.subject == "Не приходит СМС-код"
    records = app.person_reads.access_records(AUDITOR, AccessFilter()).records
    assert [(r.entry.rpc, r.entry.case_id) for r in records] == [
        ("WatchQueue", mine.case_id),
        ("WatchQueue", mine.case_id),
    ]


def test_a_position_ahead_of_the_log_is_refused(app: CaseApplication) -> None:
    feed = CaseQueueFeed(app)
    create(app)
    latest = feed.start_position(None)
    assert feed.start_position(latest) == latest
    with pytest.raises(InvalidCommand) as refused:
        feed.start_position(latest + 1)
    assert refused.value.field == "after_position"
