"""Keys for the services allowed to have them (grpc_api/access.py says which).

Get-or-create is the keyring's: the key store's primary key makes two replicas creating a
subject's first key at once end with one key, and a tombstone makes sure no key is ever made
for an erased subject (KeyErased instead).

Current keys asked for while an earlier request is in the key store wait and are got together
(`Keyring.current_keys`): the keys made for a burst of new citizens — a case service creating a
batch of cases, one citizen each — are stored in one commit. Each made key costs a commit with
fsync in the store, so one at a time the store, not the KEK or the CPU, set the pace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from casedesk_keys import DataKey, Keyring, KeysError, SubjectId
from casedesk_runtime.batching import Coalescer

MAX_KEYS_PER_COMMIT = 256


class KeyHandout:
    def __init__(self, keyring: Keyring, max_batch: int = MAX_KEYS_PER_COMMIT) -> None:
        self._keyring = keyring
        self._current: Coalescer[SubjectId, DataKey] = Coalescer(
            self._current_together, max_batch=max_batch
        )

    async def current_key(self, subject: SubjectId) -> DataKey:
        return await self._current(subject)

    async def current_keys(self, subjects: Sequence[SubjectId]) -> list[DataKey | KeysError]:
        """`current_key` of each subject, in order: its key or its refusal (a KeysError). They
        join whatever other requests are waiting, as single ones do."""
        got = await asyncio.gather(*(self._current(s) for s in subjects), return_exceptions=True)
        for outcome in got:
            if isinstance(outcome, BaseException) and not isinstance(outcome, KeysError):
                raise outcome  # not a refusal: the call fails as a single one would
        return got  # type: ignore[return-value]

    async def _current_together(
        self, subjects: Sequence[SubjectId]
    ) -> Sequence[DataKey | BaseException]:
        return await asyncio.to_thread(self._keyring.current_keys, list(subjects))

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        return await asyncio.to_thread(self._keyring.key, subject, generation)

    async def reopen(self, subject: SubjectId) -> DataKey:
        return await asyncio.to_thread(self._keyring.reopen, subject)
