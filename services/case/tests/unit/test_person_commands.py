"""People's commands in the application: the rules checked on the case as it is decided."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from uuid import UUID

import pytest

from casedesk_case.application import CommandMeta
from casedesk_case.domain.errors import IdempotencyKeyReused, NotPermitted
from casedesk_case.domain.person_rules import Person, Role
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    Channel,
    EscalationReason,
    EventContext,
    Status,
    Tier,
)
from casedesk_case.testing import CaseApplication
from casedesk_case.wire.events import to_case_event

from ..conftest import CITIZEN, answer, create, meta

IVANOVA = Person("l1.ivanova", frozenset({Role.SPECIALIST}), Tier.L1)
PETROV = Person("l2.petrov", frozenset({Role.SPECIALIST}), Tier.L2)
SIDOROVA = Person("l3.sidorova", frozenset({Role.SPECIALIST}), Tier.L3)
ORLOVA = Person("super.orlova", frozenset({Role.SUPERVISOR, Role.SPECIALIST}), Tier.L3)
KUZNETSOV = Person("audit.kuznetsov", frozenset({Role.AUDITOR}))


def acting(person: Person, key: str = "") -> CommandMeta:
    """What the gRPC layer hands the application for a person's command."""
    context = EventContext(Actor(ActorKind.SPECIALIST, person.username), correlation_id="c")
    return CommandMeta(context=context, idempotency_key=key, person=person)


def to_tier(app: CaseApplication, case_id: str, tier: Tier) -> None:
    app.escalate(case_id, to_tier=tier, reason=EscalationReason.RESOLUTION_BREACH, meta=meta())


def test_an_l1_specialist_takes_answers_and_readies_an_l1_case_as_themself(app) -> None:  # type: ignore[no-untyped-def]
    case = create(app)
    app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=acting(IVANOVA))
    app.add_comment(case.case_id, body="Код отправлен повторно", public=True, meta=acting(IVANOVA))
    done = app.change_status(
        case.case_id, to_status=Status.ANSWER_READY, reason="", meta=acting(IVANOVA)
    )
    assert (done.status, done.assignee) == (Status.ANSWER_READY, "l1.ivanova")
    events = app.history(case.case_id).events[2:]  # after Created and the roster's Assigned
    assert [type(e).__name__ for e in events] == [
        "Assigned", "StatusChanged", "Commented", "StatusChanged",
    ]  # fmt: skip
    assert [e.context.actor for e in events] == [Actor(ActorKind.SPECIALIST, "l1.ivanova")] * 4


def test_the_tier_rule_follows_the_case_up(app: CaseApplication) -> None:
    case = create(app)
    app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=acting(PETROV))
    to_tier(app, case.case_id, Tier.L3)
    with pytest.raises(NotPermitted, match=r"^l2.petrov \(L2\) may not work an L3 case$"):
        app.add_comment(case.case_id, body="ответ", public=True, meta=acting(PETROV))
    app.add_comment(case.case_id, body="ответ", public=True, meta=acting(SIDOROVA))
    assert app.get_case(case.case_id).comments[-1].author.id == "l3.sidorova"


def test_a_refused_command_records_nothing(app: CaseApplication) -> None:
    case = create(app)
    to_tier(app, case.case_id, Tier.L2)
    before = app.get_case(case.case_id).version
    with pytest.raises(NotPermitted):
        app.change_status(case.case_id, to_status=Status.CLOSED, reason="", meta=acting(IVANOVA))
    with pytest.raises(NotPermitted):
        app.escalate(
            case.case_id, to_tier=Tier.L3, reason=EscalationReason.CRITICAL_ERROR,
            meta=acting(IVANOVA),
        )  # fmt: skip
    assert app.get_case(case.case_id).version == before


def test_only_supervisors_reassign_and_auditors_change_nothing(app: CaseApplication) -> None:
    case = create(app)
    with pytest.raises(NotPermitted, match="only supervisors do"):
        app.assign(case.case_id, specialist_id="l1-001", meta=acting(SIDOROVA))
    assert app.assign(case.case_id, specialist_id="l1-001", meta=acting(ORLOVA)).assignee == (
        "l1-001"
    )
    with pytest.raises(NotPermitted, match="auditors only read"):
        app.add_comment(case.case_id, body="x", public=False, meta=acting(KUZNETSOV))


