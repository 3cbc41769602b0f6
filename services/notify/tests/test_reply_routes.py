"""The ways back to the citizen (domain.reply_routes): his e-mail thread and his social-network
post or private message, checked before they reach a header or an API call."""

from __future__ import annotations

import pytest

from casedesk_notify.application.deliveries import mask_social
from casedesk_notify.domain.reply_routes import (
    EmailThread,
    SocialThread,
    TelegramMessage,
    UnknownDestination,
    VkMessage,
    VkWallPost,
    destination,
)

ADDRESS = "ivan@example.org"


@pytest.mark.parametrize(
    "written",
    ["<CAF=x+1@mail.gmail.com>", "CAF=x+1@mail.gmail.com", "  <CAF=x+1@mail.gmail.com>\n"],
)
def test_a_message_id_is_kept_without_its_brackets(written: str) -> None:
    thread = EmailThread.of(written, ADDRESS, "Тема")
    assert thread is not None and thread.message_id == "CAF=x+1@mail.gmail.com"


@pytest.mark.parametrize(
    "written",
    [
        "",
        "idempotency-key-without-at",  # a gateway's fallback key, not a Message-ID
        "a@b>\r\nBcc: victim@example.org",  # a header injected through the citizen's mail
        "two words@example.org",
        "<a@b><c@d>",
        "a@b@c",
        "x" * 300 + "@example.org",
    ],
)
def test_what_no_header_can_carry_leaves_the_case_unthreaded(written: str) -> None:
    assert EmailThread.of(written, ADDRESS, "Тема") is None


def test_the_reply_subject_keeps_his_subject_and_the_formal_reference() -> None:
    thread = EmailThread.of("<m1@mail.example.org>", ADDRESS, "  Не приходит\r\n SMS-код ")
    assert thread is not None
    assert thread.subject == "Не приходит SMS-код"
    assert thread.reply_subject("2026-0001234") == (
        "Re: Не приходит SMS-код [Обращение в службу поддержки - 2026-0001234]"
    )


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: Fwd: Ошибка входа", "Re: Ошибка входа [Обращение в службу поддержки - 2026-1]"),
        ("", "Re: Обращение в службу поддержки - 2026-1"),
        # Another case's formal reference would be intake's first candidate: left out.
        (
            "Обращение в службу поддержки - 2025-0000009",
            "Re: Обращение в службу поддержки - 2026-1",
        ),
    ],
)
def test_the_reply_subject_never_misleads_intake(subject: str, expected: str) -> None:
    thread = EmailThread.of("m1@mail.example.org", ADDRESS, subject)
    assert thread is not None and thread.reply_subject("2026-1") == expected


def test_the_thread_lives_in_the_mailbox_it_came_from() -> None:
    thread = EmailThread.of("m1@mail.example.org", "Ivan@Example.org", "")
    assert thread is not None
    assert thread.holds("ivan@example.org")
    assert not thread.holds("other@example.org")


@pytest.mark.parametrize(
    ("network", "reference", "place", "private"),
    [
        ("telegram", "123456789:42", TelegramMessage(123456789, 42), True),
        ("telegram", "-1001234567890:7", TelegramMessage(-1001234567890, 7), False),
        ("telegram", "@gosuslugi_news:15", TelegramMessage("@gosuslugi_news", 15), False),
        ("vk", "-22822305_1001", VkWallPost(-22822305, 1001), False),
        ("vk", "12345:77", VkMessage(12345, 77), True),
        ("vk", "2000000001:77", VkMessage(2000000001, 77), False),  # a group chat
    ],
)
def test_post_references_in_the_documented_formats(
    network: str, reference: str, place: object, private: bool
) -> None:
    assert destination(network, reference) == place
    assert SocialThread(network, reference, private_message=True).private is private


@pytest.mark.parametrize(
    ("network", "reference"),
    [
        ("telegram", "123456789"),
        ("telegram", "-1_5"),
        ("vk", "wall-1_5"),
        ("vk", "12345:"),
        ("ok", "1:2"),
    ],
)
def test_a_reference_no_network_can_answer_is_refused_without_quoting_it(
    network: str, reference: str
) -> None:
    with pytest.raises(UnknownDestination) as refused:
        destination(network, reference)
    assert reference not in str(refused.value)
    assert not SocialThread(network, reference, private_message=True).private


def test_a_case_not_marked_private_is_never_answered_with_the_answer() -> None:
    # A private conversation by its form, but the frontend said the citizen wrote publicly.
    assert not SocialThread("telegram", "123456789:42", private_message=False).private


def test_social_recipients_are_masked_but_the_post_stays_readable() -> None:
    assert mask_social("telegram:123456789:42") == "telegram:*******89:42"
    assert mask_social("vk:-22822305_1001") == "vk:*******05_1001"
    assert "123456789" not in mask_social("vk:123456789:5")
