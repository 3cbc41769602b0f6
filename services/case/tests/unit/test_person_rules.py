"""The rules for people and services (domain/person_rules.py), row by row of its table."""

from __future__ import annotations

import re

import pytest

from casedesk_case.domain.errors import NotPermitted
from casedesk_case.domain.person_rules import (
    Person,
    Role,
    Work,
    check_may,
    check_may_audit,
    check_may_oversee,
    check_may_read,
    check_may_work,
    check_service_actor,
    may_read,
    person_actor,
    readable_tiers,
    reads_cases,
)
from casedesk_case.domain.values import Actor, ActorKind, Channel, Tier

S, SUP, AUD = Role.SPECIALIST, Role.SUPERVISOR, Role.AUDITOR
IVANOVA = Person("l1.ivanova", frozenset({S}), Tier.L1)
PETROV = Person("l2.petrov", frozenset({S}), Tier.L2)
SIDOROVA = Person("l3.sidorova", frozenset({S}), Tier.L3)
ORLOVA = Person("super.orlova", frozenset({SUP, S}), Tier.L3)
PURE_SUPERVISOR = Person("super.x", frozenset({SUP}))
KUZNETSOV = Person("audit.kuznetsov", frozenset({AUD}))
NOBODY = Person("guest", frozenset())


@pytest.mark.parametrize(
    ("person", "works"),
    [
        (IVANOVA, {Tier.L1}),
        (PETROV, {Tier.L1, Tier.L2}),
        (SIDOROVA, {Tier.L1, Tier.L2, Tier.L3}),
        (ORLOVA, {Tier.L1, Tier.L2, Tier.L3}),
    ],
)
def test_a_specialist_works_the_cases_of_their_tier_and_below(person: Person, works) -> None:
    for tier in Tier:
        if tier in works:
            check_may_work(person, tier)
        else:
            with pytest.raises(NotPermitted) as refused:
                check_may_work(person, tier)
            assert str(refused.value) == (
                f"{person.username} ({person.tier.value}) may not work an {tier.value} case"  # type: ignore[union-attr]
            )


@pytest.mark.parametrize(
    ("person", "reason"),
    [
        (KUZNETSOV, "audit.kuznetsov (auditor) may not work cases: auditors only read"),
        (PURE_SUPERVISOR, "super.x (supervisor) may not work cases: specialists do"),
        (NOBODY, "guest (no casedesk role) may not work cases: specialists do"),
    ],
)
def test_only_specialists_work_cases(person: Person, reason: str) -> None:
    with pytest.raises(NotPermitted, match=rf"^{re.escape(reason)}$"):
        check_may(person, Work.WORK)
    with pytest.raises(NotPermitted):
        check_may_work(person, Tier.L1)


def test_a_specialist_without_a_tier_works_nothing_and_is_told_why() -> None:
    tierless = Person("l1.new", frozenset({S}), None)
    with pytest.raises(NotPermitted, match=r"without a tier .* not L1, L2 or L3"):
        check_may_work(tierless, Tier.L1)


def test_only_supervisors_reassign() -> None:
    check_may(ORLOVA, Work.REASSIGN)
    check_may(PURE_SUPERVISOR, Work.REASSIGN)
    for person in (IVANOVA, SIDOROVA, KUZNETSOV):
        with pytest.raises(NotPermitted, match="may not reassign cases: only supervisors do"):
            check_may(person, Work.REASSIGN)


def test_the_desk_registers_phone_and_mfc_cases_only_and_only_specialists_do() -> None:
    check_may(IVANOVA, Work.REGISTER, Channel.PHONE)
    check_may(PETROV, Work.REGISTER, Channel.MFC)
    with pytest.raises(NotPermitted, match="PHONE and MFC cases only; a EMAIL case comes through"):
        check_may(IVANOVA, Work.REGISTER, Channel.EMAIL)
    with pytest.raises(NotPermitted, match="auditors only read"):
        check_may(KUZNETSOV, Work.REGISTER, Channel.PHONE)


