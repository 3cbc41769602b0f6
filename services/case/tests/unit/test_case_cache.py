"""The cache of cases as this process saved them: taken by one command at a time, bounded."""

from __future__ import annotations

from casedesk_case.application.case_cache import CaseCache
from casedesk_case.domain.case import Case
from casedesk_case.domain.values import (
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    Origin,
    Priority,
    Tier,
)

from ..conftest import SYSTEM


def new_case(number: str) -> Case:
    return Case(
        number=number, channel=Channel.EMAIL, case_type=CaseType.TECHNICAL,
        category=Category.OTHER, queue="l1-general", tier=Tier.L1, priority=Priority.NORMAL,
        citizen=Citizen(account_login="ivanov.ii"), content=CaseContent(subject="Вопрос"),
        origin=Origin(), attachments=[], repeat_of="", linked_to="", context=SYSTEM,
    )  # fmt: skip


def test_a_taken_case_is_gone_until_put_back() -> None:
    cache = CaseCache()
    case = new_case("2026-0000001")
    cache.put(case)
    assert cache.take(case.id) is case
    assert cache.take(case.id) is None  # a failed command cannot leave a half-changed case
    cache.put(case)
    cache.discard(case.id)
    assert cache.take(case.id) is None


def test_the_least_recently_saved_case_is_forgotten_first() -> None:
    cache = CaseCache(maxsize=2)
    first, second, third = (new_case(f"2026-000000{n}") for n in (1, 2, 3))
    cache.put(first)
    cache.put(second)
    cache.put(first)  # saved again: now the most recent
    cache.put(third)
    assert cache.take(second.id) is None
    assert cache.take(first.id) is first and cache.take(third.id) is third


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache = CaseCache(maxsize=0)
    case = new_case("2026-0000001")
    cache.put(case)
    assert cache.take(case.id) is None
