"""The keyring as a KeySource, for the process that owns the keys (and for tests): each call
runs in a worker thread, since the HSM and the key store block."""

from __future__ import annotations

import asyncio

from casedesk_keys.data_keys import DataKey
from casedesk_keys.keyring import Keyring
from casedesk_keys.subjects import SubjectId


class LocalKeySource:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    async def current_key(self, subject: SubjectId) -> DataKey:
        return await asyncio.to_thread(self.keyring.current_key, subject)

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        return await asyncio.to_thread(self.keyring.key, subject, generation)
