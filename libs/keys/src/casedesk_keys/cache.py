"""A service's data keys, unwrapped, kept between uses: few calls to the key service, and an
erasure that reaches every replica within seconds.

- Each subject's keys are kept at most `ttl_s` seconds after they were fetched (however often
  used), and at most `max_entries` subjects (the least recently used go first). The TTL bounds
  how long a replica that missed an erasure notice keeps using an erased key.
- `invalidate(subject)`, on an erasure notice, forgets the subject at once; a fetch that was
  under way when the notice came is not kept either.
- An erased subject is remembered as erased (for the TTL): reads answer KeyErased without asking
  again, and no key is ever asked for or made for it: `current_key` raises KeyErased. Whether
  an erased citizen may start afresh is the key owner's decision (Keyring.reopen), never a
  side effect of a write; `doubt_erasure`, before a new case, asks the owner again.
- KeyUnavailable is never cached and never answered from an expired key: a replica that cannot
  reach the key service fails the request (it may be retried) rather than use a key that may
  have been erased meanwhile.

One event loop per cache; concurrent requests for one key share one fetch. `held_*` only read
what is held, from any thread (each read of the entries is one dict lookup under the GIL).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from casedesk_keys.data_keys import DataKey, Tombstone
from casedesk_keys.errors import KeyErased
from casedesk_keys.ports import KeySource
from casedesk_keys.subjects import SubjectId

DEFAULT_TTL_S = 10.0
DEFAULT_MAX_ENTRIES = 10_000
_CURRENT = 0  # the slot of "the current generation", which is not known before the fetch


@dataclass
class _Entry:
    expires_at: float
    current: DataKey | None = None
    generations: dict[int, DataKey] = field(default_factory=dict)
    current_erased: Tombstone | None = None  # the newest generation is erased: no writes
    erased: Tombstone | None = None  # this generation and older ones are erased: no reads

    def forget_erased(self, tombstone: Tombstone) -> None:
        if self.erased is None or tombstone.generation > self.erased.generation:
            self.erased = tombstone
        self.generations = {g: k for g, k in self.generations.items() if g > tombstone.generation}
        if self.current is not None and self.current.generation <= tombstone.generation:
            self.current, self.current_erased = None, tombstone


@dataclass
class _Fetch:
    task: asyncio.Task[DataKey] | None = None
    stale: bool = False  # the subject was invalidated while this fetch ran


class KeyCache:
    """A KeySource in front of another (the key service's client)."""

    def __init__(
        self,
        source: KeySource,
        ttl_s: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0 or max_entries < 1:
            raise ValueError("a key cache needs a positive TTL and room for one subject")
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._source = source
        self._clock = clock
        self._entries: OrderedDict[SubjectId, _Entry] = OrderedDict()  # least recently used first
        self._fetches: dict[tuple[SubjectId, int], _Fetch] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def current_key(self, subject: SubjectId) -> DataKey:
        entry = self._entry(subject)
        if entry is not None:
            if entry.current_erased is not None:
                raise KeyErased(entry.current_erased)
            if entry.current is not None:
                return entry.current
        return await self._fetch(subject, _CURRENT, lambda: self._source.current_key(subject))

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        entry = self._entry(subject)
        if entry is not None:
            if entry.erased is not None and generation <= entry.erased.generation:
                raise KeyErased(entry.erased)
            if entry.current is not None and entry.current.generation == generation:
                return entry.current
            if generation in entry.generations:
                return entry.generations[generation]
        return await self._fetch(subject, generation, lambda: self._source.key(subject, generation))

    def held_current_key(self, subject: SubjectId) -> DataKey | None:
        """`current_key` as this cache holds it now, or None (not held, or expired): no fetch,
        no wait, no change to the cache, so a thread other than the cache's loop may ask (a
        command thread sealing: a hop to the loop for a key already here cost more than the
        sealing). KeyErased as `current_key` would raise it."""
        entry = self._entries.get(subject)
        if entry is None or entry.expires_at <= self._clock():
            return None
        if entry.current_erased is not None:
            raise KeyErased(entry.current_erased)
        return entry.current

    def held_key(self, subject: SubjectId, generation: int) -> DataKey | None:
        """`key` as this cache holds it now, or None; like `held_current_key`, from any
        thread."""
        entry = self._entries.get(subject)
        if entry is None or entry.expires_at <= self._clock():
            return None
        if entry.erased is not None and generation <= entry.erased.generation:
            raise KeyErased(entry.erased)
        current = entry.current
        if current is not None and current.generation == generation:
            return current
        return entry.generations.get(generation)

    def doubt_erasure(self, subject: SubjectId) -> None:
        """Before a new case of the subject: forget that his newest key was erased, so that the
        next `current_key` asks the key owner again, who may have given him a new generation
        since (Keyring.reopen: a citizen erased before writes to support again). What reads
        know of his erased generations stays."""
        entry = self._entries.get(subject)
        if entry is not None:
            entry.current_erased = None

    def invalidate(self, subject: SubjectId) -> None:
        """Forget the subject now (an erasure notice); its next use asks the key service."""
        self._entries.pop(subject, None)
        for slot in [slot for slot in self._fetches if slot[0] == subject]:
            self._fetches.pop(slot).stale = True

    def _entry(self, subject: SubjectId) -> _Entry | None:
        entry = self._entries.get(subject)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[subject]
            return None
        self._entries.move_to_end(subject)
        return entry

    async def _fetch(
        self, subject: SubjectId, slot: int, fetch: Callable[[], Awaitable[DataKey]]
    ) -> DataKey:
        running = self._fetches.get((subject, slot))
        if running is None or running.task is None:
            running = _Fetch()
            running.task = asyncio.ensure_future(self._run(subject, slot, running, fetch))
            running.task.add_done_callback(_retrieve)
            self._fetches[(subject, slot)] = running
        # One caller's cancellation must not cancel the fetch the others wait for.
        return await asyncio.shield(running.task)

    async def _run(
        self,
        subject: SubjectId,
        slot: int,
        running: _Fetch,
        fetch: Callable[[], Awaitable[DataKey]],
    ) -> DataKey:
        try:
            key = await fetch()
        except KeyErased as erased:
            if not running.stale:
                self._remember(subject, slot, None, erased.tombstone)
            raise
        finally:
            if self._fetches.get((subject, slot)) is running:
                del self._fetches[(subject, slot)]
        if not running.stale:
            self._remember(subject, slot, key, None)
        return key

    def _remember(
        self, subject: SubjectId, slot: int, key: DataKey | None, tombstone: Tombstone | None
    ) -> None:
        entry = self._entry(subject)
        if entry is None:
            entry = self._entries[subject] = _Entry(self._clock() + self.ttl_s)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        if tombstone is not None:
            entry.forget_erased(tombstone)
            if slot == _CURRENT:
                entry.current_erased = tombstone
        elif key is not None and slot == _CURRENT:
            entry.current = key
        elif key is not None:
            entry.generations[key.generation] = key


def _retrieve(task: asyncio.Task[DataKey]) -> None:
    """Mark the fetch's error as seen: every waiter may have been cancelled before it came."""
    if not task.cancelled():
        task.exception()
