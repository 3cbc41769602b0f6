"""The pages as a browser gets them: the queue (server-side filters, its live stream), the case
page (history with the SLA timeline, the deadline, attachments, who else has it open), the
supervisors' overview."""

from __future__ import annotations

import json
from datetime import date, timedelta

from casedesk_desk.application.ports import (
    HistoryItem,
    QueueChange,
    QueuePage,
    QueueQuery,
    Timeline,
)
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.overview import DayCompliance, Overview, QueueLoad, SpecialistLoad
from casedesk_desk.domain.presence import Viewer
from casedesk_desk.domain.queue import Clock, SlaState
from casedesk_desk.web.app import COOKIE

from .apps import DeskUnderTest, desk_app
from .fakes import T0, FakeCases, case_details, queue_row, signed_in


def _desk(cases: FakeCases, *roles: str) -> DeskUnderTest:
    under_test = desk_app(cases)
    session = signed_in(under_test.store, "L1", *roles)
    under_test.client.cookies.set(COOKIE, session.session_id)
    return under_test


def test_the_queue_page_shows_the_case_services_page_with_its_filters_and_live_stream() -> None:
    cases = FakeCases()
    clock = Clock(SlaState.BREACHED, "FIRST_RESPONSE", T0, T0 - timedelta(hours=1))
    cases.pages = [QueuePage([queue_row("2026-000007", clock=clock)], "tok-2")]
    client = _desk(cases).client
    reply = client.get("/queue?view=tier&channel=PORTAL_CHAT&category=REGISTRATION_SIGN_IN")
    assert reply.status_code == 200
    assert cases.calls[0] == (
        "list_cases",
        "access",
        QueueQuery(
            channel="PORTAL_CHAT", category="REGISTRATION_SIGN_IN", tier="L1", open_only=True
        ),
    )
    page = reply.text
    assert 'data-case-id="c-2026-000007"' in page and "urgency-breach" in page
    assert (
        'data-live="/queue/live?view=tier&amp;channel=PORTAL_CHAT&amp;category=REGISTRATION_SIGN_IN"'
        in page
    )
    assert 'aria-live="polite"' in page
    assert (
        'href="/queue?view=tier&amp;channel=PORTAL_CHAT&amp;category=REGISTRATION_SIGN_IN&amp;page=tok-2"'
        in page
    )
    assert '<option value="REGISTRATION_SIGN_IN" selected>' in page


def test_a_bad_filter_is_refused_with_what_is_wrong() -> None:
    cases = FakeCases()
    reply = _desk(cases).client.get("/queue?view=tier&status=LOST")
    assert reply.status_code == 422
    assert "Неизвестный статус в фильтре." in reply.text
    assert cases.calls == []


def test_the_queue_stream_sends_rows_that_belong_and_nulls_for_those_that_left() -> None:
    cases = FakeCases()
    cases.queue_changes = [
        QueueChange("41", queue_row("7"), "Created"),
        QueueChange("42", queue_row("7", assignee="l2.petrov"), "Assigned"),
    ]
    cases.queue_end = Refused(RefusalKind.NOT_FOUND, "нет")
    reply = _desk(cases).client.get("/queue/live?view=unassigned", headers={"Last-Event-ID": "40"})
    assert reply.status_code == 200
    assert [c for c in cases.calls if c[0] == "watch_queue"] == [("watch_queue", "access", "40")]
    events = [b.splitlines() for b in reply.text.split("\n\n") if b.startswith("id:")]
    assert [e[:2] for e in events] == [["id: 41", "event: row"], ["id: 42", "event: row"]]
    added = json.loads(events[0][2].removeprefix("data: "))
    assert 'data-case-id="c-7"' in added["html"] and added["order"].startswith("1")
    assert added["announce"]["added"] == "В очереди новое обращение № 7, статус «Зарегистрирована»."
    left = json.loads(events[1][2].removeprefix("data: "))
    assert left["html"] is None and left["case_id"] == "c-7"
    assert left["announce"]["removed"] == "Обращение № 7 больше не в этой очереди."
    assert reply.text.endswith("event: end\ndata: \n\n")


def test_the_case_page_merges_the_timeline_into_the_history_and_shows_the_clock() -> None:
    cases = FakeCases()
    cases.history_items = [
        HistoryItem(T0, "Гражданин", "Обращение зарегистрировано, № 1", version=1),
        HistoryItem(T0 + timedelta(hours=2), "l1.ivanova", "Статус: «В работе»", version=2),
    ]
    cases.timeline_value = Timeline(
        [
            HistoryItem(
                T0 + timedelta(hours=1),
                "Служба сроков",
                "Срок первого ответа нарушен",
                source="sla",
            )
        ],
        Clock(SlaState.RUNNING, "RESOLUTION", T0 + timedelta(days=400), T0),
    )
    desk = _desk(cases)
    ticket = desk.board._presence.join("c-1", Viewer("l2.petrov", "Петров Пётр", "L2"))
    reply = desk.client.get("/cases/c-1")
    assert reply.status_code == 200
    page = reply.text
    lines = [page.index(w) for w in ("зарегистрировано", "первого ответа нарушен", "«В работе»")]
    assert lines == sorted(lines)
    assert '<li class="sla">' in page.replace("\n", "")
    assert 'id="deadline" class="urgency-ok"' in page and "осталось" in page
    assert "открыто также у: Петров Пётр (L2)." in page
    assert desk.board._presence.leave(ticket) == "c-1"
    assert [c[0] for c in cases.calls] == ["get_case", "history", "timeline"]
    assert {c[3] for c in cases.calls} == {"работа с обращением"}


