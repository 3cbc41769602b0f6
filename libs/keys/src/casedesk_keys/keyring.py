"""The key owner's use cases: a citizen's data key made once, unwrapped on demand, destroyed at
erasure, started afresh only by a deliberate decision.

Only the process that owns the keys (the key service) builds a Keyring: it holds the store of
wrapped keys and the key-encryption key. Services reach it through a KeySource.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from casedesk_keys.data_keys import DATA_KEY_BYTES, DataKey, StoredKey, Tombstone, WrappedKey
from casedesk_keys.errors import KeyErased, KeyNotFound, KeysError
from casedesk_keys.ports import KekProvider, KeyStore
from casedesk_keys.subjects import SubjectId

_REFERENCE_LIMIT = 200


def _now() -> datetime:
    return datetime.now(UTC)


class Keyring:
    def __init__(
        self,
        store: KeyStore,
        kek: KekProvider,
        clock: Callable[[], datetime] = _now,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.store = store
        self.kek = kek
        self._clock = clock
        self._random = random

    def current_key(self, subject: SubjectId, create: bool = True) -> DataKey:
        """The subject's newest key, made on first use (two replicas making it at once end with
        one: the store keeps the first). KeyErased if it was erased, KeyNotFound if it has
        none and `create` is false."""
        row = self.store.latest(subject)
        if row is None:
            if not create:
                raise KeyNotFound(f"subject {subject} has no key")
            row = self._add(subject, 1)
        return self._open(row)

    def current_keys(self, subjects: Sequence[SubjectId]) -> list[DataKey | KeysError]:
        """`current_key` of each subject (made on first use), in order: its key, or the
        KeysError it would raise. The keys made are stored in one commit (the key service's
        group commit: one fsync for a batch of new citizens, where each used to take its own),
        in the subjects' order, so two replicas making overlapping batches cannot deadlock; a
        key made here is handed out as made, without unwrapping it again."""
        rows: dict[SubjectId, StoredKey] = {}
        made: dict[SubjectId, tuple[bytes, WrappedKey]] = {}
        for subject in sorted(set(subjects), key=str):
            row = self.store.latest(subject)
            if row is not None:
                rows[subject] = row
            else:
                plain = self._random(DATA_KEY_BYTES)
                made[subject] = (plain, self.kek.wrap(plain))
        if made:
            new = [(subject, 1, wrapped) for subject, (_, wrapped) in made.items()]
            rows.update(zip(made, self.store.add_many(new, self._clock()), strict=True))
        found: list[DataKey | KeysError] = []
        for subject in subjects:
            row = rows[subject]
            mine = made.get(subject)
            try:
                if mine is not None and row.tombstone is None and row.wrapped == mine[1]:
                    found.append(DataKey(subject, row.generation, mine[0]))
                else:
                    found.append(self._open(row))
            except KeysError as error:
                found.append(error)
        return found

    def key(self, subject: SubjectId, generation: int) -> DataKey:
        """A given generation of the subject's key (the one a token names)."""
        row = self.store.get(subject, generation)
        if row is None:
            raise KeyNotFound(f"subject {subject} has no key of generation {generation}")
        return self._open(row)

    def erase(self, subject: SubjectId, erased_by: str, reason: str) -> Tombstone:
        """Destroy every wrapped key of the subject (crypto-shredding): each field sealed with
        them, wherever its copies are, can no longer be opened. `erased_by`: the verified actor;
        `reason`: the request's or retention rule's reference (no personal data)."""
        _check_reference("erased_by", erased_by)
        _check_reference("reason", reason)
        return self.store.erase(subject, self._clock(), erased_by, reason)

    def reopen(self, subject: SubjectId) -> DataKey:
        """A new generation of an erased subject's key, for a policy that lets a citizen who was
        erased come back under the same identifiers (README.md "After an erasure"). The erased
        generations stay erased. For a subject that is not erased, its current key."""
        row = self.store.latest(subject)
        if row is None or row.tombstone is None:
            return self.current_key(subject)
        return self._open(self._add(subject, row.generation + 1))

    def _add(self, subject: SubjectId, generation: int) -> StoredKey:
        wrapped = self.kek.wrap(self._random(DATA_KEY_BYTES))
        return self.store.add(subject, generation, wrapped, self._clock())

    def _open(self, row: StoredKey) -> DataKey:
        if row.tombstone is not None:
            raise KeyErased(row.tombstone)
        assert row.wrapped is not None  # StoredKey holds one of the two
        return DataKey(row.subject, row.generation, self.kek.unwrap(row.wrapped))


def _check_reference(name: str, value: str) -> None:
    if not value or len(value) > _REFERENCE_LIMIT or not value.isprintable():
        raise ValueError(f"{name}: 1-{_REFERENCE_LIMIT} printable characters")
