"""Decoders dead-letter what a valid protobuf holds but Python cannot: an instant past year 9999,
a channel number of a newer producer. Found by the fuzzing (bugs B2-B5), fixed by
`casedesk_runtime.events.unreadable_as`; before it, such a record stopped its consumer."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2

from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_case.wire.timeline_events import UnreadableRecord, sla_fact
from casedesk_escalation.wire import Topics, UndecodableRecord, read_record
from casedesk_notify.adapters.deadline_policy import deadline_estimator
from casedesk_notify.application.ports import PoisonRecord
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream

BEYOND_DATETIME = 2**62  # seconds: far past year 9999


# --- B2, B3: notify's decoder ------------------------------------------------------------------


def test_b2_notify_parks_a_created_registered_beyond_what_a_datetime_holds() -> None:
    event = CaseStream().created()
    event.created.registered_at.seconds = BEYOND_DATETIME
    with pytest.raises(PoisonRecord):
        CaseEventDecoder(deadline_estimator()).decode(event.SerializeToString())


def test_b3_notify_parks_a_created_with_a_channel_it_does_not_know() -> None:
    event = CaseStream().created()
    event.created.channel = 99  # a newer producer's channel
    with pytest.raises(PoisonRecord):
        CaseEventDecoder(deadline_estimator()).decode(event.SerializeToString())


# --- B4: escalation's decoder -------------------------------------------------------------------


def test_b4_escalation_dead_letters_an_escalated_event_beyond_what_a_datetime_holds() -> None:
    stream = CaseStream()
    stream.created()
    event = stream.escalated()
    event.meta.occurred_at.seconds = BEYOND_DATETIME
    with pytest.raises(UndecodableRecord):
        read_record(Topics(), Topics().case, event.SerializeToString())


def test_b4_escalation_dead_letters_a_breach_due_beyond_what_a_datetime_holds() -> None:
    event = sla_events.SlaEvent(
        target=sla_events.FIRST_RESPONSE,
        due_at=timestamp_pb2.Timestamp(seconds=BEYOND_DATETIME),
        breached=sla_events.Breached(),
    )
    event.meta.event_id, event.meta.case_id = "e-1", "c-1"
    with pytest.raises(UndecodableRecord):
        read_record(Topics(), Topics().sla, event.SerializeToString())


# --- B5: the case timeline's decoder -------------------------------------------------------


def test_b5_the_case_timeline_calls_an_instant_beyond_a_datetime_unreadable() -> None:
    event = sla_events.SlaEvent(target=sla_events.FIRST_RESPONSE, met=sla_events.Met())
    event.meta.event_id, event.meta.case_id = "e-1", "c-1"
    event.meta.occurred_at.seconds = BEYOND_DATETIME
    with pytest.raises(UnreadableRecord):
        sla_fact(event.SerializeToString())
