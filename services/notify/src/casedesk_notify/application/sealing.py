"""Notify's own store keeps a citizen's personal texts sealed (issue #18).

A case card opened from sealed events (`CaseCard.sealed_by`: the citizen's data key) is stored
with its phone, e-mail, thread Message-ID, sender address and subject and social post reference
sealed again with that key; so is every open delivery made for it (recipient, subject, texts,
threading headers). They are opened only where they are used: a card when a later event of its
case is planned (its key fetched ahead with the batch's, `BatchPlanner.prepare`), a delivery at
its attempt (the dispatcher, whose key fetch may wait). Once the key service has destroyed the
citizen's key, neither opens again: his card's texts are unreadable, his pending notices are
recorded as not sent (`citizen erased`).

The names these tokens are bound to are notify's alone (no other process seals or opens them),
so they live here rather than in `casedesk_vocabulary.sealed_fields`: `notify.card.<field>` for a
card, `notify.delivery/<notification id>/<field>` for a delivery (a token moved to another
delivery of the same case does not open). Plain events (no key) are stored in clear, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from casedesk_notify.application.deliveries import Delivery
from casedesk_notify.application.ports import ERASED_TEXT, CitizenErased, FieldOpener
from casedesk_notify.domain import CaseCard
from casedesk_vocabulary.sealed_fields import TOKEN_PREFIX

__all__ = [
    "card_field",
    "card_holds_tokens",
    "delivery_field",
    "open_card",
    "open_delivery",
    "open_delivery_now",
    "seal_card",
    "seal_delivery",
]

Transform = Callable[[str, str], str]


def card_field(name: str) -> str:
    """`notify.card.<name>`: phone, email, thread_message_id, thread_address, thread_subject,
    social_reference."""
    return f"notify.card.{name}"


def delivery_field(notification_id: str, name: str) -> str:
    """`notify.delivery/<id>/<name>`: recipient, subject, text, html, in_reply_to, references."""
    return f"notify.delivery/{notification_id}/{name}"


def _card_with(card: CaseCard, change: Transform) -> CaseCard:
    contacts = replace(
        card.contacts,
        phone=change("phone", card.contacts.phone),
        email=change("email", card.contacts.email),
    )
    thread = card.email_thread
    if thread is not None:
        thread = replace(
            thread,
            message_id=change("thread_message_id", thread.message_id),
            address=change("thread_address", thread.address),
            subject=change("thread_subject", thread.subject),
        )
    social = card.social_thread
    if social is not None:
        social = replace(social, reference=change("social_reference", social.reference))
    return replace(card, contacts=contacts, email_thread=thread, social_thread=social)


def seal_card(card: CaseCard, opener: FieldOpener) -> CaseCard:
    """The card as stored: its personal texts sealed with `card.sealed_by` (fetched). A card of
    plain events (no key) stays in clear; an erased citizen's card holds placeholders only."""
    if not card.sealed_by:
        return card
    try:
        return _card_with(
            card,
            lambda name, value: opener.seal(card.sealed_by, card.case_id, card_field(name), value),
        )
    except CitizenErased:
        return card.erased(ERASED_TEXT)


def card_holds_tokens(card: CaseCard) -> bool:
    """Whether a stored card keeps sealed texts (read by a notify without keys, it cannot be
    used: its tokens would go out as addresses)."""
    sealed = False

    def note(name: str, value: str) -> str:
        nonlocal sealed
        sealed = sealed or value.startswith(TOKEN_PREFIX)
        return value

    _card_with(card, note)
    return sealed


def open_card(card: CaseCard, opener: FieldOpener) -> CaseCard:
    """A stored card in clear (its key fetched). An erased citizen's: placeholders. Raises
    `PoisonRecord` (a token that does not open)."""
    if not card.sealed_by:
        return card
    try:
        return _card_with(
            card, lambda name, value: opener.open(card.case_id, card_field(name), value)
        )
    except CitizenErased:
        return card.erased(ERASED_TEXT)


def _values(delivery: Delivery) -> dict[str, str]:
    message = delivery.message
    return {
        "recipient": delivery.recipient,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "in_reply_to": message.in_reply_to,
        "references": message.references,
    }


def _delivery_with(delivery: Delivery, values: dict[str, str], sealed_by: str) -> Delivery:
    message = replace(
        delivery.message,
        subject=values["subject"],
        text=values["text"],
        html=values["html"],
        in_reply_to=values["in_reply_to"],
        references=values["references"],
    )
    return replace(delivery, recipient=values["recipient"], message=message, sealed_by=sealed_by)


def seal_delivery(delivery: Delivery, key_ref: str, opener: FieldOpener) -> Delivery:
    """The delivery as stored: recipient, texts and threading headers sealed with `key_ref`
    (its card's key, fetched); none (plain events): as it is. Raises `CitizenErased`."""
    if not key_ref:
        return delivery
    field = delivery.notification_id
    sealed = {
        name: opener.seal(key_ref, delivery.case_id, delivery_field(field, name), value)
        for name, value in _values(delivery).items()
    }
    return _delivery_with(delivery, sealed, key_ref)


def open_delivery(delivery: Delivery, opener: FieldOpener) -> Delivery:
    """A stored delivery in clear, its key fetched ahead (planning). Raises `CitizenErased` or
    `PoisonRecord`."""
    if not delivery.sealed_by:
        return delivery
    field = delivery.notification_id
    opened = {
        name: opener.open(delivery.case_id, delivery_field(field, name), value)
        for name, value in _values(delivery).items()
    }
    return _delivery_with(delivery, opened, "")


async def open_delivery_now(delivery: Delivery, opener: FieldOpener) -> Delivery:
    """A stored delivery in clear, its key fetched now (the dispatcher, at an attempt). Raises
    `CitizenErased`, `KeysUnavailable` or `PoisonRecord`."""
    if not delivery.sealed_by:
        return delivery
    field = delivery.notification_id
    opened: dict[str, str] = {}
    for name, value in _values(delivery).items():
        opened[name] = await opener.open_now(delivery.case_id, delivery_field(field, name), value)
    return _delivery_with(delivery, opened, "")
