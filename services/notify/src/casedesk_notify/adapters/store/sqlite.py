"""The dedupe store: delivery states, consumed offsets, case cards and the journal outbox.

Exactly once per (event, channel) rests on one rule: whatever a consumed batch changes (cards, new
pending deliveries with their `Requested` journal entries, the deferred replies it merges, the
partition's next offset) commits in one transaction, and every later state change commits
together with its journal entry. A crash
therefore leaves either the whole batch or none of it, and on restart the consumer seeks to the
stored offsets and the dispatcher resumes the pending deliveries.
"""

from __future__ import annotations

import pathlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal

from casedesk_notify.adapters.store import rows
from casedesk_notify.adapters.store.schema import OPEN_STATES, connect
from casedesk_notify.application.deliveries import (
    ConsumedBatch,
    Delivery,
    DeliveryState,
    JournalEntry,
    Verdict,
)
from casedesk_notify.domain import CaseCard

_CARD_WIDTH = len(rows.CARD_COLUMNS.split(","))
_DELIVERY_WIDTH = len(rows.DELIVERY_COLUMNS.split(","))


class DeliveryStore:
    def __init__(
        self, path: pathlib.Path | str, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    ) -> None:
        self._db = connect(path, synchronous)
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- consuming -------------------------------------------------------------------------

    def stored_offsets(self, topic: str) -> dict[int, int]:
        cursor = self._db.execute(
            "SELECT partition, next_offset FROM consumed_offsets WHERE topic = ?", (topic,)
        )
        return {row["partition"]: row["next_offset"] for row in cursor}

    def card(self, case_id: str) -> CaseCard | None:
        row = self._db.execute("SELECT * FROM case_cards WHERE case_id = ?", (case_id,)).fetchone()
        return rows.card_from(row) if row else None

    def commit_batch(self, batch: ConsumedBatch) -> list[Delivery]:
        """Commit a consumed batch; return the deliveries that are new (not seen before) and
        still to be sent (a reply notice merged in the same batch is not)."""
        created: list[Delivery] = []
        merged: set[str] = set()
        with self._transaction() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO case_cards ({rows.CARD_COLUMNS}) "
                f"VALUES ({', '.join('?' * _CARD_WIDTH)})",
                [rows.card_row(card) for card in batch.cards.values()],
            )
            for delivery, requested in batch.deliveries:
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO deliveries ({rows.DELIVERY_COLUMNS}) "
                    f"VALUES ({', '.join('?' * _DELIVERY_WIDTH)})",
                    rows.delivery_row(delivery),
                )
                if cursor.rowcount == 1:
                    created.append(delivery)
                    self._append_journal(db, requested)
            for delivery, entry, reason in batch.suppressed:
                if self._insert_suppressed(db, delivery, reason):
                    self._append_journal(db, entry)
            for delivery, entry in batch.merged:
                if self._merge(db, delivery):
                    merged.add(delivery.notification_id)
                    self._append_journal(db, entry)
            db.executemany(
                "INSERT INTO consumed_offsets VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                "DO UPDATE SET next_offset = excluded.next_offset",
                [(topic, part, offset) for (topic, part), offset in batch.offsets.items()],
            )
        return [delivery for delivery in created if delivery.notification_id not in merged]

    @staticmethod
    def _insert_suppressed(db: sqlite3.Connection, delivery: Delivery, reason: str) -> bool:
        """A notice decided not to be sent while planning: final at once, with its reason; no
        message, recipient or source kept. False when it was recorded before (read again)."""
        cursor = db.execute(
            f"INSERT OR IGNORE INTO deliveries ({rows.DELIVERY_COLUMNS}) "
            f"VALUES ({', '.join('?' * _DELIVERY_WIDTH)})",
            rows.delivery_row(delivery, DeliveryState.SUPPRESSED),
        )
        if cursor.rowcount != 1:
            return False
        db.execute(
            "UPDATE deliveries SET last_error = ?, finished_at = ?, recipient = ?, subject = NULL, "
            "body_text = NULL, body_html = NULL, in_reply_to = NULL, references_header = NULL, "
            "source_value = NULL, source_key = NULL, source_headers = NULL "
            "WHERE notification_id = ?",
            (
                reason,
                datetime.now(UTC).isoformat(),
                delivery.recipient_masked,
                delivery.notification_id,
            ),
        )
        return True

    @staticmethod
    def _merge(db: sqlite3.Connection, delivery: Delivery) -> bool:
        """A deferred reply notice carried by a status notice: final, its message erased. Only
        from `deferred`: one its window already released is being sent, and stays so."""
        cursor = db.execute(
            "UPDATE deliveries SET state = 'merged', retry_at = NULL, finished_at = ?, "
            "recipient = ?, subject = NULL, body_text = NULL, body_html = NULL, "
            "in_reply_to = NULL, references_header = NULL, "
            "source_value = NULL, source_key = NULL, source_headers = NULL "
            "WHERE notification_id = ? AND state = 'deferred'",
            (
                datetime.now(UTC).isoformat(),
                delivery.recipient_masked,
                delivery.notification_id,
            ),
        )
        return cursor.rowcount == 1

    def deferred(self, case_id: str) -> list[Delivery]:
        """The case's reply notices still in their window, in the order consumed."""
        cursor = self._db.execute(
            "SELECT * FROM deliveries WHERE case_id = ? AND state = 'deferred' ORDER BY seq",
            (case_id,),
        )
        return [rows.delivery_from(row) for row in cursor]

    def release(self, notification_id: str) -> bool:
        """A deferred delivery's window ended: pending from now on. False when it is no longer
        deferred nor otherwise open (merged meanwhile): it must not be sent."""
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET state = 'pending', retry_at = NULL "
                "WHERE notification_id = ? AND state = 'deferred'",
                (notification_id,),
            )
            row = db.execute(
                "SELECT state FROM deliveries WHERE notification_id = ?", (notification_id,)
            ).fetchone()
        return row is not None and DeliveryState(row["state"]).is_open

    # -- delivering ------------------------------------------------------------------------

    def pending(self) -> list[Delivery]:
        """Every delivery still to be sent (pending, held, unknown or deferred), in the order
        consumed."""
        cursor = self._db.execute(
            f"SELECT * FROM deliveries WHERE state IN {OPEN_STATES} ORDER BY seq"
        )
        return [rows.delivery_from(row) for row in cursor]

    def state(self, notification_id: str) -> tuple[DeliveryState, int] | None:
        row = self._db.execute(
            "SELECT state, attempts FROM deliveries WHERE notification_id = ?", (notification_id,)
        ).fetchone()
        return (DeliveryState(row["state"]), row["attempts"]) if row else None

    def unknown_outcomes(self, notification_id: str) -> int:
        """Attempts of the delivery whose outcome was unknown (each a possible extra copy)."""
        row = self._db.execute(
            "SELECT unknown_outcomes FROM deliveries WHERE notification_id = ?",
            (notification_id,),
        ).fetchone()
        return int(row[0]) if row else 0

    def record(self, verdicts: Sequence[Verdict]) -> None:
        """Commit the outcomes of attempts, each with its journal entries, in one transaction."""
        with self._transaction() as db:
            for verdict in verdicts:
                if verdict.state.is_open:
                    self._retry_later(db, verdict)
                else:
                    self._finish(db, verdict)
                for entry in verdict.entries:
                    self._append_journal(db, entry)

    def record_failure(
        self, delivery: Delivery, attempts: int, error: str, retry_at: datetime, entry: JournalEntry
    ) -> None:
        """A temporary failure: count the attempt, remember when the next one is due."""
        verdict = Verdict(delivery, DeliveryState.PENDING, attempts, retry_at, (entry,), error)
        self.record([verdict])

    def record_final(
        self,
        delivery: Delivery,
        state: Literal[
            DeliveryState.SENT,
            DeliveryState.DEAD,
            DeliveryState.SUPERSEDED,
            DeliveryState.SUPPRESSED,
        ],
        attempts: int,
        finished_at: datetime,
        entries: Sequence[JournalEntry],
        error: str = "",
        provider_message_id: str = "",
    ) -> None:
        verdict = Verdict(
            delivery, state, attempts, finished_at, tuple(entries), error, provider_message_id
        )
        self.record([verdict])

    @staticmethod
    def _retry_later(db: sqlite3.Connection, verdict: Verdict) -> None:
        """Still to be sent (a retry due, held, or resent after an unknown outcome)."""
        db.execute(
            "UPDATE deliveries SET state = ?, attempts = ?, unknown_outcomes = ?, last_error = ?, "
            f"retry_at = ? WHERE notification_id = ? AND state IN {OPEN_STATES}",
            (
                verdict.state.value,
                verdict.attempts,
                verdict.unknown_outcomes,
                verdict.error,
                verdict.at.isoformat(),
                verdict.delivery.notification_id,
            ),
        )

    @staticmethod
    def _finish(db: sqlite3.Connection, verdict: Verdict) -> None:
        """Final: keep the verdict, drop the message and the personal data in it."""
        db.execute(
            "UPDATE deliveries SET state = ?, attempts = ?, unknown_outcomes = ?, last_error = ?, "
            "provider_message_id = ?, finished_at = ?, recipient = ?, subject = NULL, "
            "body_text = NULL, body_html = NULL, in_reply_to = NULL, references_header = NULL, "
            "source_value = NULL, source_key = NULL, "
            f"source_headers = NULL WHERE notification_id = ? AND state IN {OPEN_STATES}",
            (
                verdict.state.value,
                verdict.attempts,
                verdict.unknown_outcomes,
                verdict.error or None,
                verdict.provider_message_id or None,
                verdict.at.isoformat(),
                verdict.delivery.recipient_masked,
                verdict.delivery.notification_id,
            ),
        )

    # -- journal outbox --------------------------------------------------------------------

    @staticmethod
    def _append_journal(db: sqlite3.Connection, entry: JournalEntry) -> None:
        db.execute(
            "INSERT INTO journal_outbox (key, value, headers) VALUES (?, ?, ?)",
            (entry.key, entry.value, rows.encode_headers(entry.headers)),
        )

    def journal_batch(self, limit: int) -> list[tuple[int, JournalEntry]]:
        cursor = self._db.execute(
            "SELECT seq, key, value, headers FROM journal_outbox ORDER BY seq LIMIT ?", (limit,)
        )
        return [(row["seq"], _journal_entry(row)) for row in cursor]

    def journal_backlog(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM journal_outbox").fetchone()[0])

    def drop_journal(self, seqs: Sequence[int]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM journal_outbox WHERE seq = ?", [(seq,) for seq in seqs])


def _journal_entry(row: sqlite3.Row) -> JournalEntry:
    return JournalEntry(row["key"], row["value"], rows.decode_headers(row["headers"]))
