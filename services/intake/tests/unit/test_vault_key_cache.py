"""The vault's cache of unwrapped data keys: bounded by count and by age, emptied by erasure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from casedesk_intake.adapters.keys import CitizenReferences, DataKeyCache
from casedesk_intake.adapters.vault import AttachmentVault
from casedesk_intake.domain.citizens import citizen_identity
from casedesk_intake.domain.errors import AttachmentErased
from casedesk_runtime.testing.clocks import ManualClock

MASTER = os.urandom(32)
CONTENT = b"%PDF-1.7 a citizen's scan"


def ref(login: str) -> str:
    return CitizenReferences(MASTER).of(citizen_identity(login=login))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def vault(tmp_path: Path, clock: ManualClock) -> AttachmentVault:
    cache = DataKeyCache(max_keys=3, ttl_s=60, clock=clock)
    return AttachmentVault(tmp_path / "attachments", MASTER, key_cache=cache)


async def test_the_cache_keeps_at_most_max_keys_dropping_the_least_recently_used(
    vault: AttachmentVault,
) -> None:
    citizens = [ref(f"citizen-{n}") for n in range(5)]
    for n, citizen in enumerate(citizens[:3]):
        await vault.store(citizen, f"att-{n}", CONTENT)
    await vault.read(citizens[0], "att-0")  # the first is used again: the second is now oldest
    for n, citizen in enumerate(citizens[3:], start=3):
        await vault.store(citizen, f"att-{n}", CONTENT)

    cache = vault.key_cache
    assert len(cache) == 3
    assert [c in cache for c in citizens] == [True, False, False, True, True]
    # A key dropped from the cache is unwrapped again from its file.
    assert await vault.read(citizens[1], "att-1") == CONTENT
    assert citizens[1] in cache and len(cache) == 3


async def test_a_key_is_held_at_most_ttl_seconds_after_it_was_unwrapped(
    vault: AttachmentVault, clock: ManualClock
) -> None:
    old, new = ref("ivanov"), ref("petrov")
    await vault.store(old, "att-1", CONTENT)
    clock.now += 30
    await vault.store(new, "att-2", CONTENT)
    clock.now += 29
    await vault.read(old, "att-1")  # used, but not unwrapped again: its age still counts
    clock.now += 1

    assert vault.key_cache.get(old) is None  # 60 s after unwrapping: gone, though used lately
    assert new in vault.key_cache
    assert await vault.read(old, "att-1") == CONTENT  # unwrapped again, for another 60 s
    clock.now += 59
    assert old in vault.key_cache and vault.key_cache.get(new) is None


async def test_an_erased_citizens_key_leaves_the_cache_at_once(vault: AttachmentVault) -> None:
    erased, kept = ref("ivanov"), ref("petrov")
    await vault.store(erased, "att-1", CONTENT)
    await vault.store(kept, "att-2", CONTENT)

    await vault.erase_citizen(erased)

    assert erased not in vault.key_cache and kept in vault.key_cache
    with pytest.raises(AttachmentErased):
        await vault.read(erased, "att-1")
    assert erased not in vault.key_cache  # a failed read does not bring it back


async def test_a_key_erased_by_another_process_is_dropped_from_the_cache_at_its_next_use(
    vault: AttachmentVault, tmp_path: Path
) -> None:
    citizen = ref("ivanov")
    await vault.store(citizen, "att-1", CONTENT)
    await AttachmentVault(tmp_path / "attachments", MASTER).erase_citizen(citizen)

    with pytest.raises(AttachmentErased):
        await vault.read(citizen, "att-1")
    assert citizen not in vault.key_cache


def test_a_cache_without_room_or_lifetime_is_refused() -> None:
    with pytest.raises(ValueError, match="positive lifetime"):
        DataKeyCache(max_keys=0)
    with pytest.raises(ValueError, match="positive lifetime"):
        DataKeyCache(ttl_s=0)
