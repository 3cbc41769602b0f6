"""A service's key cache: TTL, size, invalidation, and never a key for an erased subject."""

from __future__ import annotations

import asyncio
import os

import pytest

from casedesk_keys import (
    DataKey,
    KeyCache,
    KeyErased,
    Keyring,
    KeyUnavailable,
    LocalKeySource,
    SubjectId,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingSource:
    """The keyring as a service sees it, with every call recorded; `gate` holds answers back
    (as a slow network would), `failure` makes calls fail."""

    def __init__(self, keyring: Keyring) -> None:
        self.inner = LocalKeySource(keyring)
        self.calls: list[tuple[str, SubjectId]] = []
        self.gate: asyncio.Event | None = None
        self.failure: Exception | None = None
        self.answered = asyncio.Event()  # the key service has answered (held back by `gate`)

    async def current_key(self, subject: SubjectId) -> DataKey:
        self._enter("current", subject)
        return await self._answer(await self.inner.current_key(subject))

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        self._enter(f"key/{generation}", subject)
        return await self._answer(await self.inner.key(subject, generation))

    def _enter(self, what: str, subject: SubjectId) -> None:
        self.calls.append((what, subject))
        if self.failure is not None:
            raise self.failure

    async def _answer(self, key: DataKey) -> DataKey:
        self.answered.set()
        if self.gate is not None:
            await self.gate.wait()
        return key


def subject() -> SubjectId:
    return SubjectId(os.urandom(16))


@pytest.fixture
def source(keyring: Keyring) -> RecordingSource:
    return RecordingSource(keyring)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(source: RecordingSource, clock: Clock) -> KeyCache:
    return KeyCache(source, ttl_s=30, max_entries=3, clock=clock)


async def test_a_key_is_fetched_once_within_its_ttl(
    cache: KeyCache, source: RecordingSource, clock: Clock
) -> None:
    s = subject()
    first = await cache.current_key(s)
    clock.now += 29
    assert await cache.current_key(s) is first
    assert await cache.key(s, 1) is first
    assert source.calls == [("current", s)]


async def test_the_ttl_runs_from_the_fetch_not_the_last_use(
    cache: KeyCache, source: RecordingSource, clock: Clock
) -> None:
    s = subject()
    await cache.current_key(s)
    for _ in range(3):
        clock.now += 10
        await cache.current_key(s)
    assert source.calls == [("current", s), ("current", s)]  # refetched at 30 s


async def test_the_least_recently_used_subject_goes_first(
    cache: KeyCache, source: RecordingSource
) -> None:
    a, b, c, d = subject(), subject(), subject(), subject()
    for s in (a, b, c):
        await cache.current_key(s)
    await cache.current_key(a)  # a used again: b is now the oldest
    await cache.current_key(d)
    assert len(cache) == 3
    source.calls.clear()
    await cache.current_key(a)
    await cache.current_key(b)
    assert source.calls == [("current", b)]


async def test_an_erasure_reaches_a_replica_within_the_ttl_without_a_notice(
    cache: KeyCache, keyring: Keyring, clock: Clock
) -> None:
    s = subject()
    await cache.current_key(s)
    keyring.erase(s, "specialist:l3-7", "erasure-request-41")
    clock.now += 30
    with pytest.raises(KeyErased):
        await cache.key(s, 1)


async def test_invalidation_forgets_at_once(
    cache: KeyCache, keyring: Keyring, source: RecordingSource
) -> None:
    s, other = subject(), subject()
    await cache.current_key(s)
    other_key = await cache.current_key(other)
    keyring.erase(s, "specialist:l3-7", "erasure-request-41")
    cache.invalidate(s)
    with pytest.raises(KeyErased) as erased:
        await cache.key(s, 1)
    assert erased.value.subject == s
    assert await cache.key(other, 1) is other_key
    assert source.calls[-1] == ("key/1", s)


async def test_an_erased_subject_is_remembered_and_never_gets_a_key(
    cache: KeyCache, keyring: Keyring, source: RecordingSource
) -> None:
    s = subject()
    keyring.erase(s, "retention", "closed-case-rule-2026.1")  # erased before any key was made
    for _ in range(3):
        with pytest.raises(KeyErased):
            await cache.current_key(s)
        with pytest.raises(KeyErased):
            await cache.key(s, 1)
    assert source.calls == [("current", s)]
    assert keyring.store.latest(s).wrapped is None  # type: ignore[union-attr]


async def test_a_new_case_asks_again_for_a_subject_held_erased_and_finds_him_reopened(
    cache: KeyCache, keyring: Keyring, source: RecordingSource
) -> None:
    s = subject()
    old = await cache.current_key(s)
    keyring.erase(s, "privacy.officer", "ПД-2026-24")
    cache.invalidate(s)  # the erasure notice
    with pytest.raises(KeyErased):
        await cache.current_key(s)  # now held erased: no more calls for its TTL
    fresh = keyring.reopen(s)  # the key owner lets him write again

    cache.doubt_erasure(s)

    assert await cache.current_key(s) == fresh and fresh.generation == old.generation + 1
    with pytest.raises(KeyErased):
        await cache.key(s, old.generation)  # what reads knew of the erasure stays
    assert [what for what, _ in source.calls] == ["current", "current", "current"]


async def test_a_fetch_under_way_at_an_invalidation_is_not_kept(
    cache: KeyCache, keyring: Keyring, source: RecordingSource
) -> None:
    s = subject()
    await LocalKeySource(keyring).current_key(s)  # the key exists
    source.gate = asyncio.Event()
    in_flight = asyncio.create_task(cache.current_key(s))
    await source.answered.wait()  # the key service has answered; the answer is on its way
    keyring.erase(s, "specialist:l3-7", "erasure-request-41")
    cache.invalidate(s)
    source.gate.set()
    await in_flight  # fetched before the notice: that caller's request began before it
    with pytest.raises(KeyErased):
        await cache.current_key(s)
    assert len(source.calls) == 2


async def test_concurrent_requests_share_one_fetch(
    cache: KeyCache, source: RecordingSource
) -> None:
    s = subject()
    source.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.current_key(s)) for _ in range(10)]
    await source.answered.wait()
    waiting[0].cancel()  # one caller giving up does not cancel the fetch for the others
    source.gate.set()
    keys = await asyncio.gather(*waiting[1:])
    assert len({id(key) for key in keys}) == 1
    assert source.calls == [("current", s)]


