"""Who may erase, and what an erasure order must say."""

from __future__ import annotations

import os

import pytest

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keys import CitizenIdentity, SubjectId
from casedesk_keyservice.domain import (
    PRIVACY_OFFICER,
    Eraser,
    ErasureOrder,
    InvalidOrder,
    NotPermitted,
    Person,
    check_may_erase,
)
from casedesk_keyservice.wire.erasures import order_from, watch_start
from casedesk_keyservice.wire.keys import generation_of, subject_of

SNILS = CitizenIdentity(snils="112-233-445 95")


def test_only_a_privacy_officer_may_erase() -> None:
    check_may_erase(Person("p.orlova", frozenset({PRIVACY_OFFICER})))
    with pytest.raises(NotPermitted) as refused:
        check_may_erase(Person("l3.sidorova", frozenset({"specialist", "supervisor"})))
    assert str(refused.value) == (
        "l3.sidorova may not erase citizens: it needs the role privacy_officer"
    )


def test_the_system_erases_only_through_a_service_that_runs_retention() -> None:
    assert Eraser("case").name == "system:case"
    assert Eraser("case").kind == "system"
    officer = Eraser("operator", Person("p.orlova", frozenset({PRIVACY_OFFICER})))
    assert (officer.name, officer.kind) == ("p.orlova", "person")
    for caller in ("operator", "intake", "notify"):
        with pytest.raises(NotPermitted, match=f"{caller} may not erase citizens without"):
            Eraser(caller)


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        ("", "required: the erasure request's reference or rule"),
        ("   ", "required: the erasure request's reference or rule"),
        ("x" * 201, "at most 200 characters"),
        ("заявление\nИванов", "one line of printable characters"),
    ],
)
def test_an_order_says_why_in_one_short_line(reason: str, problem: str) -> None:
    with pytest.raises(InvalidOrder) as refused:
        ErasureOrder(SNILS, (), reason)
    assert (refused.value.field, refused.value.problem) == ("reason", problem)


def test_an_order_names_somebody() -> None:
    with pytest.raises(InvalidOrder) as refused:
        ErasureOrder(CitizenIdentity(login="  "), (), "ПД-2026-17")
    assert refused.value.field == "identifiers"
    subject = SubjectId(os.urandom(16))
    assert ErasureOrder(CitizenIdentity(), (subject,), " ПД-2026-17 ").reason == "ПД-2026-17"


def test_the_wire_names_the_subject_at_fault() -> None:
    request = pb.EraseCitizenRequest(
        subjects=[os.urandom(16).hex(), "not-hex"], reason="retention:closed-3y"
    )
    with pytest.raises(InvalidOrder) as refused:
        order_from(request)
    assert (refused.value.field, refused.value.problem) == (
        "subjects[1]",
        "a subject id is 32 hex digits",
    )
    too_many = pb.EraseCitizenRequest(
        subjects=[os.urandom(16).hex() for _ in range(101)], reason="r"
    )
    with pytest.raises(InvalidOrder, match="at most 100"):
        order_from(too_many)


def test_subjects_and_generations_are_checked_on_the_wire() -> None:
    with pytest.raises(InvalidOrder, match="required"):
        subject_of("")
    with pytest.raises(InvalidOrder, match="32 hex digits"):
        subject_of("ab" * 15)
    with pytest.raises(InvalidOrder, match="start at 1"):
        generation_of(0)
    assert generation_of(3) == 3


def test_a_watch_starts_after_a_position_or_from_now() -> None:
    assert watch_start(pb.WatchErasuresRequest()) == 0
    assert watch_start(pb.WatchErasuresRequest(after_position=41)) == 41
    assert watch_start(pb.WatchErasuresRequest(from_now=True)) is None
    with pytest.raises(InvalidOrder, match="leave it 0 with from_now"):
        watch_start(pb.WatchErasuresRequest(after_position=3, from_now=True))
    with pytest.raises(InvalidOrder, match="0 or a position received before"):
        watch_start(pb.WatchErasuresRequest(after_position=-1))
