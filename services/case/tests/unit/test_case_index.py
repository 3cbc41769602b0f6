"""The case index (read model): filters, paging, loads, rebuild, competing projectors."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application.views import CaseFilter
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.values import Channel, Status
from casedesk_case.testing import CaseApplication

from ..conftest import SPECIALIST, answer, citizen, create, meta


@pytest.fixture
def projector(app: CaseApplication) -> CaseIndexProjector:
    return CaseIndexProjector(app, app.index, batch_size=7)


def test_lists_newest_first_in_pages(app: CaseApplication, projector: CaseIndexProjector) -> None:
    numbers = [create(app).number for _ in range(5)]
    projector.catch_up()
    seen: list[str] = []
    token = ""
    while True:
        page = app.list_cases(CaseFilter(), page_size=2, page_token=token)
        seen += [c.number for c in page.cases]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(numbers))


def test_filters_combine(app: CaseApplication, projector: CaseIndexProjector) -> None:
    mine = create(app, citizen=citizen("sidorov"), channel=Channel.PHONE)
    create(app, citizen=citizen("sidorov"), channel=Channel.EMAIL)
    create(app, citizen=citizen("other"), channel=Channel.PHONE)
    app.change_status(mine.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))
    projector.catch_up()
    found = app.list_cases(CaseFilter(citizen_login="sidorov", channel=Channel.PHONE)).cases
    assert [c.case_id for c in found] == [mine.case_id]
    assert found[0].status is Status.IN_PROGRESS and found[0].version == 3
    by_status = app.list_cases(CaseFilter(status=Status.IN_PROGRESS)).cases
    assert [c.case_id for c in by_status] == [mine.case_id]
    by_assignee = app.list_cases(CaseFilter(assignee=mine.assignee, queue=mine.queue)).cases
    assert mine.case_id in [c.case_id for c in by_assignee]


def test_closing_a_case_frees_its_specialist(
    app: CaseApplication, projector: CaseIndexProjector
) -> None:
    case = create(app)
    projector.catch_up()
    assert app.index.loads([case.assignee]) == {case.assignee: 1}
    app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))
    answer(app, case.case_id)
    app.change_status(case.case_id, to_status=Status.ANSWER_READY, reason="", meta=meta(SPECIALIST))
    projector.catch_up()
    assert app.index.loads([case.assignee]) == {}


def test_rebuild_reproduces_the_incremental_index(
    app: CaseApplication, projector: CaseIndexProjector
) -> None:
    for _ in range(6):
        case = create(app)
        app.change_status(
            case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST)
        )
        projector.catch_up()
    incremental = app.list_cases(CaseFilter(), page_size=100).cases
    loads = app.index.loads(["l1-004", "l1-005"])
    assert projector.rebuild() == 18
    assert app.list_cases(CaseFilter(), page_size=100).cases == incremental
    assert app.index.loads(["l1-004", "l1-005"]) == loads


def test_a_stale_projector_writes_nothing(
    app: CaseApplication, projector: CaseIndexProjector
) -> None:
    create(app)
    projector.catch_up()
    with pytest.raises(IntegrityError):
        app.index.write([], {"l1-004": 5}, Tracking(projector.tracking_name, projector.position()))
    assert app.index.loads(["l1-004"]).get("l1-004", 0) <= 1


def test_bad_page_token_is_invalid_input(app: CaseApplication) -> None:
    with pytest.raises(InvalidCommand) as refused:
        app.list_cases(CaseFilter(), page_token="%%%")
    assert refused.value.field == "page_token"
