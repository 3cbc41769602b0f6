"""Forgetting an erased citizen in notify's own store (issue #18).

Crypto-shredding makes his tokens unreadable everywhere at once, but notify's rows are its own to
clean: once the key service announces an erasure (its erasure journal, followed by the key
client's follower for `adapters.erasure_watch.ErasedRows`), his case cards lose their contacts
and ways back, his finished deliveries their masked recipient, and his open deliveries are
finished `suppressed` («citizen erased», journaled) instead of waiting for their next attempt to
find out. What is not his stays,
so the counts hold: the case number, status, tier and deadlines; each delivery's channel, state,
attempts, times and reason.

Every replica follows the journal itself (each has a store of its own) and records, in the same
transaction as the rows it blanks, how far it has applied it: a notify that was down resumes
after that position and applies what it missed; applying an erasure twice changes nothing. The
erased keys are remembered (`erased_keys`: subject ids and generations, pseudonyms like every
token), so that what was planned with a key fetched before the notice came, or sent by an
attempt already under way, is blanked as it is written.

Which rows are his: those whose `sealed_by` names an erased key (this generation or an older
one), and the deliveries of a case whose card does. A case read from plain events (sealing off
in the case service) names no key: its rows cannot be told apart from anyone else's here.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from casedesk_notify.application.deliveries import Delivery, JournalEntry, RenderedMessage
from casedesk_notify.application.ports import ERASED_REASON, ERASED_TEXT, NotificationJournal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erasure:
    """The key service destroyed `generation` (and every older one) of a subject's key."""

    subject: str  # 32 hex digits, as in `sealed_by` (never an identifier in clear)
    generation: int


@dataclass(frozen=True)
class Forgotten:
    """What applying erasures changed (rows already blank are not counted again)."""

    cards: int = 0  # case cards blanked
    deliveries: int = 0  # finished deliveries blanked
    suppressed: tuple[str, ...] = ()  # open deliveries finished without a send: their ids

    def __bool__(self) -> bool:
        return bool(self.cards or self.deliveries or self.suppressed)


class ErasedCitizens(Protocol):
    """The store's side (adapters.store.DeliveryStore)."""

    def erasure_position(self) -> int | None: ...

    def forget_erased(
        self,
        erasures: Sequence[Erasure],
        position: int | None,
        not_sent: Callable[[Delivery], JournalEntry],
        sending: Collection[str] = (),
    ) -> Forgotten: ...


class ErasureSweep:
    def __init__(
        self,
        store: ErasedCitizens,
        journal: NotificationJournal,
        sending: Callable[[], Collection[str]] = frozenset,
        finished: Callable[[Sequence[str]], None] = lambda ids: None,
        journal_written: Callable[[], None] = lambda: None,
    ) -> None:
        """`sending`: the notification ids whose attempt is under way (the dispatcher's): left
        to their verdict, which the store blanks as it commits; `finished`: told the ids of the
        open deliveries finished here, which their lanes must drop (the dispatcher's)."""
        self._store = store
        self._journal = journal
        self._sending = sending
        self._finished = finished
        self._journal_written = journal_written

    def resume_after(self) -> int:
        """Where to read the erasure journal from: after the position applied last, or from its
        start (0) for a store that never applied one (erasures before this build included)."""
        position = self._store.erasure_position()
        return 0 if position is None else position

    def apply(self, erasures: Sequence[Erasure], position: int | None = None) -> Forgotten:
        """Forget the erased citizens' rows; record `position` (the journal's, None: keep)."""
        now = datetime.now(UTC)

        def not_sent(delivery: Delivery) -> JournalEntry:
            # The same entry (and event id) the dispatcher writes when an attempt finds out.
            blank = dataclasses.replace(
                delivery,
                recipient=ERASED_TEXT,
                message=RenderedMessage(template=delivery.message.template),
                sealed_by="",
                deferred_until=None,
            )
            return self._journal.decided(blank, "Suppressed", ERASED_REASON, None, now)

        forgotten = self._store.forget_erased(erasures, position, not_sent, self._sending())
        if forgotten.suppressed:
            self._finished(forgotten.suppressed)
            self._journal_written()
        if forgotten:
            # Counts only: neither the subject nor any case of his is named in a log line.
            log.info(
                "erased citizens' rows forgotten",
                extra={
                    "erasures": len(erasures),
                    "cards": forgotten.cards,
                    "deliveries": forgotten.deliveries,
                    "suppressed": len(forgotten.suppressed),
                    "erasure_position": position,
                },
            )
        return forgotten
