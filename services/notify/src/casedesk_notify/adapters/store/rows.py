"""Conversions between notify's records and SQLite rows."""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import datetime

from casedesk_notify.application.deliveries import (
    Delivery,
    DeliveryState,
    Headers,
    RenderedMessage,
    SourceRecord,
)
from casedesk_notify.domain import (
    CaseCard,
    Contacts,
    DeliveryChannel,
    EmailThread,
    ExpectedDeadlines,
    SocialThread,
)
from casedesk_vocabulary.enums import ContactChannel, Status, Tier

# The stored spelling of a contact preference (kept from before the vocabulary existed).
_PREFERENCE_COLUMN = {
    ContactChannel.SMS: "sms",
    ContactChannel.EMAIL: "email",
    ContactChannel.SMS_AND_EMAIL: "both",
    ContactChannel.UNSPECIFIED: "both",  # means both, as it always did
}
_PREFERENCE_FROM_COLUMN = {
    "sms": ContactChannel.SMS,
    "email": ContactChannel.EMAIL,
    "both": ContactChannel.SMS_AND_EMAIL,
}


def encode_headers(headers: Headers) -> str:
    return json.dumps([[key, base64.b64encode(value).decode()] for key, value in headers])


def decode_headers(text: str | None) -> Headers:
    return tuple((key, base64.b64decode(value)) for key, value in json.loads(text or "[]"))


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


CARD_COLUMNS = (
    "case_id, number, status, phone, email, preference, first_response_due, resolution_due, "
    "tier, portal_account, thread_message_id, thread_address, thread_subject, social_network, "
    "social_reference, social_private, merged_into, sealed_by"
)


def card_row(card: CaseCard) -> tuple[object, ...]:
    contacts, deadlines = card.contacts, card.deadlines
    return (
        card.case_id,
        card.number,
        card.status.value,
        contacts.phone,
        contacts.email,
        _PREFERENCE_COLUMN[contacts.preference],
        _instant(deadlines.first_response_due),
        _instant(deadlines.resolution_due),
        card.tier.value,
        int(card.portal_account),
        *_thread_row(card.email_thread),
        *_social_row(card.social_thread),
        card.merged_into,
        card.sealed_by,
    )


def _thread_row(thread: EmailThread | None) -> tuple[str, str, str]:
    return (thread.message_id, thread.address, thread.subject) if thread else ("", "", "")


def _social_row(social: SocialThread | None) -> tuple[str, str, int]:
    if social is None:
        return ("", "", 0)
    return (social.network, social.reference, int(social.private_message))


def card_from(row: sqlite3.Row) -> CaseCard:
    return CaseCard(
        case_id=row["case_id"],
        number=row["number"],
        status=Status(row["status"]),
        contacts=Contacts(row["phone"], row["email"], _PREFERENCE_FROM_COLUMN[row["preference"]]),
        deadlines=ExpectedDeadlines(
            _parse_instant(row["first_response_due"]), _parse_instant(row["resolution_due"])
        ),
        # Cards stored before tiers were checked may hold an unspecified tier: it read as L1.
        tier=Tier.__members__.get(row["tier"], Tier.L1),
        portal_account=bool(row["portal_account"]),
        email_thread=(
            EmailThread(row["thread_message_id"], row["thread_address"], row["thread_subject"])
            if row["thread_message_id"]
            else None
        ),
        social_thread=(
            SocialThread(
                row["social_network"], row["social_reference"], bool(row["social_private"])
            )
            if row["social_network"]
            else None
        ),
        merged_into=row["merged_into"],
        sealed_by=row["sealed_by"],
    )


DELIVERY_COLUMNS = (
    "notification_id, source_event_id, case_id, case_version, correlation_id, channel, "
    "recipient, template, subject, body_text, body_html, sms_segments, state, attempts, "
    "source_topic, source_partition, source_offset, source_key, source_value, source_headers, "
    "retry_at, in_reply_to, references_header, sealed_by"
)


def delivery_row(delivery: Delivery, state: DeliveryState | None = None) -> tuple[object, ...]:
    """`state`: the state it starts in; by default `deferred` or `pending`."""
    message, source = delivery.message, delivery.source
    if state is None:
        state = DeliveryState.DEFERRED if delivery.deferred_until else DeliveryState.PENDING
    return (
        delivery.notification_id,
        delivery.source_event_id,
        delivery.case_id,
        delivery.case_version,
        delivery.correlation_id,
        delivery.channel.value,
        delivery.recipient,
        message.template,
        message.subject,
        message.text,
        message.html,
        message.sms_segments,
        state.value,
        delivery.attempts,
        source.topic,
        source.partition,
        source.offset,
        source.key,
        source.value,
        encode_headers(source.headers),
        _instant(delivery.deferred_until),
        message.in_reply_to or None,
        message.references or None,
        delivery.sealed_by,
    )


def delivery_from(row: sqlite3.Row) -> Delivery:
    return Delivery(
        notification_id=row["notification_id"],
        source_event_id=row["source_event_id"],
        case_id=row["case_id"],
        case_version=row["case_version"],
        correlation_id=row["correlation_id"],
        channel=DeliveryChannel(row["channel"]),
        recipient=row["recipient"],
        message=RenderedMessage(
            template=row["template"],
            subject=row["subject"] or "",
            text=row["body_text"] or "",
            html=row["body_html"] or "",
            sms_segments=row["sms_segments"],
            in_reply_to=row["in_reply_to"] or "",
            references=row["references_header"] or "",
        ),
        source=SourceRecord(
            topic=row["source_topic"],
            partition=row["source_partition"],
            offset=row["source_offset"],
            key=row["source_key"],
            value=row["source_value"] or b"",
            headers=decode_headers(row["source_headers"]),
        ),
        attempts=row["attempts"],
        unknown_outcomes=row["unknown_outcomes"],
        deferred_until=(
            _parse_instant(row["retry_at"]) if row["state"] == DeliveryState.DEFERRED else None
        ),
        sealed_by=row["sealed_by"],
    )
