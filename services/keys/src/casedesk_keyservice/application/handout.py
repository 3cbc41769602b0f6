"""Keys for the services allowed to have them (grpc_api/access.py says which).

Get-or-create is the keyring's: the key store's primary key makes two replicas creating a
subject's first key at once end with one key, and a tombstone makes sure no key is ever made
for an erased subject (KeyErased instead).
"""

from __future__ import annotations

import asyncio

from casedesk_keys import DataKey, Keyring, SubjectId


class KeyHandout:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def current_key(self, subject: SubjectId) -> DataKey:
        return await asyncio.to_thread(self._keyring.current_key, subject)

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        return await asyncio.to_thread(self._keyring.key, subject, generation)

    async def reopen(self, subject: SubjectId) -> DataKey:
        return await asyncio.to_thread(self._keyring.reopen, subject)
