"""The dedupe store: delivery states, consumed offsets, case cards and the journal outbox.

Exactly once per (event, channel) rests on one rule: whatever a consumed batch changes (cards, new
pending deliveries with their `Requested` journal entries, the deferred replies it merges, the
partition's next offset) commits in one transaction, and every later state change commits
together with its journal entry. A crash
therefore leaves either the whole batch or none of it, and on restart the consumer seeks to the
stored offsets and the dispatcher resumes the pending deliveries.

An erased citizen's rows (issue #18) are forgotten by `forget_erased` together with the erasure
journal's position; the erased keys it remembers also blank what is written for him afterwards
(a card planned with a key fetched before the notice, the verdict of an attempt under way) and
what the journal relay publishes of his cases (`journal_batch`).
"""

from __future__ import annotations

import pathlib
import sqlite3
from collections.abc import Callable, Collection, Iterator, Sequence
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
from casedesk_notify.application.erasures import Erasure, Forgotten
from casedesk_notify.application.ports import ERASED_REASON, ERASED_TEXT
from casedesk_notify.domain import CaseCard
from casedesk_notify.wire.journal import without_recipient

_CARD_WIDTH = len(rows.CARD_COLUMNS.split(","))
_DELIVERY_WIDTH = len(rows.DELIVERY_COLUMNS.split(","))


def _erased(column: str) -> str:
    """SQL: whether the key `column` names (`<32 hex subject>/<generation>`, as `sealed_by`)
    is erased: its subject is in `erased_keys` at that generation or a later one."""
    return (
        f"EXISTS (SELECT 1 FROM erased_keys e WHERE e.subject = substr({column}, 1, 32) "
        f"AND CAST(substr({column}, 34) AS INTEGER) <= e.generation)"
    )


# An erased citizen's card: his contacts read the placeholder (whether he had one still decides
# which later notices are recorded as not sent, CaseCard.erased), the ways back are gone. The
# number, status, tier, deadlines, preference and the key's name stay.
_BLANK_CARD = (
    f"phone = CASE WHEN phone = '' THEN '' ELSE '{ERASED_TEXT}' END, "
    f"email = CASE WHEN email = '' THEN '' ELSE '{ERASED_TEXT}' END, "
    "thread_message_id = '', thread_address = '', thread_subject = '', social_network = '', "
    "social_reference = '', social_private = 0"
)
_CARD_HOLDS_PERSONAL = (
    f"(phone NOT IN ('', '{ERASED_TEXT}') OR email NOT IN ('', '{ERASED_TEXT}') "
    "OR thread_message_id != '' OR thread_address != '' OR thread_subject != '' "
    "OR social_network != '' OR social_reference != '')"
)
# A finished delivery of an erased citizen: its channel, state, attempts, times and reason stay
# (the counts hold); its masked recipient, texts and source go.
_BLANK_DELIVERY = (
    f"recipient = '{ERASED_TEXT}', subject = NULL, body_text = NULL, body_html = NULL, "
    "in_reply_to = NULL, references_header = NULL, source_value = NULL, source_key = NULL, "
    "source_headers = NULL"
)
_DELIVERY_HOLDS_PERSONAL = (
    f"(recipient != '{ERASED_TEXT}' OR subject IS NOT NULL OR body_text IS NOT NULL "
    "OR body_html IS NOT NULL OR in_reply_to IS NOT NULL OR references_header IS NOT NULL "
    "OR source_value IS NOT NULL OR source_key IS NOT NULL OR source_headers IS NOT NULL)"
)
# A subject's keys (`sealed_by`), found through the index on its first 32 characters.
_OF_SUBJECTS = "sealed_by != '' AND substr(sealed_by, 1, 32) IN ({marks}) AND " + _erased(
    "sealed_by"
)