def test_the_case_page_lists_attachments_and_stands_without_the_timeline() -> None:
    from casedesk_desk.application.ports import AttachmentInfo

    cases = FakeCases()
    cases.case = case_details(attachments=[AttachmentInfo("a/1", "скрин.png", "image/png", 14_336)])
    cases.refuse["timeline"] = Refused(RefusalKind.UNAVAILABLE, "нет связи", "UNAVAILABLE")
    reply = _desk(cases).client.get("/cases/c-1")
    assert reply.status_code == 200
    assert 'href="/cases/c-1/attachments/a/1"' not in reply.text
    assert 'href="/cases/c-1/attachments/a%2F1" download>скрин.png</a> (14 КБ)' in reply.text
    assert "Сроки и уведомления сейчас недоступны" in reply.text


def test_a_citizens_message_shows_the_files_that_came_with_it() -> None:
    """Documents a citizen sends as asked come with his comment: the case page's conversation
    lists them under his message, each opened through the case's attachment route."""
    from casedesk.case.v1 import events_pb2
    from casedesk.common.v1 import envelope_pb2, types_pb2
    from casedesk_desk.wire.cases import history_item

    event = events_pb2.CaseEvent(
        meta=envelope_pb2.EventMeta(
            case_id="c-1", actor=types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id="ivanov.ii")
        ),
        commented=events_pb2.Commented(
            comment_id="m-1", body="Прикладываю скан", public=True,
            attachments=[types_pb2.Attachment(attachment_id="f/1", file_name="скан.pdf",
                                              size_bytes=2_048_000)],
        ),
    )  # fmt: skip
    item = history_item(event)
    assert [f.file_name for f in item.files] == ["скан.pdf"] and item.case_id == "c-1"
    cases = FakeCases()
    cases.history_items = [item]
    page = _desk(cases).client.get("/cases/c-1").text
    assert 'href="/cases/c-1/attachments/f%2F1" download>скан.pdf</a> (2,0 МБ)' in page


def test_a_case_above_the_readers_tier_is_a_403_page_in_russian() -> None:
    cases = FakeCases()
    cases.refuse["get_case"] = Refused(
        RefusalKind.FORBIDDEN, "Недостаточно прав: …", "l1.ivanova (L1) may not open an L3 case"
    )
    reply = _desk(cases).client.get("/cases/c-1")
    assert reply.status_code == 403
    assert "Недостаточно прав: …" in reply.text


def _overview() -> Overview:
    days = [DayCompliance(date(2026, 3, 1) + timedelta(n), 3 * n, n % 2, n % 3) for n in range(14)]
    return Overview(
        as_of=T0,
        queues=[
            QueueLoad("L1", "general", 12, 4, 1),
            QueueLoad("L1", "fines", 3, 0, 0),
            QueueLoad("L2", "general", 2, 1, 0),
        ],
        specialists=[SpecialistLoad("l1-001", 7, 2)],
        breaches_today=5,
        days=days,
    )


def test_the_supervisor_page_draws_the_chart_and_the_same_figures_in_a_table() -> None:
    cases = FakeCases()
    cases.overview_value = _overview()
    reply = _desk(cases, "specialist", "supervisor").client.get("/supervisor")
    assert reply.status_code == 200
    assert cases.calls == [("overview", "access", 14)]
    page = reply.text
    assert 'href="/supervisor"' in page  # the menu offers it to supervisors
    assert '<svg id="compliance-chart" role="img" aria-labelledby="chart-title chart-desc"' in page
    assert page.count('class="bar-on-time"') == 13  # day 1 met nothing on time: no bar
    assert "<script" not in page.split("<main", 1)[1]
    assert 'id="breaches-today">5<' in page
    assert '<th scope="row">L1</th><td>15</td><td>4</td><td>1</td>' in page
    assert '<th scope="row">14.03.2026</th><td>39</td><td>1</td><td>1</td><td>98 %</td>' in page


def test_a_non_supervisor_gets_the_case_services_refusal_and_no_menu_link() -> None:
    cases = FakeCases()
    cases.refuse["overview"] = Refused(
        RefusalKind.FORBIDDEN,
        "Недостаточно прав: обзор очередей и сроков доступен только руководителю.",
        "l1.ivanova (L1) may not see the desk overview: it needs the role supervisor",
    )
    client = _desk(cases).client
    reply = client.get("/supervisor")
    assert reply.status_code == 403
    assert "обзор очередей и сроков доступен только руководителю" in reply.text
    assert 'href="/supervisor"' not in client.get("/queue").text
