"""Followers take the events this process stored from memory, equal to what decoding gives."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Notification, Recording

from casedesk_case.application.recently_stored import RecentEvents
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.domain.values import Status
from casedesk_case.testing import CaseApplication

from ..conftest import SPECIALIST, create, meta


def test_followers_get_the_stored_events_from_either_replica(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    writer, other = CaseApplication(env=env), CaseApplication(env=env)
    case = create(writer, meta=meta(key="k-1"))
    writer.change_status(
        case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST)
    )
    log = writer.recorder.select_notifications(None, 100, topics=CASE_EVENT_TOPICS)
    assert [n.originator_version for n in log] == [1, 2, 3]
    for notification in log:
        decoded = writer.mapper.to_domain_event(notification)
        assert writer.event_of(notification) == decoded  # remembered by the writer
        assert other.event_of(notification) == decoded  # decoded by the other replica
    writer.close()
    other.close()


def test_only_the_latest_case_events_are_remembered() -> None:
    recent = RecentEvents(maxsize=3)
    case_topic, receipt_topic = CASE_EVENT_TOPICS[0], "casedesk.case.CommandReceipt.Created"
    recordings = [_recording(n, receipt_topic if n % 3 == 0 else case_topic) for n in range(1, 9)]
    recent.remember(recordings[:4])
    recent.remember(recordings[4:])
    kept = [r.notification.id for r in recordings if recent.get(r.notification) is not None]
    assert kept == [5, 7, 8]  # receipts (3, 6) are no follower's business
    assert recent.get(recordings[7].notification) is recordings[7].domain_event


def _recording(notification_id: int, topic: str) -> Recording[Any]:
    notification = Notification(
        id=notification_id, originator_id=uuid.uuid4(), originator_version=1, topic=topic,
        state=b"{}",
    )  # fmt: skip
    return Recording(domain_event=object(), notification=notification)  # type: ignore[arg-type]
