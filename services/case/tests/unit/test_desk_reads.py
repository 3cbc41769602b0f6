"""A case's timeline (read as its history is) and the supervisors' overview of the desk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application.desk_reads import DeskReads
from casedesk_case.application.person_reads import Reader
from casedesk_case.application.timeline import ClockState, DayCounts, NotificationFact, SlaFact
from casedesk_case.application.views import AccessFilter, QueueLoad, SpecialistLoad
from casedesk_case.domain.errors import InvalidCommand, NotPermitted
from casedesk_case.domain.person_rules import Person, Role
from casedesk_case.domain.values import EscalationReason, Tier
from casedesk_case.testing import CaseApplication
from casedesk_case.testing.case_timeline import FixedCaseTimeline, FixedClocks

from ..conftest import create, meta

# 02:30 in Moscow on 3 March: the Moscow day began at 21:00 UTC on 2 March.
NOW = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
IVANOVA = Reader(Person("l1.ivanova", frozenset({Role.SPECIALIST}), Tier.L1), "desk")
ORLOVA = Person("super.orlova", frozenset({Role.SUPERVISOR, Role.SPECIALIST}), Tier.L3)
AUDITOR = Person("audit.kuznetsov", frozenset({Role.AUDITOR}))


@pytest.fixture
def timeline() -> FixedCaseTimeline:
    return FixedCaseTimeline()


@pytest.fixture
def desk(app: CaseApplication, timeline: FixedCaseTimeline) -> DeskReads:
    return DeskReads(app.person_reads, app.index, app.roster, timeline, clock=lambda: NOW)


def breach(case_id: str, at: datetime) -> SlaFact:
    return SlaFact(f"sla-{case_id}-{at.isoformat()}", case_id, at, "RESOLUTION", "breached", at)


def test_a_timeline_is_read_under_the_read_rule_and_journaled(
    app: CaseApplication, desk: DeskReads, timeline: FixedCaseTimeline
) -> None:
    case, up = create(app), create(app)
    app.escalate(up.case_id, to_tier=Tier.L3, reason=EscalationReason.CRITICAL_ERROR, meta=meta())
    started = SlaFact("e-1", case.case_id, NOW, "FIRST_RESPONSE", "started", NOW)
    sent = NotificationFact("n-1", case.case_id, NOW, "SMS", "sent", "+7916*****67", "created")
    timeline.sla.append(started)
    timeline.notifications.append(sent)
    read = desk.case_timeline(IVANOVA, case.case_id)
    assert (list(read.sla), list(read.notifications)) == ([started], [sent])
    with pytest.raises(NotPermitted, match=r"^l1.ivanova \(L1\) may not open an L3 case$"):
        desk.case_timeline(IVANOVA, up.case_id)
    page = app.person_reads.access_records(AUDITOR, AccessFilter())
    assert [(r.entry.rpc, r.entry.case_id) for r in page.records] == [
        ("GetCaseTimeline", case.case_id)
    ]


def test_the_overview_counts_open_work_breaches_since_moscow_midnight_and_each_day(
    app: CaseApplication, desk: DeskReads, timeline: FixedCaseTimeline
) -> None:
    first, second = create(app), create(app)
    FixedClocks(app, timeline).set(first.case_id, ClockState.BREACHED, NOW)
    CaseIndexProjector(app, app.index).catch_up()
    midnight = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
    timeline.sla += [
        breach(first.case_id, midnight),
        breach(second.case_id, midnight - timedelta(seconds=1)),  # the day before, in Moscow
    ]
    today = date(2026, 3, 3)
    timeline.day_counts[today] = DayCounts(today, 3, 1, 1)
    overview = desk.overview(ORLOVA)
    assert (overview.as_of, overview.breaches_today) == (NOW, 1)
    assert [d.day for d in overview.compliance] == [
        today - timedelta(days=n) for n in reversed(range(14))
    ]
    assert overview.compliance[-1] == DayCounts(today, 3, 1, 1)
    assert timeline.asked_days == [(today - timedelta(days=13), today)]
    queues = {(q.tier, q.queue): q for q in overview.load.queues}
    assert queues[(Tier.L1, "l1-technical")] == QueueLoad(Tier.L1, "l1-technical", 2, 2, 1)
    # Every queue of the roster is there, empty ones too, by tier then name.
    assert queues[(Tier.L3, "l3-quality-control")] == QueueLoad(
        Tier.L3, "l3-quality-control", 0, 0, 0
    )
    assert list(queues) == sorted(queues, key=lambda key: (key[0].rank, key[1]))
    specialists = overview.load.specialists
    assert specialists[:2] == [SpecialistLoad("l1-004", 1, 0), SpecialistLoad("l1-005", 1, 0)]
    assert {s.specialist_id for s in specialists[2:]} == {
        s.id for s in app.roster.specialists if s.id not in {"l1-004", "l1-005"}
    }  # idle, so a supervisor sees whom to give work
    assert len(desk.overview(ORLOVA, days=1).compliance) == 1


@pytest.mark.parametrize("days", [-1, 91])
def test_the_overview_window_is_one_to_ninety_days(desk: DeskReads, days: int) -> None:
    with pytest.raises(InvalidCommand) as refused:
        desk.overview(ORLOVA, days=days)
    assert (refused.value.field, refused.value.description) == (
        "days",
        "must be 1 to 90 (0 or unset: 14)",
    )


def test_only_supervisors_see_the_overview(desk: DeskReads) -> None:
    for person in (IVANOVA.person, AUDITOR):
        with pytest.raises(NotPermitted, match="may not see the desk overview: it needs the role"):
            desk.overview(person)
