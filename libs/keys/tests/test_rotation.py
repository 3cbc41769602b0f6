"""KEK rotation on both providers: every data key re-wrapped, no token touched, nothing erased
brought back, and the old KEK destroyed only when nothing depends on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from casedesk_keys import (
    FieldCipher,
    FieldContext,
    KekProvider,
    KeyCache,
    KeyErased,
    Keyring,
    LocalKeySource,
    RetireRefused,
    SubjectId,
    WrappedKey,
    retire,
    rewrap_all,
    start_rotation,
)
from casedesk_keys.adapters.pkcs11_kek import Pkcs11Config, Pkcs11KekProvider
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore

CONTEXT = FieldContext("case-9", "citizen.email")


@pytest.fixture(params=["secret-file", "pkcs11"])
def ring(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Keyring]:
    kek: KekProvider
    if request.param == "pkcs11":
        kek = Pkcs11KekProvider(request.getfixturevalue("hsm_config"))
    else:
        (tmp_path / "kek").mkdir()
        kek = SecretFileKekProvider(tmp_path / "kek", create=True)
    store = SqliteKeyStore(tmp_path / "keys.sqlite")
    yield Keyring(store, kek)
    store.close()
    kek.close()


async def _seal_for(ring: Keyring, count: int) -> dict[SubjectId, str]:
    cipher = FieldCipher(LocalKeySource(ring))
    tokens = {}
    for n in range(count):
        s = SubjectId(os.urandom(16))
        tokens[s] = await cipher.encrypt(s, f"citizen{n}@example.ru", CONTEXT)
    return tokens


async def test_rotation_rewraps_every_key_and_old_tokens_still_open(ring: Keyring) -> None:
    tokens = await _seal_for(ring, 12)
    old = ring.kek.current_kek_id()
    new = start_rotation(ring.kek)
    assert new != old and ring.kek.current_kek_id() == new
    tokens.update(await _seal_for(ring, 1))  # made meanwhile: under the new KEK at once
    assert ring.store.counts_by_kek() == {old: 12, new: 1}

    report = rewrap_all(ring.store, ring.kek, batch=5)
    assert (report.kek_id, report.rewrapped, report.skipped, report.remaining) == (new, 12, 0, 0)
    retire(ring.store, ring.kek, old)
    assert ring.kek.kek_ids() == [new]

    fresh = FieldCipher(KeyCache(LocalKeySource(ring)))  # nothing cached from before
    for n, (subject, token) in enumerate(tokens.items()):
        assert await fresh.decrypt(token, CONTEXT) == f"citizen{n % 12}@example.ru"
        assert ring.store.latest(subject).wrapped.kek_id == new  # type: ignore[union-attr]


async def test_an_interrupted_rotation_resumes_and_a_rerun_does_nothing(ring: Keyring) -> None:
    tokens = await _seal_for(ring, 9)
    new = start_rotation(ring.kek)

    def interrupt(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rewrap_all(ring.store, ring.kek, batch=4, progress=interrupt)
    assert ring.store.counts_by_kek()[new] == 4
    assert rewrap_all(ring.store, ring.kek, batch=4).rewrapped == 5
    assert rewrap_all(ring.store, ring.kek, batch=4).rewrapped == 0
    cipher = FieldCipher(LocalKeySource(ring))
    opened = [await cipher.decrypt(t, CONTEXT) for t in tokens.values()]
    assert opened == [f"citizen{n}@example.ru" for n in range(9)]


async def test_a_key_erased_during_the_rotation_stays_erased(ring: Keyring) -> None:
    tokens = await _seal_for(ring, 3)
    victim = next(iter(tokens))
    start_rotation(ring.kek)
    store = ring.store

    class ErasedMeanwhile:
        """The store, with an erasure arriving between the rotation's read and its write."""

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        def rewrap(self, subject: SubjectId, generation: int, old: WrappedKey, new: WrappedKey):  # type: ignore[no-untyped-def]
            if subject == victim:
                ring.erase(victim, "specialist:l3-7", "erasure-request-41")
            return store.rewrap(subject, generation, old, new)

    report = rewrap_all(ErasedMeanwhile(), ring.kek)  # type: ignore[arg-type]
    assert (report.rewrapped, report.skipped) == (2, 1)
    with pytest.raises(KeyErased):
        await FieldCipher(LocalKeySource(ring)).decrypt(tokens[victim], CONTEXT)
    assert store.latest(victim).wrapped is None  # type: ignore[union-attr]


async def test_a_kek_is_not_retired_while_current_or_still_wrapping_keys(ring: Keyring) -> None:
    await _seal_for(ring, 2)
    old = ring.kek.current_kek_id()
    with pytest.raises(RetireRefused, match="current"):
        retire(ring.store, ring.kek, old)
    start_rotation(ring.kek)
    with pytest.raises(RetireRefused, match="2 data keys are still wrapped"):
        retire(ring.store, ring.kek, old)
    assert old in ring.kek.kek_ids()


def test_a_rotation_batch_holds_a_key(ring: Keyring) -> None:
    with pytest.raises(ValueError, match="at least one"):
        rewrap_all(ring.store, ring.kek, batch=0)


def test_pkcs11_config_hides_the_pin(hsm_config: Pkcs11Config) -> None:
    assert hsm_config.pin not in repr(hsm_config)
