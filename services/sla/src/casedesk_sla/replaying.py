"""The SLA service's public API for replays: its clock rules, applied to case.events.v1.

The one module of casedesk_sla that code outside the service may import (the analysts' replay
tool, tests of the whole system). It hands out the service's own book, so a replay decides
exactly what the service decides:

- `case_fact` decodes a `CaseEvent` into the SLA fact it carries (None: it moves no clock;
  ValueError: the service would dead-letter it); `PolicyRegistry`, `SlaBook` and the facts
  (`CaseOpened`, `SlaFact`, `SlaKind`) apply those facts under a policy version;
- `ClockTable`, `case_row` and `restore_rows` keep a book's open clocks as rows by case id, as
  the service's store does, for checkpoints;
- `replay` runs a whole stream of case events through a fresh book on a virtual clock, as the
  service would have (`merge_partitions` orders a topic's partitions by event time), and
  `sla_event` encodes the facts it decides as sla.events.v1 messages, to compare with the topic.
"""

from __future__ import annotations

from collections.abc import Iterable

from casedesk.case.v1 import events_pb2 as case_events
from casedesk_sla.application.replay import Replay, ReplayedEvent, replay_facts
from casedesk_sla.domain import CaseOpened, Micros, PolicyRegistry, SlaBook, SlaFact, SlaKind
from casedesk_sla.domain.rows import case_row, restore_rows
from casedesk_sla.domain.table import ClockTable
from casedesk_sla.wire.case_events import case_fact, event_time, merge_partitions
from casedesk_sla.wire.sla_events import sla_event

__all__ = [
    "CaseOpened",
    "ClockTable",
    "PolicyRegistry",
    "Replay",
    "SlaBook",
    "SlaFact",
    "SlaKind",
    "case_fact",
    "case_row",
    "merge_partitions",
    "replay",
    "restore_rows",
    "sla_event",
]


def replay(
    events: Iterable[case_events.CaseEvent], policies: PolicyRegistry, until: Micros | None = None
) -> Replay:
    """Replay `events` (in log order) under `policies`; alarms due before `until` fire last."""
    return replay_facts((_decoded(event) for event in events), policies, until)


def _decoded(event: case_events.CaseEvent) -> ReplayedEvent:
    at = event_time(event)
    try:
        return ReplayedEvent(event.meta.case_id, at, case_fact(event))
    except ValueError as error:
        return ReplayedEvent(event.meta.case_id, at, None, error)