def test_a_desk_registration_records_who_identified_the_citizen(app: CaseApplication) -> None:
    case = create(app, channel=Channel.PHONE, meta=acting(IVANOVA))
    created = to_case_event(app.history(case.case_id).events[0])
    assert created.meta.actor.id == "l1.ivanova"
    assert created.created.identified_by == "l1.ivanova"
    assert created.created.citizen.account_login == "ivanov.ii"
    from_intake = to_case_event(app.history(create(app).case_id).events[0])
    assert from_intake.created.identified_by == ""
    with pytest.raises(NotPermitted, match="PHONE and MFC cases only"):
        create(app, channel=Channel.EMAIL, meta=acting(IVANOVA))


def test_another_persons_command_with_the_same_key_is_not_a_retry(app: CaseApplication) -> None:
    case = create(app)
    change = {"to_status": Status.IN_PROGRESS, "reason": ""}
    first = app.change_status(case.case_id, **change, meta=acting(PETROV, "desk-1"))  # type: ignore[arg-type]
    assert app.change_status(case.case_id, **change, meta=acting(PETROV, "desk-1")) == first  # type: ignore[arg-type]
    with pytest.raises(IdempotencyKeyReused):
        app.change_status(case.case_id, **change, meta=acting(SIDOROVA, "desk-1"))  # type: ignore[arg-type]


def test_a_case_escalated_by_another_replica_is_judged_at_its_new_tier(tmp_path: Path) -> None:
    # This replica holds the case cached at L1; the other escalates it to L2. The L1
    # specialist's command, decided first on the cached L1 case, must not be stored.
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    here, there = CaseApplication(env=env), CaseApplication(env=env)
    try:
        case = create(here)
        to_tier(there, case.case_id, Tier.L2)
        cached = here.case_cache.take(UUID(case.case_id))
        assert cached is not None and cached.tier is Tier.L1  # stale: it is L2 now
        here.case_cache.put(cached)
        with pytest.raises(NotPermitted, match="may not work an L2 case"):
            here.change_status(
                case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=acting(IVANOVA)
            )
        assert there.get_case(case.case_id).status is Status.REGISTERED
    finally:
        here.close()
        there.close()


def test_a_case_stored_before_identified_by_existed_still_loads_and_publishes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    app = CaseApplication(env=env)
    case = create(app)
    app.close()
    with sqlite3.connect(path) as connection:  # as an older version of the service stored it
        (state,) = connection.execute(
            "SELECT state FROM stored_events WHERE topic = 'casedesk.case.Case.Created'"
        ).fetchone()
        old = json.loads(state)
        del old["identified_by"]
        connection.execute(
            "UPDATE stored_events SET state = ? WHERE topic = 'casedesk.case.Case.Created'",
            [json.dumps(old).encode()],
        )
    app = CaseApplication(env=env)
    try:
        assert app.get_case(case.case_id).number == case.number
        created = to_case_event(app.history(case.case_id).events[0])
        assert created.created.number == case.number and created.created.identified_by == ""
    finally:
        app.close()


# -- an operator acting for a citizen through intake ------------------------------------------


def through_operator(operator: str = "l1.ivanova", key: str = "") -> CommandMeta:
    """What the gRPC layer hands the application for intake's command, an operator acting."""
    context = EventContext(
        Actor(ActorKind.CITIZEN, "ivanov.ii"), correlation_id="c", identified_by=operator
    )
    return CommandMeta(context=context, idempotency_key=key)


def test_an_operators_command_records_the_citizen_and_the_operator(app: CaseApplication) -> None:
    case = create(app, channel=Channel.PHONE, meta=through_operator())
    app.add_comment(case.case_id, body="Дополню", public=True, meta=through_operator("l2.petrov"))
    app.request_escalation(
        case.case_id, reason=EscalationReason.NO_ANSWER_IN_TIME, explanation="",
        meta=through_operator(),
    )  # fmt: skip
    app.add_comment(case.case_id, body="Сам", public=True, meta=meta(CITIZEN))
    events = [to_case_event(e) for e in app.history(case.case_id).events]
    assert [(e.WhichOneof("payload"), e.meta.actor.id, e.identified_by) for e in events] == [
        ("created", "ivanov.ii", "l1.ivanova"),
        ("assigned", "ivanov.ii", "l1.ivanova"),
        ("commented", "ivanov.ii", "l2.petrov"),
        ("escalation_requested", "ivanov.ii", "l1.ivanova"),
        ("commented", "ivanov.ii", ""),  # the citizen by himself
    ]
    assert events[0].created.identified_by == "l1.ivanova"
    assert to_case_event(app.history(create(app).case_id).events[0]).identified_by == ""


