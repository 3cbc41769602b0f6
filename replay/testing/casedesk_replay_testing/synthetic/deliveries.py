"""The notify service's delivery journal for synthetic case events: an SMS and an e-mail for each
registration and status change; most are sent at once, some after a retry, a few dead-lettered."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid5

from casedesk.case.v1 import events_pb2 as ce
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk.notification.v1 import events_pb2 as ne
from casedesk_replay_testing.synthetic.lifecycle import NAMESPACE
from casedesk_runtime.events import from_timestamp, to_timestamp

NOTIFY_ACTOR = types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk-notify")
FINAL_STATES = ("SENT", "DEAD_LETTERED")


def notifies(event: ce.CaseEvent) -> bool:
    return event.HasField("created") or event.HasField("status_changed")


def deliveries(
    event: ce.CaseEvent, rng: random.Random
) -> Iterator[tuple[str, ne.NotificationEvent]]:
    """(final state, journal event) pairs; the state is repeated on each event of a notification."""
    template = "acknowledgement@v1" if event.HasField("created") else "status_changed@v1"
    for channel in (ne.SMS, ne.EMAIL):
        notification_id = str(uuid5(NAMESPACE, f"{event.meta.event_id}/{channel}"))
        luck = rng.random()
        fate = "SENT" if luck < 0.97 else "DEAD_LETTERED"
        journal = _Journal(event, notification_id, channel, template)
        yield fate, journal.next(requested=ne.Requested(sms_segments=1 if channel == ne.SMS else 0))
        if fate == "SENT":
            if luck >= 0.9:
                yield fate, journal.next(failed=ne.Failed(attempt=1, error="421 try later",
                                                          temporary=True))  # fmt: skip
            attempt = 2 if luck >= 0.9 else 1
            sent = ne.Sent(attempt=attempt, provider_message_id=f"m-{notification_id[:8]}")
            yield fate, journal.next(sent=sent)
            continue
        for attempt in (1, 2, 3):
            yield fate, journal.next(failed=ne.Failed(attempt=attempt, error="550 no such user"))
        yield (
            fate,
            journal.next(dead_lettered=ne.DeadLettered(attempts=3, error="550 no such user")),
        )


class _Journal:
    def __init__(self, source: ce.CaseEvent, notification_id: str, channel: int, template: str):
        self.source, self.id, self.channel, self.template = (
            source,
            notification_id,
            channel,
            template,
        )
        self.at = from_timestamp(source.meta.occurred_at) + timedelta(seconds=1)
        self.count = 0

    def next(self, **payload: object) -> ne.NotificationEvent:
        self.count += 1
        self.at += timedelta(seconds=30)
        meta = envelope_pb2.EventMeta(
            event_id=f"{self.id}/{self.count}", case_id=self.source.meta.case_id,
            event_type="notification." + type(next(iter(payload.values()))).__name__,
            actor=NOTIFY_ACTOR,
        )  # fmt: skip
        meta.occurred_at.CopyFrom(to_timestamp(self.at))
        return ne.NotificationEvent(
            meta=meta, notification_id=self.id, source_event_id=self.source.meta.event_id,
            channel=self.channel, template=self.template, recipient_masked="+***67",  # type: ignore[arg-type]
            **payload,  # type: ignore[arg-type]
        )  # fmt: skip
