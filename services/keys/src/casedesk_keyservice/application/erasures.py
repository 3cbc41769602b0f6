"""Erasing a citizen: every subject his identifiers derive to loses its keys, each erasure is
journaled and announced.

Per subject, in this order: the keyring's erasure (the tombstone; from then on no read or write
gets the key from here), the journal's record, the announcement to this process's watchers. A
failure between the first two (the journal unreachable) fails the call: the citizen is erased
but not yet announced, so caches keep his key until their TTL; the order's retry finds the
tombstone (erasure is idempotent) and journals it then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from casedesk_keys import InvalidIdentifier, Keyring, SubjectId, Subjects
from casedesk_keys.subjects import PRIORITY
from casedesk_keyservice.application import measurements
from casedesk_keyservice.application.ports import ErasureJournal
from casedesk_keyservice.domain import Eraser, ErasureOrder, ErasureOutcome, InvalidOrder
from casedesk_keyservice.domain.erasure import NAMED_SUBJECT


class Erasures:
    def __init__(
        self,
        keyring: Keyring,
        subjects: Subjects,
        journal: ErasureJournal,
        announce: Callable[[], None],
    ) -> None:
        self._keyring = keyring
        self._subjects = subjects
        self._journal = journal
        self._announce = announce

    async def erase(self, order: ErasureOrder, eraser: Eraser) -> list[ErasureOutcome]:
        """One outcome per distinct subject, in the order's order (identifiers strongest first,
        then the subjects it names). Every identifier is checked before anything is erased."""
        targets = self.targets(order)
        outcomes = []
        for derived_from, subject in targets:
            outcome = await asyncio.to_thread(self._erase_one, derived_from, subject, eraser, order)
            outcomes.append(outcome)
            if not outcome.already_erased:
                self._announce()
                measurements.erased(eraser)
        return outcomes

    def targets(self, order: ErasureOrder) -> list[tuple[str, SubjectId]]:
        given = {
            "login": order.identity.login,
            "snils": order.identity.snils,
            "inn": order.identity.inn,
            "email": order.identity.email,
            "phone": order.identity.phone,
        }
        found: dict[SubjectId, str] = {}
        for kind in PRIORITY:
            value = given[kind.value]
            if not value.strip():
                continue
            try:
                subject = self._subjects.of_identifier(kind, value)
            except InvalidIdentifier as invalid:
                raise InvalidOrder(f"identifiers.{kind.value}", str(invalid)) from None
            found.setdefault(subject, kind.value)
        for subject in order.subjects:
            found.setdefault(subject, NAMED_SUBJECT)
        return [(derived_from, subject) for subject, derived_from in found.items()]

    def _erase_one(
        self, derived_from: str, subject: SubjectId, eraser: Eraser, order: ErasureOrder
    ) -> ErasureOutcome:
        tombstone = self._keyring.erase(subject, eraser.name, order.reason)
        record, written = self._journal.record(tombstone, eraser.caller)
        return ErasureOutcome(derived_from, record, already_erased=not written)