def test_a_repeat_through_an_operator_registers_a_case_he_identified(
    app: CaseApplication,
) -> None:
    case = create(app, channel=Channel.PHONE, meta=through_operator())
    app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta())
    answer(app, case.case_id)
    app.change_status(case.case_id, to_status=Status.ANSWER_READY, reason="", meta=meta())
    repeat = app.repeat_case(case.case_id, reason="Не помогло", meta=through_operator("l2.petrov"))
    created = to_case_event(app.history(repeat.case_id).events[0])
    assert (created.created.repeat_of, created.created.identified_by) == (
        case.case_id,
        "l2.petrov",
    )
    repeated = to_case_event(app.history(case.case_id).events[-1])
    assert (repeated.WhichOneof("payload"), repeated.identified_by) == ("repeated", "l2.petrov")


def test_another_operators_command_with_the_same_key_is_not_a_retry(app: CaseApplication) -> None:
    case = create(app)
    comment = {"body": "Звонок", "public": True}
    first = app.add_comment(case.case_id, **comment, meta=through_operator(key="intake-1"))  # type: ignore[arg-type]
    again = app.add_comment(case.case_id, **comment, meta=through_operator(key="intake-1"))  # type: ignore[arg-type]
    assert again == first
    with pytest.raises(IdempotencyKeyReused):
        app.add_comment(case.case_id, **comment, meta=through_operator("l2.petrov", "intake-1"))  # type: ignore[arg-type]
    assert len(app.get_case(case.case_id).comments) == 1


def test_events_stored_before_identified_by_existed_name_no_operator(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    app = CaseApplication(env=env)
    case = create(app)
    app.close()
    with sqlite3.connect(path) as connection:  # contexts as an older version stored them
        rows = connection.execute(
            "SELECT rowid, state FROM stored_events WHERE topic LIKE 'casedesk.case.Case.%'"
        ).fetchall()
        for rowid, state in rows:
            old = json.loads(state)
            del old["context"]["_data_"]["identified_by"]
            connection.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?",
                [json.dumps(old).encode(), rowid],
            )
    app = CaseApplication(env=env)
    try:
        events = [to_case_event(e) for e in app.history(case.case_id).events]
        assert [e.identified_by for e in events] == ["", ""]
        app.add_comment(case.case_id, body="ещё", public=True, meta=through_operator())
        assert to_case_event(app.history(case.case_id).events[-1]).identified_by == "l1.ivanova"
    finally:
        app.close()


PETROVA = Person("l1.petrova", frozenset({Role.SPECIALIST}), Tier.L1)


def take(app: CaseApplication, case_id: str, person: Person):  # type: ignore[no-untyped-def]
    return app.change_status(case_id, to_status=Status.IN_PROGRESS, reason="", meta=acting(person))


def test_a_persons_take_makes_the_case_theirs(app: CaseApplication) -> None:
    case = create(app)
    assert case.assignee.startswith("l1-")  # the roster's routing, not a person
    taken = take(app, case.case_id, IVANOVA)
    assert (taken.status, taken.assignee) == (Status.IN_PROGRESS, "l1.ivanova")
    assigned = app.history(case.case_id).events[-2]
    assert (type(assigned).__name__, assigned.specialist_id, assigned.previous_specialist_id) == (
        "Assigned", "l1.ivanova", case.assignee,
    )  # fmt: skip


def test_a_service_take_only_moves_the_status(app: CaseApplication) -> None:
    case = create(app)
    taken = app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta())
    assert (taken.status, taken.assignee) == (Status.IN_PROGRESS, case.assignee)


def test_a_case_a_person_took_is_theirs_until_a_supervisor_acts(app: CaseApplication) -> None:
    case_id = create(app).case_id
    take(app, case_id, IVANOVA)
    before = app.get_case(case_id).version
    with pytest.raises(NotPermitted) as refused:
        take(app, case_id, PETROVA)
    assert str(refused.value).startswith(
        "l1.petrova (L1) may not take case 2026-0000001: it is in work with l1.ivanova;"
    )
    assert app.get_case(case_id).version == before
    # A supervisor who also works cases takes it over; reassigned to the roster, it is free again.
    assert take(app, case_id, ORLOVA).assignee == "super.orlova"
    app.assign(case_id, specialist_id="l1-002", meta=acting(ORLOVA))
    assert take(app, case_id, PETROVA).assignee == "l1.petrova"


def test_an_escalated_case_in_progress_is_taken_over_by_the_higher_tier(
    app: CaseApplication,
) -> None:
    case_id = create(app).case_id
    take(app, case_id, IVANOVA)
    to_tier(app, case_id, Tier.L2)  # the escalation routes it to an L2 roster id
    taken = take(app, case_id, PETROV)
    assert (taken.status, taken.tier, taken.assignee) == (Status.IN_PROGRESS, Tier.L2, "l2.petrov")
    assert type(app.history(case_id).events[-1]).__name__ == "Assigned"
