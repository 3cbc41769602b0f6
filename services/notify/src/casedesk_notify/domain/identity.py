"""Deterministic identifiers, so that every retry and every replay names the same thing.

A notification is identified by (source event, channel): the same case event consumed twice (a
replay, a crash before the offset was stored) yields the same id, the dedupe table refuses the
second copy, and the e-mail's Message-ID and the SMS gateway's client id let the receiving side
recognise the one duplicate the design cannot exclude (a crash after the provider accepted and
before the state was recorded).
"""

from __future__ import annotations

import uuid

from casedesk_notify.domain.case_card import DeliveryChannel

# Fixed forever: changing it would make every stored id unrecognisable.
NAMESPACE = uuid.UUID("5f0a7c2e-3b8d-4c61-9d0e-6a1f2b7c9e41")


def notification_id(source_event_id: str, channel: DeliveryChannel) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{source_event_id}/{channel.value}"))


def message_id(notification: str, domain: str) -> str:
    """RFC 5322 Message-ID of the e-mail of one notification."""
    return f"<{notification}@{domain}>"


def journal_event_id(notification: str, stage: str, attempt: int = 0) -> str:
    """Event id of one journal entry; a re-published entry keeps its id (consumers dedupe)."""
    return str(uuid.uuid5(NAMESPACE, f"{notification}/{stage}/{attempt}"))
