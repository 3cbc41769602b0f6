"""People's reads: each one journaled, a case they may not see answered exactly as a missing one."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application.person_reads import Reader
from casedesk_case.application.views import AccessFilter, CaseFilter
from casedesk_case.cli import verify_journal
from casedesk_case.domain.errors import CaseNotFound, InvalidCommand, NotPermitted
from casedesk_case.domain.person_rules import Person, Role
from casedesk_case.domain.values import EscalationReason, Tier
from casedesk_case.testing import CaseApplication

from ..conftest import create, meta

IVANOVA = Reader(Person("l1.ivanova", frozenset({Role.SPECIALIST}), Tier.L1), "desk")
PETROV = Reader(Person("l2.petrov", frozenset({Role.SPECIALIST}), Tier.L2), "desk")
AUDITOR = Person("audit.kuznetsov", frozenset({Role.AUDITOR}))
GUEST = Reader(Person("guest", frozenset()), "desk")  # a valid token without a casedesk role


def journal(app: CaseApplication, **criteria: str) -> list[tuple[str, str, str]]:
    page = app.person_reads.access_records(AUDITOR, AccessFilter(**criteria), page_size=1000)
    return [(r.entry.rpc, r.entry.case_id, r.entry.person) for r in page.records]


def test_every_read_of_a_case_is_journaled_once_per_case(app: CaseApplication) -> None:
    reads = app.person_reads
    first, second = create(app), create(app)
    reads.get_case(IVANOVA, first.case_id)
    reads.get_case_by_number(IVANOVA, second.number, as_of_version=1)
    reads.history(IVANOVA, first.case_id)
    reads.start_watch(IVANOVA, second.case_id)
    CaseIndexProjector(app, app.index).catch_up()  # the list reads the case index
    listed = reads.list_cases(IVANOVA, CaseFilter(citizen_login="ivanov.ii"))
    assert {s.case_id for s in listed.cases} == {first.case_id, second.case_id}
    who = "l1.ivanova"
    assert journal(app) == [
        ("GetCase", first.case_id, who),
        ("GetCase", second.case_id, who),
        ("GetHistory", first.case_id, who),
        ("WatchCase", second.case_id, who),
        *sorted((("ListCases", s.case_id, who) for s in listed.cases), key=_order(listed)),
    ]
    record = app.person_reads.access_records(AUDITOR, AccessFilter(case_id=first.case_id)).records
    assert {(r.entry.role, r.entry.caller, r.entry.purpose) for r in record} == {
        ("specialist L1", "desk", "case work")
    }
    assert app.person_reads.verify_journal().intact


def test_a_hidden_case_answers_exactly_as_a_missing_one(app: CaseApplication) -> None:
    reads = app.person_reads
    existing, missing = create(app), str(uuid.uuid4())
    before = datetime.now(UTC) - timedelta(days=1)

    def refusal(read, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
        with pytest.raises(CaseNotFound) as refused:
            read(GUEST, *args, **kwargs)
        return str(refused.value)

    for read, kwargs in (
        (reads.get_case, {}),
        (reads.get_case, {"as_of_time": before}),  # "registered later" would tell it exists
        (reads.get_case, {"as_of_version": 1}),
        (reads.history, {}),
        (reads.start_watch, {}),
    ):
        hidden = refusal(read, existing.case_id, **kwargs).replace(existing.case_id, "<id>")
        absent = refusal(read, missing, **kwargs).replace(missing, "<id>")
        assert hidden == absent == "case <id> not found"
    unused_number = existing.number[:-7] + "9999999"
    assert refusal(reads.get_case_by_number, existing.number) == (
        f"case {existing.number} not found"
    )
    assert refusal(reads.get_case_by_number, unused_number) == f"case {unused_number} not found"
    CaseIndexProjector(app, app.index).catch_up()
    assert reads.list_cases(GUEST, CaseFilter(), page_size=1).next_page_token == ""
    assert reads.list_cases(GUEST, CaseFilter()).cases == []
    assert journal(app) == []  # nothing was read


def test_a_specialist_opens_the_cases_of_his_tier_and_below_and_is_told_why_not_others(
    app: CaseApplication,
) -> None:
    reads = app.person_reads
    l2_case = create(app)
    app.escalate(l2_case.case_id, to_tier=Tier.L2, reason=EscalationReason.CRITICAL_ERROR,
                 meta=meta())  # fmt: skip
    refusal = "l1.ivanova (L1) may not open an L2 case"
    for read, kwargs in (
        (reads.get_case, {}),
        (reads.get_case, {"as_of_version": 1}),  # it was L1 then; it is L2 now
        (reads.history, {}),
        (reads.start_watch, {}),
    ):
        with pytest.raises(NotPermitted) as refused:
            read(IVANOVA, l2_case.case_id, **kwargs)
        assert str(refused.value) == refusal
    with pytest.raises(NotPermitted, match=f"^{re.escape(refusal)}$"):
        reads.get_case_by_number(IVANOVA, l2_case.number)
    with pytest.raises(CaseNotFound):  # a missing case is still just missing
        reads.get_case(IVANOVA, str(uuid.uuid4()))
    assert reads.get_case(PETROV, l2_case.case_id).tier is Tier.L2
    assert journal(app) == [("GetCase", l2_case.case_id, "l2.petrov")]  # refusals read nothing


def test_a_list_asks_only_for_the_tiers_its_reader_opens_so_pages_stay_full(
    app: CaseApplication,
) -> None:
    cases = [create(app) for _ in range(9)]
    for case in cases[::3]:  # every third case goes up to L3
        app.escalate(case.case_id, to_tier=Tier.L3, reason=EscalationReason.CRITICAL_ERROR,
                     meta=meta())  # fmt: skip
    CaseIndexProjector(app, app.index).catch_up()
    reads = app.person_reads
    l1_cases = [c.case_id for c in reversed(cases) if c not in cases[::3]]
    listed, token = [], ""
    while True:
        page = reads.list_cases(IVANOVA, CaseFilter(), page_size=2, page_token=token)
        assert len(page.cases) == 2 or not page.next_page_token
        listed += [c.case_id for c in page.cases]
        token = page.next_page_token
        if not token:
            break
    assert listed == l1_cases
    sidorova = Reader(Person("l3.sidorova", frozenset({Role.SPECIALIST}), Tier.L3), "desk")
    assert len(reads.list_cases(sidorova, CaseFilter(), page_size=50).cases) == 9
    with pytest.raises(NotPermitted, match=r"^l1.ivanova \(L1\) may not open an L3 case$"):
        reads.list_cases(IVANOVA, CaseFilter(tier=Tier.L3))
    l3_only = reads.list_cases(sidorova, CaseFilter(tier=Tier.L3), page_size=50).cases
    assert {c.case_id for c in l3_only} == {c.case_id for c in cases[::3]}


def test_only_auditors_read_the_journal_and_it_pages_in_order(app: CaseApplication) -> None:
    case = create(app)
    for _ in range(5):
        app.person_reads.get_case(IVANOVA, case.case_id)
    with pytest.raises(NotPermitted, match="only auditors do"):
        app.person_reads.access_records(IVANOVA.person, AccessFilter())
    sequences, token = [], ""
    while True:
        page = app.person_reads.access_records(
            AUDITOR, AccessFilter(person="l1.ivanova"), page_size=2, page_token=token
        )
        sequences += [r.sequence for r in page.records]
        token = page.next_page_token
        if not token:
            break
    assert sequences == [1, 2, 3, 4, 5]
    with pytest.raises(InvalidCommand, match="page_token"):
        app.person_reads.access_records(AUDITOR, AccessFilter(), page_token="not-a-token")


def test_a_record_changed_behind_the_services_back_is_found(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    app = CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                               "SQLITE_DBNAME": str(path)})  # fmt: skip
    try:
        case = create(app)
        for _ in range(3):
            app.person_reads.get_case(IVANOVA, case.case_id)
        assert app.person_reads.verify_journal().records == 3
        # Whoever can drop the guard can rewrite a record; the chain still tells.
        with sqlite3.connect(path) as connection:
            connection.execute("DROP TRIGGER case_access_journal_no_update")
            connection.execute(
                "UPDATE case_access_journal SET person = 'l3.sidorova' WHERE sequence = 2"
            )
        check = app.person_reads.verify_journal(batch=2)
        assert (check.intact, check.broken_at, check.records) == (False, 2, 1)
    finally:
        app.close()


def _order(page):  # type: ignore[no-untyped-def]
    positions = {s.case_id: n for n, s in enumerate(page.cases)}
    return lambda row: positions[row[1]]


def test_the_operators_check_reports_an_intact_and_a_broken_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.db"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    app = CaseApplication(env=env)
    case = create(app)
    app.person_reads.get_case(IVANOVA, case.case_id)
    app.person_reads.get_case(IVANOVA, case.case_id)
    app.close()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert verify_journal.main() == 0
    assert "access journal intact: 2 records, last hash " in capsys.readouterr().out
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TRIGGER case_access_journal_no_delete")
        connection.execute("DELETE FROM case_access_journal WHERE sequence = 1")
    assert verify_journal.main() == 1
    assert capsys.readouterr().out.startswith(
        "access journal BROKEN at record 1: expected record 1, found 2"
    )
