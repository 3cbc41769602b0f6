"""sla.events.v1 and notification.events.v1 records read as the timeline's facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casedesk.common.v1 import envelope_pb2
from casedesk.notification.v1 import events_pb2 as notification_events
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_case.application.timeline import NotificationFact, SlaFact
from casedesk_case.wire.timeline_events import UnreadableRecord, notification_fact, sla_fact
from casedesk_runtime.events import to_timestamp

CASE = "0b7f7a57-0000-4000-8000-0000000000c1"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def meta(
    event_id: str = "e-1", case_id: str = CASE, with_time: bool = True
) -> envelope_pb2.EventMeta:
    envelope = envelope_pb2.EventMeta(event_id=event_id, case_id=case_id, event_type="sla.Met")
    if with_time:
        envelope.occurred_at.CopyFrom(to_timestamp(AT))
    return envelope


def sla_event(**payload: object) -> sla_events.SlaEvent:
    event = sla_events.SlaEvent(meta=meta(), target=sla_events.FIRST_RESPONSE, **payload)  # type: ignore[arg-type]
    event.due_at.CopyFrom(to_timestamp(DUE))
    return event


def notification(**payload: object) -> notification_events.NotificationEvent:
    return notification_events.NotificationEvent(
        meta=meta("n-e-1"), notification_id="n-1", source_event_id="c-1",
        channel=notification_events.EMAIL, template="status_changed@1",
        recipient_masked="i***@example.ru", **payload,  # type: ignore[arg-type]
    )  # fmt: skip


def test_an_sla_event_is_a_fact_named_by_its_payload() -> None:
    met = sla_event(met=sla_events.Met(met_at=to_timestamp(AT), late=True))
    assert sla_fact(met.SerializeToString()) == SlaFact(
        event_id="e-1", case_id=CASE, at=AT, target="FIRST_RESPONSE", kind="met", due_at=DUE,
        late=True,
    )  # fmt: skip
    warning = sla_event(warning=sla_events.Warning(elapsed_fraction=0.8))
    assert sla_fact(warning.SerializeToString()).kind == "warning"


def test_without_an_envelope_time_the_payload_says_when() -> None:
    breached = sla_event(breached=sla_events.Breached(fired_at=to_timestamp(DUE)))
    breached.meta.ClearField("occurred_at")
    assert sla_fact(breached.SerializeToString()).at == DUE


def test_a_sent_notice_is_a_fact_and_a_requested_one_is_not_yet() -> None:
    sent = notification(sent=notification_events.Sent(sent_at=to_timestamp(AT), attempt=1))
    assert notification_fact(sent.SerializeToString()) == (
        "n-e-1",
        NotificationFact(
            notification_id="n-1", case_id=CASE, at=AT, channel="EMAIL", kind="sent",
            recipient_masked="i***@example.ru", template="status_changed@1",
        ),
    )  # fmt: skip
    requested = notification(requested=notification_events.Requested())
    assert notification_fact(requested.SerializeToString()) is None


def test_a_reply_posted_to_a_social_network_is_a_fact_of_the_social_channel() -> None:
    posted = notification(sent=notification_events.Sent(sent_at=to_timestamp(AT), attempt=1))
    posted.channel = notification_events.SOCIAL
    _, fact = notification_fact(posted.SerializeToString()) or ("", None)
    assert fact is not None and fact.channel == "SOCIAL" and fact.kind == "sent"


def test_a_providers_error_is_masked_before_it_is_kept() -> None:
    dead = notification(
        dead_lettered=notification_events.DeadLettered(
            attempts=5, error="550 <ivanov@example.ru>: no such user, call +7 916 123-45-67"
        )
    )
    _, fact = notification_fact(dead.SerializeToString(), key=CASE.encode()) or ("", None)
    assert fact is not None and fact.kind == "dead_lettered"
    assert "ivanov@" not in fact.error and "123-45-67" not in fact.error
    assert fact.error.startswith("550 <i***@example.ru>")


def test_notifys_own_decisions_are_facts_of_their_kinds_not_failures() -> None:
    held = notification(held=notification_events.Held(reason="held: recipient limit reached"))
    merged = notification(
        merged=notification_events.Merged(reason="merged into n-2: ...", into_notification_id="n-2")
    )
    superseded = notification(superseded=notification_events.Superseded(reason="superseded by n-3"))
    suppressed = notification(suppressed=notification_events.Suppressed(reason="citizen erased"))
    facts = [
        notification_fact(event.SerializeToString())
        for event in (held, merged, superseded, suppressed)
    ]
    assert [(f[1].kind, f[1].error) for f in facts if f is not None] == [
        ("held", "held: recipient limit reached"),
        ("merged", "merged into n-2: ..."),
        ("superseded", "superseded by n-3"),
        ("suppressed", "citizen erased"),
    ]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("held: recipient limit of 2 notices per 60 s reached", "held"),
        ("superseded by n-2: a later status notice of the same case, ...", "superseded"),
        ("suppressed: recipient limit of 2 notices per 60 s reached and 5 held", "suppressed"),
        ("citizen erased", "suppressed"),
        ("merged into n-2: the status notice that followed this reply ...", "merged"),
        ("SMTP 451 try again later", "failed"),
    ],
)  # fmt: skip
def test_a_decision_an_older_notify_journaled_as_failed_is_read_as_the_decision(
    error: str, kind: str
) -> None:
    old = notification(failed=notification_events.Failed(error=error, temporary=True))
    _, fact = notification_fact(old.SerializeToString()) or ("", None)
    assert fact is not None and (fact.kind, fact.error) == (kind, error)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        (b"", "empty record"),
        (b"\xff\xff\xff", "not a SlaEvent"),
        (sla_events.SlaEvent(meta=meta(), target=sla_events.RESOLUTION), "no payload"),
        (sla_events.SlaEvent(meta=meta(), met=sla_events.Met()), "target 0"),
        (sla_events.SlaEvent(meta=meta(event_id=""), target=1, met=sla_events.Met()), "event_id"),
        (sla_events.SlaEvent(meta=meta(case_id=""), target=1, met=sla_events.Met()), "case_id"),
        (
            sla_events.SlaEvent(meta=meta(with_time=False), target=1, met=sla_events.Met()),
            "occurred_at",
        ),
    ],
)
def test_an_unreadable_sla_record_says_what_is_wrong(value: object, complaint: str) -> None:
    raw = value if isinstance(value, bytes) else value.SerializeToString()  # type: ignore[attr-defined]
    with pytest.raises(UnreadableRecord, match=complaint):
        sla_fact(raw)


def test_an_unreadable_notification_record_says_what_is_wrong() -> None:
    no_channel = notification(sent=notification_events.Sent())
    no_channel.channel = notification_events.DELIVERY_CHANNEL_UNSPECIFIED
    with pytest.raises(UnreadableRecord, match="channel"):
        notification_fact(no_channel.SerializeToString())
    nameless = notification(sent=notification_events.Sent())
    nameless.notification_id = ""
    with pytest.raises(UnreadableRecord, match="notification_id"):
        notification_fact(nameless.SerializeToString())
    with pytest.raises(UnreadableRecord, match="no payload"):
        notification_fact(notification().SerializeToString())
