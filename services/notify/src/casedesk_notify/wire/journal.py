"""Entries of the delivery journal (notification.events.v1): requested, sent, failed, dead, and
notify's own decisions (held, superseded, suppressed, merged).

Entries are built here (this module is the application's `NotificationJournal`) and stored in the
outbox in the same transaction as the state change they describe; `JournalRelay` publishes them.
Event ids are derived from (notification, stage, attempt), so an entry re-published after a crash
carries the id it had the first time. The recipient only ever appears masked.
"""

from __future__ import annotations

from datetime import UTC, datetime

from casedesk.common.v1 import types_pb2
from casedesk.notification.v1 import events_pb2
from casedesk_notify.application.deliveries import Delivery, JournalEntry
from casedesk_notify.application.ports import ERASED_TEXT
from casedesk_notify.domain import DeliveryChannel
from casedesk_notify.domain.identity import journal_event_id
from casedesk_runtime.events import new_meta, to_timestamp
from casedesk_runtime.kafka import trace_headers

_CHANNELS = {
    DeliveryChannel.EMAIL: events_pb2.EMAIL,
    DeliveryChannel.SMS: events_pb2.SMS,
    DeliveryChannel.SOCIAL: events_pb2.SOCIAL,
}
_ACTOR = types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="notify")


def _entry(
    delivery: Delivery,
    stage: str,
    attempt: int,
    now: datetime,
    id_stage: str | None = None,
    **payload: object,
) -> JournalEntry:
    meta = new_meta(
        case_id=delivery.case_id,
        case_version=delivery.case_version,
        event_type=f"notification.{stage}",
        actor=_ACTOR,
        causation_id=delivery.source_event_id,
        correlation_id=delivery.correlation_id,
        event_id=journal_event_id(delivery.notification_id, id_stage or stage, attempt),
        occurred_at=now,
    )
    event = events_pb2.NotificationEvent(
        meta=meta,
        notification_id=delivery.notification_id,
        source_event_id=delivery.source_event_id,
        channel=_CHANNELS[delivery.channel],
        template=delivery.message.template,
        recipient_masked=delivery.recipient_masked,
        **payload,  # type: ignore[arg-type]
    )
    return JournalEntry(
        key=delivery.case_id.encode(),
        value=event.SerializeToString(),
        headers=_trace_of(delivery),
    )


def _trace_of(delivery: Delivery) -> tuple[tuple[str, bytes], ...]:
    """The current span (a send) continues the case's trace; outside one, the case event's."""
    current = tuple(trace_headers())
    if current:
        return current
    return tuple((k, v) for k, v in delivery.source.headers if k in ("traceparent", "tracestate"))


def requested(delivery: Delivery, now: datetime | None = None) -> JournalEntry:
    payload = events_pb2.Requested(sms_segments=delivery.message.sms_segments)
    return _entry(delivery, "Requested", 0, now or datetime.now(UTC), requested=payload)


def sent(
    delivery: Delivery, attempt: int, provider_message_id: str, now: datetime | None = None
) -> JournalEntry:
    moment = now or datetime.now(UTC)
    payload = events_pb2.Sent(
        sent_at=to_timestamp(moment),
        attempt=attempt,
        provider_message_id=provider_message_id,
        sms_segments=delivery.message.sms_segments,
    )
    return _entry(delivery, "Sent", attempt, moment, sent=payload)


def failed(
    delivery: Delivery,
    attempt: int,
    error: str,
    temporary: bool,
    retry_at: datetime | None,
    now: datetime | None = None,
) -> JournalEntry:
    payload = events_pb2.Failed(attempt=attempt, error=error, temporary=temporary)
    if retry_at is not None:
        payload.retry_at.CopyFrom(to_timestamp(retry_at))
    return _entry(delivery, "Failed", attempt, now or datetime.now(UTC), failed=payload)


def dead_lettered(
    delivery: Delivery, attempts: int, error: str, now: datetime | None = None
) -> JournalEntry:
    payload = events_pb2.DeadLettered(attempts=attempts, error=error)
    return _entry(
        delivery, "DeadLettered", attempts, now or datetime.now(UTC), dead_lettered=payload
    )


def decided(
    delivery: Delivery,
    decision: str,
    reason: str,
    retry_at: datetime | None,
    now: datetime | None = None,
    other: str = "",
) -> JournalEntry:
    """A decision of notify's own: `Held` (due again at `retry_at`), `Superseded` (by the
    notification `other`), `Suppressed`, or `Merged` (into the notification `other`), each its
    own payload (casedesk_vocabulary.notices: none of them is a failure to deliver). The event
    id derives from the decision, as when these travelled as `Failed`, so it never collides with
    an attempt's entry and an entry re-published after a crash keeps its id.
    """
    attempt = delivery.attempts
    payload: dict[str, object]
    if decision == "Held":
        held = events_pb2.Held(reason=reason, attempt=attempt)
        if retry_at is not None:
            held.retry_at.CopyFrom(to_timestamp(retry_at))
        payload = {"held": held}
    elif decision == "Superseded":
        by = events_pb2.Superseded(reason=reason, by_notification_id=other, attempt=attempt)
        payload = {"superseded": by}
    elif decision == "Suppressed":
        payload = {"suppressed": events_pb2.Suppressed(reason=reason, attempt=attempt)}
    elif decision == "Merged":
        payload = {"merged": events_pb2.Merged(reason=reason, into_notification_id=other)}
    else:
        raise ValueError(f"{decision!r} is not a decision of notify's (Held, Superseded, ...)")
    moment = now or datetime.now(UTC)
    return _entry(delivery, decision, attempt, moment, id_stage=decision, **payload)


def without_recipient(value: bytes) -> bytes:
    """A serialized entry of an erased citizen's case, its masked recipient replaced by
    `[erased]`: what notify publishes of him once it knows of his erasure (issue #18)."""
    event = events_pb2.NotificationEvent.FromString(value)
    if event.recipient_masked == ERASED_TEXT:
        return value
    event.recipient_masked = ERASED_TEXT
    return event.SerializeToString()
