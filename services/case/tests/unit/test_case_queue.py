"""The case index as the desk's queues read it (memory and SQLite alike): the criteria of a
queue view, the SLA clock with each row, the nearest-deadline order and its keyset pages, and the
open work a supervisor's overview counts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application import CommandMeta
from casedesk_case.application.timeline import ClockState
from casedesk_case.application.views import CaseFilter, CaseOrder, QueueLoad, SpecialistLoad
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.person_rules import Person, Role
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    Category,
    EscalationReason,
    EventContext,
    Status,
    Tier,
)
from casedesk_case.testing import CaseApplication
from casedesk_case.testing.case_timeline import FixedClocks

from ..conftest import SPECIALIST, answer, create, meta

IVANOVA = CommandMeta(
    EventContext(Actor(ActorKind.SPECIALIST, "l1.ivanova")),
    person=Person("l1.ivanova", frozenset({Role.SPECIALIST}), Tier.L1),
)


def meta_l2() -> EventContext:
    return EventContext(Actor(ActorKind.SPECIALIST, "l2-001"))


NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def projector(app: CaseApplication) -> CaseIndexProjector:
    return CaseIndexProjector(app, app.index)


@pytest.fixture
def clocks(app: CaseApplication) -> FixedClocks:
    return FixedClocks(app)


def start(app: CaseApplication, case_id: str) -> None:
    app.change_status(case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))


def numbers(app: CaseApplication, criteria: CaseFilter, page_size: int = 2) -> list[str]:
    """Every page of the listing, in order."""
    seen: list[str] = []
    token = ""
    while True:
        page = app.list_cases(criteria, page_size=page_size, page_token=token)
        assert len(page.cases) == page_size or not page.next_page_token  # never a thin page
        seen += [c.number for c in page.cases]
        token = page.next_page_token
        if not token:
            return seen


def test_a_persons_own_list_includes_what_the_roster_routed_to_the_slot_they_work(
    app: CaseApplication, projector: CaseIndexProjector
) -> None:
    # The shipped roster's slot l1-001 (sign-in and general queues) is worked by l1.ivanova.
    routed_to_her = create(app, category=Category.REGISTRATION_SIGN_IN)
    routed_elsewhere = create(app)  # TECHNICAL_FAULT: l1-004 or l1-005, nobody named
    taken = create(app)
    app.change_status(taken.case_id, to_status=Status.IN_PROGRESS, reason="", meta=IVANOVA)
    projector.catch_up()
    assert app.get_case(routed_to_her.case_id).assignee == "l1-001"

    def listed(**criteria: object) -> set[str]:
        page = app.list_cases(CaseFilter(**criteria), page_size=50)  # type: ignore[arg-type]
        return {c.case_id for c in page.cases}

    assert listed(assignee="l1.ivanova") == {routed_to_her.case_id, taken.case_id}
    # Routed is not taken: the case is still nobody's, so any specialist of the tier may take it.
    assert routed_to_her.case_id in listed(unassigned=True)
    assert listed(assignee="l1-001") == {routed_to_her.case_id}
    assert routed_elsewhere.case_id not in listed(assignee="l1.ivanova")


def test_a_queue_view_combines_tier_open_category_and_nobody_holding_it(
    app: CaseApplication, projector: CaseIndexProjector
) -> None:
    routed = create(app)  # TECHNICAL_FAULT: routed to a roster slot (l1-004 or l1-005)
    other = create(app, category=Category.SERVICE_DELIVERY)
    up = create(app)
    app.escalate(up.case_id, to_tier=Tier.L2, reason=EscalationReason.CRITICAL_ERROR, meta=meta())
    taken = create(app)
    app.change_status(taken.case_id, to_status=Status.IN_PROGRESS, reason="", meta=IVANOVA)
    projector.catch_up()

    def listed(**criteria: object) -> set[str]:
        page = app.list_cases(CaseFilter(**criteria), page_size=50)  # type: ignore[arg-type]
        return {c.case_id for c in page.cases}

    assert listed(tier=Tier.L2) == {up.case_id}
    assert listed(category=Category.SERVICE_DELIVERY) == {other.case_id}
    assert listed(tier=Tier.L1, category=Category.TECHNICAL_FAULT) == {
        routed.case_id, taken.case_id,
    }  # fmt: skip
    # Routed to a roster slot is nobody's yet: only the case a person took is held.
    assert listed(unassigned=True) == {routed.case_id, other.case_id, up.case_id}
    assert listed(assignee="l1.ivanova") == {taken.case_id}
    assert listed(within_tiers=frozenset({Tier.L1})) == {
        routed.case_id, other.case_id, taken.case_id,
    }  # fmt: skip
    assert listed(within_tiers=frozenset()) == set()
    assert listed(status=Status.IN_PROGRESS, open_only=True) == {taken.case_id}  # status wins
    # An answered case leaves the open views (open_only), not the index.
    answer(app, routed.case_id)
    start(app, routed.case_id)
    app.change_status(
        routed.case_id, to_status=Status.ANSWER_READY, reason="", meta=meta(SPECIALIST)
    )
    projector.catch_up()
    assert listed(open_only=True) == {other.case_id, up.case_id, taken.case_id}
    assert routed.case_id in listed()


def test_every_row_carries_its_category_version_and_clock(
    app: CaseApplication, projector: CaseIndexProjector, clocks: FixedClocks
) -> None:
    case = create(app, category=Category.REGISTRATION_SIGN_IN)
    start(app, case.case_id)
    projector.catch_up()
    clock = clocks.set(case.case_id, ClockState.WARNING, NOW, target="FIRST_RESPONSE")
    (row,) = app.list_cases(CaseFilter()).cases
    assert (row.category, row.version, row.clock) == (Category.REGISTRATION_SIGN_IN, 3, clock)
    assert app.index.summaries([case.case_id])[case.case_id].clock == clock
    assert app.index.rows([case.case_id])[case.case_id].clock is None  # the projector's rows


def test_the_deadline_order_pages_nearest_first_then_the_longest_waiting(
    app: CaseApplication, projector: CaseIndexProjector, clocks: FixedClocks
) -> None:
    cases = [create(app) for _ in range(8)]
    n = [c.number for c in cases]
    ids = [c.case_id for c in cases]
    clocks.set(ids[0], ClockState.RUNNING, NOW + timedelta(hours=5))
    clocks.set(ids[1], ClockState.BREACHED, NOW - timedelta(hours=1))
    clocks.set(ids[2], ClockState.PAUSED, NOW + timedelta(hours=1))  # keeps its last deadline
    clocks.set(ids[3], ClockState.WARNING, NOW + timedelta(hours=1))  # the same deadline: by age
    clocks.set(ids[4], ClockState.NONE, NOW - timedelta(days=1))  # met: no deadline to chase
    clocks.set(ids[5], ClockState.RUNNING, None)  # nothing to order by
    projector.catch_up()
    by_deadline = CaseFilter(order=CaseOrder.DEADLINE)
    assert numbers(app, by_deadline) == [n[1], n[2], n[3], n[0], n[4], n[5], n[6], n[7]]
    assert numbers(app, by_deadline, page_size=3) == numbers(app, by_deadline, page_size=50)
    assert numbers(app, CaseFilter()) == list(reversed(n))  # registration order, as before
    # A page's token is for its own order only.
    token = app.list_cases(CaseFilter(), page_size=1).next_page_token
    with pytest.raises(InvalidCommand) as refused:
        app.list_cases(by_deadline, page_size=1, page_token=token)
    assert (refused.value.field, refused.value.description) == (
        "page_token", "is not a token from a previous page in the deadline order",
    )  # fmt: skip


def test_the_open_work_per_queue_and_specialist(
    app: CaseApplication, projector: CaseIndexProjector, clocks: FixedClocks
) -> None:
    first, second, third = (create(app) for _ in range(3))  # l1-technical: l1-004, l1-005
    start(app, second.case_id)
    app.change_status(
        second.case_id, to_status=Status.WAITING_FOR_CITIZEN, reason="", meta=meta(SPECIALIST)
    )
    app.escalate(
        third.case_id, to_tier=Tier.L2, reason=EscalationReason.CRITICAL_ERROR, meta=meta()
    )
    clocks.set(first.case_id, ClockState.BREACHED, NOW)
    clocks.set(third.case_id, ClockState.BREACHED, NOW)
    answer(app, third.case_id, context=meta_l2())
    start(app, third.case_id)
    app.change_status(third.case_id, to_status=Status.ANSWER_READY, reason="", meta=meta())
    projector.catch_up()
    load = app.index.desk_load(app.roster_ids())
    assert load.queues == [QueueLoad(Tier.L1, "l1-technical", 2, 2, 1)]  # answered: not open
    assert (first.assignee, second.assignee) == ("l1-004", "l1-005")
    assert load.specialists == [SpecialistLoad("l1-004", 1, 0), SpecialistLoad("l1-005", 1, 1)]
    # Without roster ids every assignee is somebody: nothing is unassigned.
    assert app.index.desk_load(frozenset()).queues[0].unassigned == 0


def test_an_index_made_before_categories_gets_the_column_and_a_rebuild_fills_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    app = CaseApplication(env=env)
    case = create(app)
    CaseIndexProjector(app, app.index).catch_up()
    app.close()
    with sqlite3.connect(path) as connection:  # as the index was before the column
        for index in ("case_index_category",):
            connection.execute(f"DROP INDEX {index}")
        connection.execute("ALTER TABLE case_index DROP COLUMN category")
    app = CaseApplication(env=env)
    try:
        (row,) = app.list_cases(CaseFilter()).cases
        assert (row.case_id, row.category) == (case.case_id, None)
        assert app.list_cases(CaseFilter(category=Category.TECHNICAL_FAULT)).cases == []
        CaseIndexProjector(app, app.index).rebuild()
        (row,) = app.list_cases(CaseFilter(category=Category.TECHNICAL_FAULT)).cases
        assert row.category is Category.TECHNICAL_FAULT
    finally:
        app.close()
