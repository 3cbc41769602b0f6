"""A store written by an earlier build (schema 1, 2 or 3) opens under schema 4 with nothing lost."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime

import pytest

from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.adapters.store.rows import DELIVERY_COLUMNS, delivery_row
from casedesk_notify.adapters.store.schema import SCHEMA_VERSION
from casedesk_notify.application.deliveries import (
    ConsumedBatch,
    Delivery,
    DeliveryState,
    Verdict,
)
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.testing import events
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream

# The deliveries columns up to schema 3 (schema 4 added the threading headers, last).
# Schema 4 added the threading headers, and (issue #18) the key a delivery is sealed with.
OLD_COLUMNS = DELIVERY_COLUMNS.replace(", in_reply_to, references_header, sealed_by", "")


def old_row(delivery: Delivery) -> tuple[object, ...]:
    return delivery_row(delivery)[:-3]


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
    placeholders = ", ".join("?" * len(OLD_COLUMNS.split(",")))
    for delivery in deliveries:
        db.execute(
            f"INSERT INTO deliveries ({OLD_COLUMNS}) VALUES ({placeholders})", old_row(delivery)
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
    assert reopened.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexes = {row[0] for row in reopened.execute("SELECT name FROM sqlite_master "
                                                  "WHERE type = 'index'")}  # fmt: skip
    assert {"deliveries_open", "deliveries_deferred"} <= indexes
    assert "deliveries_pending" not in indexes
    reopened.close()


# Schema 2 on disk (frozen): the deliveries with schema 2's states and unknown_outcomes, and the
# cards without portal_account.
SCHEMA_2 = (
    SCHEMA_1_DELIVERIES.replace(
        "CHECK (state IN ('pending', 'sent', 'dead'))",
        "CHECK (state IN ('pending', 'held', 'unknown', 'sent', 'dead', 'superseded', "
        "'suppressed'))",
    )
    .replace("source_headers TEXT\n", "source_headers TEXT,\n"
             "    unknown_outcomes INTEGER NOT NULL DEFAULT 0\n")
    .replace("CREATE INDEX deliveries_pending ON deliveries (state) WHERE state = 'pending';",
             "CREATE INDEX deliveries_open ON deliveries (state) "
             "WHERE state IN ('pending', 'held', 'unknown');")
    .replace("PRAGMA user_version = 1;", "PRAGMA user_version = 2;")
    + """
CREATE TABLE case_cards (
    case_id TEXT PRIMARY KEY, number TEXT NOT NULL, status TEXT NOT NULL, phone TEXT NOT NULL,
    email TEXT NOT NULL, preference TEXT NOT NULL, first_response_due TEXT,
    resolution_due TEXT, tier TEXT NOT NULL
);
INSERT INTO case_cards VALUES ('case-m', '2026-0000901', 'IN_PROGRESS', '+79161234567',
    'citizen@example.org', 'both', NULL, NULL, 'L1');
"""
)  # fmt: skip


def test_a_schema_2_store_gains_the_reply_window_states_and_the_portal_account(
    tmp_path, catalog: TemplateCatalog
) -> None:
    email, sms = two_deliveries(tmp_path, catalog)
    path = tmp_path / "notify.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_2)
    placeholders = ", ".join("?" * len(OLD_COLUMNS.split(",")))
    for delivery in (email, sms):
        db.execute(
            f"INSERT INTO deliveries ({OLD_COLUMNS}) VALUES ({placeholders})", old_row(delivery)
        )
    db.execute("UPDATE deliveries SET state = 'unknown', unknown_outcomes = 1 "
               "WHERE channel = 'email'")  # fmt: skip
    db.execute("UPDATE deliveries SET state = 'superseded' WHERE channel = 'sms'")
    db.commit()
    db.close()

    store = DeliveryStore(path)
    card = store.card("case-m")
    assert card is not None and card.portal_account  # as every notice treated it before
    [resumed] = store.pending()
    assert (resumed.notification_id, resumed.unknown_outcomes) == (email.notification_id, 1)
    assert store.state(sms.notification_id) == (DeliveryState.SUPERSEDED, 0)
    store.close()
    reopened = sqlite3.connect(path)
    assert reopened.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # The new states are accepted.
    reopened.execute("UPDATE deliveries SET state = 'deferred' WHERE channel = 'email'")
    reopened.execute("UPDATE deliveries SET state = 'merged' WHERE channel = 'sms'")
    reopened.commit()
    indexes = {row[0] for row in reopened.execute("SELECT name FROM sqlite_master "
                                                  "WHERE type = 'index'")}  # fmt: skip
    assert {"deliveries_open", "deliveries_deferred"} <= indexes
    reopened.close()


def test_a_store_of_a_newer_build_is_refused(tmp_path) -> None:
    path = tmp_path / "future.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RuntimeError, match=f"schema {SCHEMA_VERSION + 1}"):
        DeliveryStore(path)


# Schema 3 on disk (frozen): schema 2's tables with the reply window's states and the cards'
# portal_account, without the ways back nor the threading headers.
SCHEMA_3 = (
    SCHEMA_2.replace("'suppressed'))", "'suppressed', 'deferred', 'merged'))")
    .replace("resolution_due TEXT, tier TEXT NOT NULL\n",
             "resolution_due TEXT, tier TEXT NOT NULL,\n"
             "    portal_account INTEGER NOT NULL DEFAULT 1\n")
    .replace("'citizen@example.org', 'both', NULL, NULL, 'L1');",
             "'citizen@example.org', 'both', NULL, NULL, 'L1', 0);")
    .replace("PRAGMA user_version = 2;", "PRAGMA user_version = 3;")
)  # fmt: skip


def test_a_schema_3_store_gains_the_ways_back_in_place(tmp_path, catalog: TemplateCatalog) -> None:
    email, sms = two_deliveries(tmp_path, catalog)
    path = tmp_path / "notify.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_3)
    placeholders = ", ".join("?" * len(OLD_COLUMNS.split(",")))
    for delivery in (email, sms):
        db.execute(
            f"INSERT INTO deliveries ({OLD_COLUMNS}) VALUES ({placeholders})", old_row(delivery)
        )
    db.execute("UPDATE deliveries SET state = 'deferred' WHERE channel = 'sms'")
    db.commit()
    db.close()

    store = DeliveryStore(path)
    card = store.card("case-m")
    assert card is not None and not card.portal_account  # kept as it was
    assert (card.email_thread, card.social_thread, card.merged_into) == (None, None, "")
    resumed = store.pending()
    assert [d.notification_id for d in resumed] == [email.notification_id, sms.notification_id]
    assert resumed[0].message == email.message  # no threading headers: sent as before
    # The new columns take the new card's values.
    threaded = dataclasses.replace(card, merged_into="2026-0000902")
    store.commit_batch(ConsumedBatch(cards={"case-m": threaded}))
    assert store.card("case-m") == threaded
    store.close()
    reopened = sqlite3.connect(path)
    assert reopened.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    reopened.close()
