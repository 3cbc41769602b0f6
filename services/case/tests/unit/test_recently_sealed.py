"""What the case service just sealed is opened again without decrypting it (application/
recently_sealed.py), and only where decrypting it would have given the same answer: at the place
it was sealed for, while the key cache holds the key, never for an erased citizen."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from casedesk_case.application import personal_data as personal_module
from casedesk_case.application.personal_data import PersonalData
from casedesk_case.application.personal_fields import CitizenErased, citizen_field
from casedesk_case.application.recently_sealed import RecentlySealed, Sealed
from casedesk_keys import IdentifierKind, KeyCache, SubjectId, Subjects, is_encrypted

from ..conftest import Keys, citizen

CASE = "7f1e0000-0000-4000-8000-000000000001"
SUBJECT = SubjectId(b"\x01" * 16)


def test_a_token_is_taken_back_at_its_place_while_its_key_opens() -> None:
    opens = {"now": True}
    recent = RecentlySealed(lambda subject, generation: opens["now"])
    recent.remember("cdk1.A", Sealed("Иванов", CASE, "citizen.full_name", SUBJECT, 1))
    assert recent.text("cdk1.A", CASE, "citizen.full_name") == "Иванов"
    assert recent.text("cdk1.A", CASE, "citizen.snils") is None  # another field
    assert recent.text("cdk1.A", "another-case", "citizen.full_name") is None
    assert recent.text("cdk1.B", CASE, "citizen.full_name") is None  # never sealed here
    opens["now"] = False  # the key erased or no longer held
    assert recent.text("cdk1.A", CASE, "citizen.full_name") is None
    assert len(recent) == 0  # dropped: of no more use
    opens["now"] = True
    assert recent.text("cdk1.A", CASE, "citizen.full_name") is None


def test_a_text_sealed_as_its_citizen_is_erased_is_not_kept() -> None:
    """The command thread sealed with a key the erasure notice then made the cache forget, and
    `forget` ran before the sealer remembered: nothing of him stays behind."""
    erased: set[SubjectId] = set()
    recent = RecentlySealed(lambda subject, generation: subject not in erased)
    erased.add(SUBJECT)  # the key cache's listener runs first
    assert recent.forget(SUBJECT) == 0
    recent.remember("cdk1.A", Sealed("Иванов", CASE, "citizen.full_name", SUBJECT, 1))
    assert len(recent) == 0


def test_an_erased_citizens_texts_are_dropped() -> None:
    other = SubjectId(b"\x02" * 16)
    recent = RecentlySealed(lambda subject, generation: True)
    recent.remember("cdk1.A", Sealed("Иванов", CASE, "citizen.full_name", SUBJECT, 1))
    recent.remember("cdk1.B", Sealed("Петров", CASE, "citizen.full_name", other, 1))
    assert recent.forget(SUBJECT) == 1
    assert recent.text("cdk1.A", CASE, "citizen.full_name") is None
    assert recent.text("cdk1.B", CASE, "citizen.full_name") == "Петров"


def test_only_the_newest_tokens_are_kept() -> None:
    recent = RecentlySealed(lambda subject, generation: True, capacity=2)
    for n in range(3):
        recent.remember(f"cdk1.{n}", Sealed(str(n), CASE, "content.subject", SUBJECT, 1))
    assert len(recent) == 2
    assert recent.text("cdk1.0", CASE, "content.subject") is None
    assert recent.text("cdk1.2", CASE, "content.subject") == "2"


async def test_what_was_just_sealed_opens_without_a_decrypt_until_the_citizen_is_erased(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    decrypted: list[str] = []
    decrypt = personal_module._decrypt

    def counted(key: Any, token: str, case_id: str, field: str) -> str:
        decrypted.append(field)
        return decrypt(key, token, case_id, field)

    monkeypatch.setattr(personal_module, "_decrypt", counted)
    cache = KeyCache(keys.source, ttl_s=600)
    personal = PersonalData(cache, keys.index_key, asyncio.get_running_loop())
    await personal.fetch_key(citizen())  # as the pipeline does before the command thread seals
    sealer = await asyncio.to_thread(personal.sealer_for, citizen(), CASE)
    sealed = sealer.citizen(citizen())
    name = citizen_field("full_name")
    assert is_encrypted(sealed.full_name)

    assert await personal.open(CASE, name, sealed.full_name) == "Иванов Иван Иванович"
    assert await asyncio.to_thread(personal.open_citizen, CASE, sealed) == citizen()
    assert decrypted == []
    # Elsewhere the token is decrypted, and fails there as it always did.
    with pytest.raises(Exception, match="field"):
        await personal.open(CASE, citizen_field("snils"), sealed.full_name)
    assert decrypted == [citizen_field("snils")]

    # Erased: the key cache learns of it, and the text is no longer given back.
    subject = Subjects(keys.index_key).of_identifier(IdentifierKind.LOGIN, "ivanov.ii")
    keys.erase("ivanov.ii")
    cache.invalidate(subject)
    with pytest.raises(CitizenErased):
        await personal.open(CASE, name, sealed.full_name)
    with pytest.raises(CitizenErased):
        await asyncio.to_thread(personal.open_text, CASE, name, sealed.full_name)
