"""A store written by the previous build (schema 1) opens under schema 2 with nothing lost."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.adapters.store.rows import DELIVERY_COLUMNS, delivery_row
from casedesk_notify.application.deliveries import Delivery, DeliveryState, Verdict
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.testing import events
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream

# The deliveries table as schema 1 created it (frozen: this is the shape stores have on disk).
SCHEMA_1_DELIVERIES = """
CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL UNIQUE,
    source_event_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    case_version INTEGER NOT NULL,
    correlation_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    subject TEXT,
    body_text TEXT,
    body_html TEXT,
    sms_segments INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    retry_at TEXT,
    provider_message_id TEXT,
    finished_at TEXT,
    source_topic TEXT NOT NULL,
    source_partition INTEGER NOT NULL,
    source_offset INTEGER NOT NULL,
    source_key BLOB,
    source_value BLOB,
    source_headers TEXT
);
CREATE INDEX deliveries_pending ON deliveries (state) WHERE state = 'pending';
PRAGMA user_version = 1;
"""


def two_deliveries(tmp_path, catalog: TemplateCatalog) -> list[Delivery]:
    scratch = DeliveryStore(tmp_path / "scratch.sqlite3")
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), catalog, NotifyPolicy(),
        (DeliveryChannel.EMAIL, DeliveryChannel.SMS), scratch.card, journal=journal,
    )  # fmt: skip
    created = CaseStream("case-m", number="2026-0000901").created()
    planned = planner.plan([events.record(created, 0)]).changes
    scratch.close()
    return [delivery for delivery, _ in planned.deliveries]


def schema_1_store(path, deliveries: list[Delivery]) -> None:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1_DELIVERIES)
    for delivery in deliveries:
        db.execute(
            f"INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES ({', '.join('?' * 20)})",
            delivery_row(delivery),
        )
    db.execute("UPDATE deliveries SET attempts = 3 WHERE channel = 'email'")
    db.execute("UPDATE deliveries SET state = 'sent' WHERE channel = 'sms'")
    db.commit()
    db.close()


def test_a_schema_1_store_is_migrated_and_its_pending_deliveries_resume(
    tmp_path, catalog: TemplateCatalog
) -> None:
    email, sms = two_deliveries(tmp_path, catalog)
    path = tmp_path / "notify.sqlite3"
    schema_1_store(path, [email, sms])

    store = DeliveryStore(path)
    [resumed] = store.pending()
    assert resumed.notification_id == email.notification_id
    assert (resumed.attempts, resumed.unknown_outcomes) == (3, 0)
    assert resumed.message == email.message and resumed.source == email.source
    assert store.state(sms.notification_id) == (DeliveryState.SENT, 0)
    # The new states are accepted: a resend after an unknown outcome, then sent.
    now = datetime.now(UTC)
    entry = journal.failed(resumed, 4, "outcome unknown", True, now)
    store.record([Verdict(resumed, DeliveryState.UNKNOWN, 4, now, (entry,), "x", "", 1)])
    assert store.state(email.notification_id) == (DeliveryState.UNKNOWN, 4)
    assert [d.unknown_outcomes for d in store.pending()] == [1]
    store.close()

    reopened = sqlite3.connect(path)
    assert reopened.execute("PRAGMA user_version").fetchone()[0] == 2
    indexes = {row[0] for row in reopened.execute("SELECT name FROM sqlite_master "
                                                  "WHERE type = 'index'")}  # fmt: skip
    assert "deliveries_open" in indexes and "deliveries_pending" not in indexes
    reopened.close()


def test_a_store_of_a_newer_build_is_refused(tmp_path) -> None:
    path = tmp_path / "future.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 3")
    db.close()
    with pytest.raises(RuntimeError, match="schema 3"):
        DeliveryStore(path)