@pytest.mark.parametrize(
    ("person", "reads"),
    [
        (IVANOVA, {Tier.L1}),
        (PETROV, {Tier.L1, Tier.L2}),
        (SIDOROVA, set(Tier)),
        (ORLOVA, set(Tier)),
        (PURE_SUPERVISOR, set(Tier)),
        (KUZNETSOV, set(Tier)),
        # Roles add up: a supervisor reads every case whatever tier he also works.
        (Person("super.l1", frozenset({SUP, S}), Tier.L1), set(Tier)),
        (NOBODY, set()),
        (Person("l1.new", frozenset({S}), None), set()),  # a specialist without a tier claim
    ],
)
def test_a_specialist_reads_his_tier_and_below_supervisors_and_auditors_every_case(
    person: Person, reads: set[Tier]
) -> None:
    assert readable_tiers(person) == reads
    assert reads_cases(person) is bool(reads)
    for tier in Tier:
        assert may_read(person, tier) is (tier in reads)
        if tier in reads:
            check_may_read(person, tier)
        elif reads:
            with pytest.raises(NotPermitted) as refused:
                check_may_read(person, tier)
            assert str(refused.value) == f"{person.describe()} may not open an {tier.value} case"


def test_only_supervisors_see_the_desk_overview() -> None:
    check_may_oversee(ORLOVA)
    check_may_oversee(PURE_SUPERVISOR)
    for person, described in ((SIDOROVA, "l3.sidorova (L3)"), (KUZNETSOV,
                              "audit.kuznetsov (auditor)")):  # fmt: skip
        with pytest.raises(NotPermitted) as refused:
            check_may_oversee(person)
        assert str(refused.value) == (
            f"{described} may not see the desk overview: it needs the role supervisor"
        )


def test_only_auditors_read_the_access_journal() -> None:
    check_may_audit(KUZNETSOV)
    with pytest.raises(NotPermitted, match=r"super.orlova \(L3\) may not read the access journal"):
        check_may_audit(ORLOVA)


def test_a_person_acts_only_as_themself() -> None:
    own = Actor(ActorKind.SPECIALIST, "l1.ivanova")
    assert person_actor(IVANOVA, None) == own
    assert person_actor(IVANOVA, own) == own
    others = (Actor(ActorKind.SPECIALIST, "l3.sidorova"), Actor(ActorKind.CITIZEN, "petrova.an"))
    for other in others:
        with pytest.raises(NotPermitted) as refused:
            person_actor(IVANOVA, other)
        message = str(refused.value)
        assert "must be empty or SPECIALIST l1.ivanova" in message
        assert other.id not in message.replace("l1.ivanova", "")  # the request is not echoed


def test_only_intake_acts_as_a_citizen_and_escalation_only_as_the_system() -> None:
    check_service_actor("intake", Actor(ActorKind.CITIZEN, "ivanov.ii"))
    check_service_actor("intake", Actor(ActorKind.SYSTEM, "intake"))
    check_service_actor("escalation", Actor(ActorKind.SYSTEM, "escalation"))
    with pytest.raises(NotPermitted, match=r"^only intake acts as a citizen; escalation acts as"):
        check_service_actor("escalation", Actor(ActorKind.CITIZEN, "ivanov.ii"))
    with pytest.raises(NotPermitted, match=r"^intake may act only as CITIZEN or SYSTEM, not as SP"):
        check_service_actor("intake", Actor(ActorKind.SPECIALIST, "l3.sidorova"))
    with pytest.raises(NotPermitted, match=r"^sla acts on cases only for a person"):
        check_service_actor("sla", Actor(ActorKind.SYSTEM, "sla"))


def test_the_journal_names_every_role_held() -> None:
    assert ORLOVA.role_label() == "specialist L3, supervisor"
    assert KUZNETSOV.role_label() == "auditor"
    assert NOBODY.role_label() == ""