def _erased_deliveries(marks: str) -> str:
    """SQL: the deliveries of erased citizens among the subjects `marks` names (twice): sealed
    with one of their erased keys, or made for a case whose card names one (a case has one
    citizen; a notice recorded not sent at planning may have no key of its own)."""
    of_subjects = _OF_SUBJECTS.format(marks=marks)
    return f"(({of_subjects}) OR case_id IN (SELECT case_id FROM case_cards WHERE {of_subjects}))"


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

    def holds_sealed(self) -> bool:
        """Whether any card or delivery was stored sealed (through the partial indexes on
        `sealed_by`): the store was written by a notify with a key service."""
        found = self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM case_cards WHERE sealed_by != '') "
            "OR EXISTS (SELECT 1 FROM deliveries WHERE sealed_by != '')"
        ).fetchone()
        return bool(found[0])

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
            if batch.cards:
                # Sealed with a key fetched before its erasure was applied (the plan's keys
                # were fetched before the notice came): blanked as the erasure blanked the rest.
                marks = ", ".join("?" * len(batch.cards))
                db.execute(
                    f"UPDATE case_cards SET {_BLANK_CARD} WHERE case_id IN ({marks}) "
                    f"AND sealed_by != '' AND {_erased('sealed_by')}",
                    list(batch.cards),
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
                    changed = self._retry_later(db, verdict)
                else:
                    changed = self._finish(db, verdict)
                if not changed:
                    # No longer open: finished meanwhile by an erasure (`forget_erased`), which
                    # journaled why. A second, contradicting entry would not be true.
                    continue
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
    def _retry_later(db: sqlite3.Connection, verdict: Verdict) -> bool:
        """Still to be sent (a retry due, held, or resent after an unknown outcome)."""
        cursor = db.execute(
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
        return cursor.rowcount == 1

    @staticmethod
    def _finish(db: sqlite3.Connection, verdict: Verdict) -> bool:
        """Final: keep the verdict, drop the message and the personal data in it (an erased
        citizen's masked recipient too: an attempt under way at his erasure ends here)."""
        cursor = db.execute(
            "UPDATE deliveries SET state = ?, attempts = ?, unknown_outcomes = ?, last_error = ?, "
            "provider_message_id = ?, finished_at = ?, "
            f"recipient = CASE WHEN sealed_by != '' AND {_erased('sealed_by')} "
            f"THEN '{ERASED_TEXT}' ELSE ? END, subject = NULL, "
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
        return cursor.rowcount == 1

    # -- erasures (issue #18) ---------------------------------------------------------------

    def erasure_position(self) -> int | None:
        """The key service's erasure journal position applied up to; None before the first."""
        row = self._db.execute("SELECT position FROM erasure_feed WHERE id = 1").fetchone()
        return int(row[0]) if row else None

    def forget_erased(
        self,
        erasures: Sequence[Erasure],
        position: int | None,
        not_sent: Callable[[Delivery], JournalEntry],
        sending: Collection[str] = (),
    ) -> Forgotten:
        """Apply erasures, in one transaction with `position` (None: keep the stored one): the
        keys are remembered as erased, their citizens' cards and finished deliveries blanked,
        their open deliveries finished `suppressed` («citizen erased», each journaled with the
        entry `not_sent` makes of it), except those `sending` names (an attempt under way: its
        verdict ends it, blanked by `_finish`). Idempotent: a row already blank is not
        counted again."""
        now = datetime.now(UTC).isoformat()
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO erased_keys (subject, generation) VALUES (?, ?) "
                "ON CONFLICT (subject) DO UPDATE SET "
                "generation = max(generation, excluded.generation)",
                [(erasure.subject, erasure.generation) for erasure in erasures],
            )
            subjects = sorted({erasure.subject for erasure in erasures})
            cards = finished = 0
            suppressed: tuple[str, ...] = ()
            if subjects:
                marks = ", ".join("?" * len(subjects))
                cards = db.execute(
                    f"UPDATE case_cards SET {_BLANK_CARD} "
                    f"WHERE {_OF_SUBJECTS.format(marks=marks)} AND {_CARD_HOLDS_PERSONAL}",
                    subjects,
                ).rowcount
                of_erased = _erased_deliveries(marks)
                suppressed = self._suppress_erased(
                    db, of_erased, subjects * 2, not_sent, set(sending), now
                )
                finished = db.execute(
                    f"UPDATE deliveries SET {_BLANK_DELIVERY} WHERE state NOT IN {OPEN_STATES} "
                    f"AND {of_erased} AND {_DELIVERY_HOLDS_PERSONAL}",
                    subjects * 2,
                ).rowcount
            if position is not None:
                db.execute(
                    "INSERT INTO erasure_feed (id, position) VALUES (1, ?) "
                    "ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                    (position,),
                )
        return Forgotten(cards, finished, suppressed)

    def _suppress_erased(
        self,
        db: sqlite3.Connection,
        of_erased: str,
        subjects: list[str],
        not_sent: Callable[[Delivery], JournalEntry],
        sending: set[str],
        now: str,
    ) -> tuple[str, ...]:
        """Erased citizens' open deliveries, finished without a send, each journaled."""
        cursor = db.execute(
            f"SELECT * FROM deliveries WHERE state IN {OPEN_STATES} AND {of_erased} ORDER BY seq",
            subjects,
        )
        finished = []
        for delivery in [rows.delivery_from(row) for row in cursor]:
            if delivery.notification_id in sending:
                continue
            db.execute(
                f"UPDATE deliveries SET state = 'suppressed', retry_at = NULL, last_error = ?, "
                f"finished_at = ?, {_BLANK_DELIVERY} WHERE notification_id = ? "
                f"AND state IN {OPEN_STATES}",
                (ERASED_REASON, now, delivery.notification_id),
            )
            self._append_journal(db, not_sent(delivery))
            finished.append(delivery.notification_id)
        return tuple(finished)

    # -- journal outbox --------------------------------------------------------------------

    @staticmethod
    def _append_journal(db: sqlite3.Connection, entry: JournalEntry) -> None:
        db.execute(
            "INSERT INTO journal_outbox (key, value, headers) VALUES (?, ?, ?)",
            (entry.key, entry.value, rows.encode_headers(entry.headers)),
        )

    def journal_batch(self, limit: int) -> list[tuple[int, JournalEntry]]:
        """The oldest entries of the outbox. Those of an erased citizen's cases go out without
        even the masked recipient, whenever they were written (before the erasure, or by an
        attempt under way at it)."""
        cursor = self._db.execute(
            "SELECT seq, key, value, headers, EXISTS (SELECT 1 FROM case_cards c "
            "WHERE c.case_id = CAST(j.key AS TEXT) AND c.sealed_by != '' "
            f"AND {_erased('c.sealed_by')}) AS erased "
            "FROM journal_outbox j ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [(row["seq"], _journal_entry(row)) for row in cursor]

    def journal_backlog(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM journal_outbox").fetchone()[0])

    def drop_journal(self, seqs: Sequence[int]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM journal_outbox WHERE seq = ?", [(seq,) for seq in seqs])


def _journal_entry(row: sqlite3.Row) -> JournalEntry:
    value = without_recipient(row["value"]) if row["erased"] else row["value"]
    return JournalEntry(row["key"], value, rows.decode_headers(row["headers"]))
