"""sla.events.v1 and notification.events.v1 records as the case timeline's facts.

The SLA service's `SlaEvent` becomes a `SlaFact` (its payload's name is the fact's kind); notify's
`NotificationEvent` becomes a `NotificationFact`, or nothing for `requested`, which says a notice
is about to be sent, not that it was. notify's own decisions (held, superseded, suppressed,
merged) are facts of their own kinds, also when an older journal carries one as `failed`
(casedesk_vocabulary.notices): a specialist must not read «not delivered» for a notice that was
only held, or carried by the next one. A record this cannot read raises `UnreadableRecord`, whose
message names what is wrong and never quotes the payload.

The error text notify journals is a provider's answer and may quote an address; it is masked
again here, so the case service's database holds no more than notify's masked recipient.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from casedesk.notification.v1 import events_pb2 as notification_events
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_case.application.timeline import NotificationFact, SlaFact
from casedesk_case.wire.timestamps import from_timestamp
from casedesk_runtime.events import unreadable_as
from casedesk_runtime.masking import mask_text
from casedesk_vocabulary.notices import FAILED, legacy_decision

# Notify's error texts are a provider's sentence; longer ones are cut (the case page shows it).
ERROR_LIMIT = 500
SLA_KINDS = frozenset({"started", "paused", "resumed", "warning", "breached", "met"})
_TARGETS = {sla_events.FIRST_RESPONSE: "FIRST_RESPONSE", sla_events.RESOLUTION: "RESOLUTION"}
_CHANNELS = {
    notification_events.SMS: "SMS",
    notification_events.EMAIL: "EMAIL",
    notification_events.SOCIAL: "SOCIAL",  # a reply posted back to the citizen's social network
}
_PAYLOAD_INSTANTS = frozenset({"started_at", "paused_at", "resumed_at", "fired_at", "met_at",
                               "sent_at"})  # fmt: skip
M = TypeVar("M", bound=Message)


class UnreadableRecord(ValueError):
    """A record that is not a valid event of its topic; the message says which part is wrong."""


@unreadable_as(UnreadableRecord)
def sla_fact(value: bytes | None) -> SlaFact:
    event = _parse(sla_events.SlaEvent, value)
    meta = event.meta
    kind = event.WhichOneof("payload")
    if kind not in SLA_KINDS:
        raise UnreadableRecord("SlaEvent has no payload")
    target = _TARGETS.get(event.target)
    if target is None:
        raise UnreadableRecord(f"SlaEvent.target {event.target} is not a known target")
    return SlaFact(
        event_id=_required(meta.event_id, "SlaEvent.meta.event_id"),
        case_id=_required(meta.case_id, "SlaEvent.meta.case_id"),
        at=_when(meta, getattr(event, kind), "SlaEvent"),
        target=target,
        kind=kind,
        due_at=from_timestamp(event.due_at) if event.HasField("due_at") else None,
        late=kind == "met" and event.met.late,
    )


@unreadable_as(UnreadableRecord)
def notification_fact(
    value: bytes | None, key: bytes | None = None
) -> tuple[str, NotificationFact] | None:
    """The envelope's event id (what the timeline deduplicates on) and the notice `value`
    reports; None for `requested` (nothing was sent yet)."""
    event = _parse(notification_events.NotificationEvent, value)
    meta = event.meta
    kind = event.WhichOneof("payload")
    if kind is None:
        raise UnreadableRecord("NotificationEvent has no payload")
    if kind == "requested":
        return None
    channel = _CHANNELS.get(event.channel)
    if channel is None:
        raise UnreadableRecord(
            f"NotificationEvent.channel {event.channel} is not SMS, EMAIL or SOCIAL"
        )
    payload = getattr(event, kind)
    said = getattr(payload, "error", "") or getattr(payload, "reason", "")
    if kind == FAILED:
        kind = legacy_decision(said) or kind
    # notify keys the topic by case id and names it in the envelope; the key is a fallback only.
    case_id = meta.case_id or (key or b"").decode(errors="replace")
    return _required(meta.event_id, "NotificationEvent.meta.event_id"), NotificationFact(
        notification_id=_required(event.notification_id, "NotificationEvent.notification_id"),
        case_id=_required(case_id, "NotificationEvent.meta.case_id"),
        at=_when(meta, payload, "NotificationEvent"),
        channel=channel,
        kind=kind,
        recipient_masked=mask_text(event.recipient_masked),
        template=event.template,
        error=mask_text(said)[:ERROR_LIMIT],
    )


def _parse(message_type: type[M], value: bytes | None) -> M:
    if not value:
        raise UnreadableRecord(f"empty record, expected a {message_type.__name__}")
    try:
        return message_type.FromString(value)
    except DecodeError as error:
        raise UnreadableRecord(f"not a {message_type.__name__}: {error}") from None


def _when(meta: Any, payload: Any, message: str) -> datetime:
    """The envelope's instant, else the payload's own (sent_at, fired_at, ...)."""
    if meta.HasField("occurred_at"):
        return from_timestamp(meta.occurred_at)
    for field in payload.DESCRIPTOR.fields:
        if field.name in _PAYLOAD_INSTANTS and payload.HasField(field.name):
            return from_timestamp(getattr(payload, field.name))
    raise UnreadableRecord(f"{message}.meta.occurred_at is not set")


def _required(value: str, field: str) -> str:
    if not value:
        raise UnreadableRecord(f"{field} is empty")
    return value