async def test_an_unreachable_key_service_is_not_remembered(
    cache: KeyCache, source: RecordingSource
) -> None:
    s = subject()
    source.failure = KeyUnavailable("key service unreachable")
    with pytest.raises(KeyUnavailable):
        await cache.current_key(s)
    source.failure = None
    assert (await cache.current_key(s)).subject == s
    assert len(source.calls) == 2


async def test_an_expired_key_is_not_used_while_the_key_service_is_unreachable(
    cache: KeyCache, source: RecordingSource, clock: Clock
) -> None:
    s = subject()
    await cache.current_key(s)
    clock.now += 31
    source.failure = KeyUnavailable("key service unreachable")
    with pytest.raises(KeyUnavailable):
        await cache.key(s, 1)


async def test_after_a_reopen_old_tokens_stay_erased_and_new_ones_use_the_new_generation(
    cache: KeyCache, keyring: Keyring, clock: Clock
) -> None:
    s = subject()
    await cache.current_key(s)
    keyring.erase(s, "specialist:l3-7", "erasure-request-41")
    cache.invalidate(s)
    with pytest.raises(KeyErased):
        await cache.current_key(s)
    keyring.reopen(s)
    with pytest.raises(KeyErased):  # still remembered as erased until its TTL
        await cache.current_key(s)
    clock.now += 30
    assert (await cache.current_key(s)).generation == 2
    assert (await cache.key(s, 2)).generation == 2
    with pytest.raises(KeyErased):
        await cache.key(s, 1)


def test_a_cache_needs_a_positive_ttl_and_room(source: RecordingSource) -> None:
    with pytest.raises(ValueError, match="positive TTL"):
        KeyCache(source, ttl_s=0)
    with pytest.raises(ValueError, match="room"):
        KeyCache(source, max_entries=0)


async def test_a_held_key_is_had_from_another_thread_without_a_fetch(
    cache: KeyCache, source: RecordingSource, clock: Clock, keyring: Keyring
) -> None:
    s, other = subject(), subject()
    assert cache.held_current_key(s) is None  # not held: the caller fetches on the loop
    key = await cache.current_key(s)
    held = await asyncio.to_thread(lambda: (cache.held_current_key(s), cache.held_key(s, 1)))
    assert held == (key, key)
    assert cache.held_key(s, 2) is None and cache.held_current_key(other) is None
    assert source.calls == [("current", s)]  # the held reads asked nothing
    clock.now += 30
    assert cache.held_current_key(s) is None and cache.held_key(s, 1) is None  # expired


async def test_a_held_erasure_answers_erased_and_an_invalidated_key_is_not_held(
    cache: KeyCache, keyring: Keyring
) -> None:
    erased, kept = subject(), subject()
    await cache.current_key(erased)
    await cache.current_key(kept)
    keyring.erase(erased, "operator:1", "request-9")
    cache.invalidate(erased)
    assert cache.held_current_key(erased) is None  # forgotten: the next use asks again
    with pytest.raises(KeyErased):
        await cache.key(erased, 1)
    with pytest.raises(KeyErased):
        cache.held_key(erased, 1)
    cache.invalidate(kept)
    assert cache.held_key(kept, 1) is None
