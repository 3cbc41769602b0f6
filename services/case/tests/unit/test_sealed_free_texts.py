"""The staff's and citizens' free texts sealed inside the events (issue #18): status reasons, a
spam closing's explanation, an escalation request's explanation, a rating's comment, a callback's
note, a merge's and a repeat's reason. Stored and published as tokens; opened in the replies;
with sealing off, stored as sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from casedesk.case.v1 import case_service_pb2
from casedesk_case.application.personal_fields import (
    FIELD_STATUS_REASON,
    CitizenErased,
)
from casedesk_case.domain.values import Channel, CloseReason, EscalationReason, Status
from casedesk_case.testing import CaseApplication
from casedesk_case.wire.events import to_case_event
from casedesk_case.wire.personal import ReplyOpener
from casedesk_case.wire.values import case_view_to_proto
from casedesk_keys import is_encrypted

from ..conftest import CITIZEN, SPECIALIST, Keys, answer, create, meta

TEXTS = {
    "reason": "Звонил Петров, просил 89161112233",
    "explanation": "Жалоба на Сидорова, СНИЛС 11223344595",
    "comment": "Спасибо Марии Ивановне",
    "note": "Дозвонился жене, тел. 89035556677",
    "merge": "Тот же Иванов с почты ivan@mail.example",
    "spam": "Реклама от ООО Ромашка, +74951234567",
    "repeat": "Снова не приходит, пишу с 89169998877",
}


def stored(app: CaseApplication, *case_ids: str) -> bytes:
    events = [e for c in case_ids for e in app.recorder.select_events(UUID(c))]  # type: ignore[attr-defined]
    return b"".join(e.state for e in events)


def published(app: CaseApplication, *case_ids: str) -> bytes:
    return b"".join(
        to_case_event(app.mapper.to_domain_event(e)).SerializeToString()
        for c in case_ids
        for e in app.recorder.select_events(UUID(c))  # type: ignore[attr-defined]
    )


def leaks(blob: bytes) -> list[str]:
    return [t for t in TEXTS.values() if t.encode() in blob or t.encode("unicode_escape") in blob]


def every_free_text(app: CaseApplication) -> list[str]:
    """Cases carrying each free text once; their ids."""
    phone = create(app, channel=Channel.PHONE).case_id
    app.change_status(phone, to_status=Status.IN_PROGRESS, reason=TEXTS["reason"],
                      meta=meta(SPECIALIST))  # fmt: skip
    app.request_escalation(phone, reason=EscalationReason.CRITICAL_ERROR,
                           explanation=TEXTS["explanation"], meta=meta(SPECIALIST))  # fmt: skip
    app.record_callback(phone, reached=True, note=TEXTS["note"], meta=meta(SPECIALIST))
    answer(app, phone)
    app.change_status(phone, to_status=Status.ANSWER_READY, reason="", meta=meta(SPECIALIST))
    app.rate_answer(phone, score=5, comment=TEXTS["comment"], channel=None, meta=meta(CITIZEN))
    app.repeat_case(phone, reason=TEXTS["repeat"], meta=meta(CITIZEN))
    duplicate, target = create(app).case_id, create(app).case_id
    app.merge_cases(duplicate, target_case_id=target, reason=TEXTS["merge"], meta=meta(SPECIALIST))
    spam = create(app).case_id
    app.close_case(spam, reason=CloseReason.SPAM, explanation=TEXTS["spam"], meta=meta(SPECIALIST))
    return [phone, duplicate, target, spam]


@pytest.fixture
def sealed_app(persistence_env: dict[str, str], keys: Keys) -> Iterator[CaseApplication]:
    application = CaseApplication(env=persistence_env, personal_data=keys.personal_data())
    yield application
    application.close()


def test_free_texts_are_stored_and_published_as_tokens(sealed_app: CaseApplication) -> None:
    case_ids = every_free_text(sealed_app)
    assert leaks(stored(sealed_app, *case_ids)) == []
    assert leaks(published(sealed_app, *case_ids)) == []
    # The state the events give (and snapshots keep) holds the token too.
    phone = sealed_app.get_case(case_ids[0])
    assert phone.rating is not None and is_encrypted(phone.rating.comment)
    assert phone.rating.score == 5


def test_the_replies_open_the_free_texts(sealed_app: CaseApplication, keys: Keys) -> None:
    case_ids = every_free_text(sealed_app)
    phone = case_ids[0]
    opener = ReplyOpener(keys.personal_data())

    async def opened() -> tuple[case_service_pb2.CaseView, list[bytes]]:
        view = await opener.open(case_view_to_proto(sealed_app.get_case(phone)))
        events = []
        for case_id in case_ids:
            for event in sealed_app.history(case_id).events:
                message = await opener.open(to_case_event(event))
                events.append(message.SerializeToString())
        return view, events  # type: ignore[return-value]

    view, events = asyncio.run(opened())
    assert view.rating.comment == TEXTS["comment"]  # type: ignore[attr-defined]
    everything = b"".join(events)
    assert sorted(leaks(everything)) == sorted(TEXTS.values())  # each opened in its place
    assert b"cdk1." not in everything


def test_a_status_change_of_an_erased_citizen_is_stored_without_its_text(
    sealed_app: CaseApplication, keys: Keys
) -> None:
    case_id = create(sealed_app).case_id
    keys.erase("ivanov.ii")
    moved = sealed_app.change_status(
        case_id, to_status=Status.IN_PROGRESS, reason=TEXTS["reason"], meta=meta(SPECIALIST)
    )
    assert moved.status is Status.IN_PROGRESS
    changed: Any = [e for e in sealed_app.history(case_id).events if hasattr(e, "to_status")][-1]
    assert changed.reason == ""
    assert leaks(stored(sealed_app, case_id)) == []
    with pytest.raises(CitizenErased):  # nothing of the citizen's opens any more
        stored_citizen = sealed_app.get_case(case_id).citizen
        keys.personal_data().open_citizen(case_id, stored_citizen)


def test_with_sealing_off_the_free_texts_are_stored_as_sent(app: CaseApplication) -> None:
    case_ids = every_free_text(app)
    assert sorted(leaks(stored(app, *case_ids))) == sorted(TEXTS.values())
    changed: Any = next(e for e in app.history(case_ids[0]).events if hasattr(e, "to_status"))
    assert changed.reason == TEXTS["reason"]
    assert FIELD_STATUS_REASON == "status.reason"
