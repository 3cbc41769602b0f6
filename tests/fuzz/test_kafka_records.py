"""Every Kafka consumer's record decoding, fed random bytes and random valid-looking events.

Each consumer reads a record value through one entry point and dead-letters (or skips, or stops
on, for the replay) the records it cannot read by catching one specific error; anything else a
decoder raises escapes the consumer's loop and stops it, and with it every record behind the bad
one. So a decoder must return, or raise exactly its documented error:

| consumer (topics) | entry point | the error |
|---|---|---|
| sla (case) | CaseEvent.FromString, case_fact, event_time | DecodeError, ValueError (1) |
| escalation (case, sla) | wire.read_record | UndecodableRecord |
| notify (case) | CaseEventDecoder.decode | PoisonRecord |
| case timeline (sla, notification) | sla_fact, notification_fact | UnreadableRecord (2) |
| replay (every topic) | decode_many | UndecodableRecord |

(1) its consumer dead-letters any Exception; these are the ones case_fact documents.
(2) its consumer skips any Exception; UnreadableRecord is the one the module documents.

Inputs: random bytes, valid events of each kind (casedesk_runtime.testing's CaseStream) with
fields replaced by random values (instants at the ends of int64, unknown enum numbers, empty
ids), random messages of the topic's type, and valid events with bytes flipped or cut.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fuzzkit import known_bugs, tally
from fuzzkit.protobuf import messages, mutations, raw_requests, serialized, weighted
from fuzzkit.runner import fuzz_settings
from google.protobuf.message import DecodeError, Message
from hypothesis import given
from hypothesis import strategies as st

from casedesk.case.v1 import events_pb2 as case_events
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk.notification.v1 import events_pb2 as notification_events
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_case.wire.timeline_events import UnreadableRecord, notification_fact, sla_fact
from casedesk_escalation.wire import Topics, UndecodableRecord, read_record
from casedesk_notify.adapters.deadline_policy import deadline_estimator
from casedesk_notify.application.ports import PoisonRecord
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_replay.topics import Stream
from casedesk_replay.wire import UndecodableRecord as ReplayUndecodable
from casedesk_replay.wire import decode_many
from casedesk_runtime.events import to_timestamp
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_sla.wire.case_events import case_fact, event_time
from casedesk_vocabulary.enums import ActorKind, Status

# Far cheaper than a gRPC call: many more inputs in the same time.
SCALE = 5
# A decoder reads one record; anything near this is a stall of the partition.
SLOW_S = 1.0
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TOPICS = Topics()


def case_event_templates() -> list[Message]:
    stream = CaseStream(at=AT)
    return [
        stream.created(),
        stream.assigned(),
        stream.status_changed(to=Status.IN_PROGRESS),
        stream.commented(),
        stream.commented(public=False),
        stream.escalated(),
        stream.escalation_requested(),
        stream.status_changed(to=Status.WAITING_FOR_CITIZEN),
        stream.commented(by=ActorKind.CITIZEN),
        stream.repeated(new_case_id="c-2"),
    ]


def _meta() -> envelope_pb2.EventMeta:
    return envelope_pb2.EventMeta(
        event_id="e-1", case_id="c-1", case_version=3, occurred_at=to_timestamp(AT)
    )


def sla_event_templates() -> list[Message]:
    at = to_timestamp(AT)
    common: dict[str, Any] = {
        "meta": _meta(),
        "target": sla_events.FIRST_RESPONSE,
        "channel": types_pb2.EMAIL,
        "due_at": at,
    }
    return [
        sla_events.SlaEvent(**common, started=sla_events.ClockStarted(started_at=at, warn_at=at)),
        sla_events.SlaEvent(**common, paused=sla_events.ClockPaused(paused_at=at)),
        sla_events.SlaEvent(**common, resumed=sla_events.ClockResumed(resumed_at=at)),
        sla_events.SlaEvent(**common, warning=sla_events.Warning(elapsed_fraction=0.75)),
        sla_events.SlaEvent(**common, breached=sla_events.Breached(fired_at=at, tier=types_pb2.L1)),
        sla_events.SlaEvent(**common, met=sla_events.Met(met_at=at, late=True)),
    ]


def notification_templates() -> list[Message]:
    at = to_timestamp(AT)
    common: dict[str, Any] = {
        "meta": _meta(),
        "notification_id": "n-1",
        "source_event_id": "e-0",
        "channel": notification_events.SMS,
        "template": "status_changed@1",
        "recipient_masked": "+7 912 *** ** 89",
    }
    return [
        notification_events.NotificationEvent(**common, requested=notification_events.Requested()),
        notification_events.NotificationEvent(**common, sent=notification_events.Sent(sent_at=at)),
        notification_events.NotificationEvent(
            **common, failed=notification_events.Failed(error="550 ivanov@example.ru unknown")
        ),
        notification_events.NotificationEvent(
            **common, dead_lettered=notification_events.DeadLettered(attempts=5, error="x")
        ),
    ]


IDS = {"event_id": st.just("e-1"), "case_id": st.just("c-1"), "number": st.just("2026-0000001")}


def values(templates: list[Message]) -> st.SearchStrategy[bytes]:
    """Record values: mutated valid events (most), random events, spoiled and random bytes."""
    descriptor = templates[0].DESCRIPTOR
    mutated = serialized(st.one_of([mutations(t, IDS) for t in templates]))
    return weighted(
        (3, mutated),
        (1, serialized(messages(descriptor, IDS))),
        (1, raw_requests(serialized(st.sampled_from(templates)))),
    )


def _sla_decode(value: bytes) -> object:
    event = case_events.CaseEvent.FromString(value)
    return case_fact(event, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), event_time(
        event
    )


@dataclass(frozen=True)
class Decoder:
    name: str
    decode: Callable[[bytes], object]
    errors: tuple[type[BaseException], ...]
    values: Callable[[], st.SearchStrategy[bytes]]

    @property
    def message_type(self) -> type[Message]:
        topic = self.name.split(":", 1)[1]
        return {
            "case.events.v1": case_events.CaseEvent,
            "sla.events.v1": sla_events.SlaEvent,
            "notification.events.v1": notification_events.NotificationEvent,
        }[topic]


NOTIFY = CaseEventDecoder(deadline_estimator())
DECODERS = [
    Decoder("sla:case.events.v1", _sla_decode, (DecodeError, ValueError),
            lambda: values(case_event_templates())),
    Decoder("escalation:case.events.v1", lambda v: read_record(TOPICS, TOPICS.case, v),
            (UndecodableRecord,), lambda: values(case_event_templates())),
    Decoder("escalation:sla.events.v1", lambda v: read_record(TOPICS, TOPICS.sla, v),
            (UndecodableRecord,), lambda: values(sla_event_templates())),
    Decoder("notify:case.events.v1", NOTIFY.decode, (PoisonRecord,),
            lambda: values(case_event_templates())),
    Decoder("case-timeline:sla.events.v1", sla_fact, (UnreadableRecord,),
            lambda: values(sla_event_templates())),
    Decoder("case-timeline:notification.events.v1", lambda v: notification_fact(v, b"c-1"),
            (UnreadableRecord,), lambda: values(notification_templates())),
    Decoder("replay:case.events.v1", lambda v: decode_many(Stream.CASE, [v]),
            (ReplayUndecodable,), lambda: values(case_event_templates())),
    Decoder("replay:sla.events.v1", lambda v: decode_many(Stream.SLA, [v]),
            (ReplayUndecodable,), lambda: values(sla_event_templates())),
    Decoder("replay:notification.events.v1", lambda v: decode_many(Stream.NOTIFICATION, [v]),
            (ReplayUndecodable,), lambda: values(notification_templates())),
]  # fmt: skip


def outcome_of(decoder: Decoder, value: bytes) -> tuple[str, str | None, BaseException | None]:
    """(what happened, what is wrong with it or None, the stray error if any)."""
    started = time.monotonic()
    try:
        decoder.decode(value)
        outcome, trouble = "decoded", None
    except decoder.errors as error:
        outcome = type(error).__name__
        trouble = None if str(error).strip() else "an error without a message"
    except Exception as error:
        return type(error).__name__, f"{type(error).__name__}: {error}", error
    spent = time.monotonic() - started
    if spent > SLOW_S:
        return outcome, f"{spent:.1f} s for one record", None
    return outcome, trouble, None


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
def test_a_record_decodes_or_raises_the_consumers_own_error(decoder: Decoder) -> None:
    target = tally.target(f"kafka:{decoder.name}")

    @fuzz_settings(tally.examples(SCALE))
    @given(decoder.values())
    def fuzz(value: bytes) -> None:
        started = time.monotonic()
        outcome, trouble, error = outcome_of(decoder, value)
        bug = (
            known_bugs.kafka_bug(decoder.name, error, decoder.message_type, value)
            if error
            else None
        )
        target.tried(time.monotonic() - started, bug.key if bug else outcome)
        if bug is not None:
            target.known[bug.key] += 1
        elif trouble is not None:
            message = (
                f"{decoder.name}: {trouble} (expected a result or "
                f"{' / '.join(e.__name__ for e in decoder.errors)}); "
                f"value bytes.fromhex('{value[:400].hex()}') ({len(value)} bytes)"
            )
            target.failed(message)
            raise AssertionError(message)

    fuzz()
    assert target.failures == 0
