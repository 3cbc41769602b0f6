"""The citizens' key store (casedesk_keys) on real PostgreSQL: race-safe creation and erasure,
rotation's compare-and-set, the schema migration (SQLite: libs/keys/tests)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from support.postgres_schemas import fresh_schemas, in_schema

from casedesk_keys import (
    FieldCipher,
    FieldContext,
    KeyErased,
    Keyring,
    KeyUnavailable,
    LocalKeySource,
    SubjectId,
    WrappedKey,
    rewrap_all,
    start_rotation,
)
from casedesk_keys.adapters.postgres_store import PostgresKeyStore
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def schema_url(postgres_dsn: str) -> Iterator[str]:
    with fresh_schemas(postgres_dsn, "keys_store") as (schema,):
        yield in_schema(postgres_dsn, schema)


@pytest.fixture
def open_store(schema_url: str) -> Iterator[Callable[[], PostgresKeyStore]]:
    opened: list[PostgresKeyStore] = []

    def open_one() -> PostgresKeyStore:
        opened.append(PostgresKeyStore.open(schema_url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def kek(tmp_path: Path) -> SecretFileKekProvider:
    return SecretFileKekProvider(tmp_path, create=True)


def subject() -> SubjectId:
    return SubjectId(os.urandom(16))


def _together(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in `count` threads released at the same instant."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        start.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_replicas_migrating_and_making_one_key_at_once_end_with_one(
    open_store: Callable[[], PostgresKeyStore], kek: SecretFileKekProvider
) -> None:
    stores = _together(4, lambda _: open_store())  # four replicas starting together
    rings = [Keyring(store, kek) for store in stores]  # type: ignore[arg-type]
    s = subject()
    secrets = _together(4, lambda i: rings[i].current_key(s).secret())
    assert len(set(secrets)) == 1
    assert rings[0].store.counts_by_kek() == {"casedesk-kek.v1": 1}


def test_replicas_making_overlapping_batches_of_keys_at_once_end_with_one_each(
    open_store: Callable[[], PostgresKeyStore], kek: SecretFileKekProvider
) -> None:
    """Keyring.current_keys stores a batch's new keys in one transaction: replicas making
    overlapping batches at once (in different orders) neither deadlock nor end with two keys,
    and an erased subject in a batch answers erased without failing the others."""
    rings = [Keyring(open_store(), kek, clock=lambda: NOW) for _ in range(4)]
    subjects = [subject() for _ in range(40)]
    erased = subjects[7]
    rings[0].erase(erased, "specialist:l3-7", "erasure-request-42")
    batches = [subjects[i * 5 :] + subjects[: i * 5] for i in range(4)]  # rotated orders
    got = _together(4, lambda i: rings[i].current_keys(batches[i]))
    for batch, keys in zip(batches, got, strict=True):
        for s, key in zip(batch, keys, strict=True):  # type: ignore[call-overload]
            if s == erased:
                assert isinstance(key, KeyErased)
            else:
                assert key == rings[0].current_key(s)
    assert rings[0].store.counts_by_kek() == {"casedesk-kek.v1": 39}


def test_an_erasure_racing_key_creation_leaves_no_key(
    open_store: Callable[[], PostgresKeyStore], kek: SecretFileKekProvider
) -> None:
    rings = [Keyring(open_store(), kek, clock=lambda: NOW) for _ in range(4)]
    for _ in range(5):
        s = subject()

        def race(i: int, s: SubjectId = s) -> object:
            if i == 0:
                return rings[0].erase(s, "specialist:l3-7", "erasure-request-41")
            try:
                return rings[i].current_key(s)
            except KeyErased as erased:
                return erased

        _together(4, race)
        latest = rings[0].store.latest(s)
        assert latest is not None and latest.wrapped is None
        with pytest.raises(KeyErased):
            rings[1].current_key(s)
    assert rings[0].store.counts_by_kek() == {}


def test_erasure_keeps_a_tombstone_once_and_other_citizens_readable(
    open_store: Callable[[], PostgresKeyStore], kek: SecretFileKekProvider
) -> None:
    ring = Keyring(open_store(), kek, clock=lambda: NOW)
    a, b, never = subject(), subject(), subject()
    ring.current_key(a)
    kept = ring.current_key(b)
    first = ring.erase(a, "specialist:l3-7", "erasure-request-41")
    assert ring.erase(a, "retention", "closed-case-rule") == first
    assert (first.erased_at, first.erased_by, first.generation) == (NOW, "specialist:l3-7", 1)
    assert ring.erase(never, "retention", "closed-case-rule").generation == 1
    with pytest.raises(KeyErased):
        ring.current_key(never)
    assert ring.key(b, 1) == kept
    assert ring.reopen(a).generation == 2


async def test_rotation_on_postgres_rewraps_and_never_revives_an_erased_key(
    open_store: Callable[[], PostgresKeyStore], kek: SecretFileKekProvider
) -> None:
    store = open_store()
    ring = Keyring(store, kek)
    cipher = FieldCipher(LocalKeySource(ring))
    context = FieldContext("case-1", "citizen.phone")
    tokens = {}
    for n in range(7):
        s = subject()
        tokens[s] = await cipher.encrypt(s, f"+7912345670{n}", context)
    erased = next(iter(tokens))
    stale = store.latest(erased).wrapped  # type: ignore[union-attr]
    ring.erase(erased, "specialist:l3-7", "erasure-request-41")
    new = start_rotation(kek)
    report = rewrap_all(store, kek, batch=3)
    assert (report.rewrapped, report.remaining) == (6, 0)
    assert store.counts_by_kek() == {new: 6}
    assert stale is not None
    assert not store.rewrap(erased, 1, stale, WrappedKey(new, os.urandom(40)))
    for s, token in tokens.items():
        if s == erased:
            with pytest.raises(KeyErased):
                await cipher.decrypt(token, context)
        else:
            assert (await cipher.decrypt(token, context)).startswith("+7912345670")


def test_a_store_newer_than_this_build_is_refused(
    open_store: Callable[[], PostgresKeyStore], schema_url: str
) -> None:
    open_store()
    with psycopg.connect(schema_url, autocommit=True) as connection:
        connection.execute("INSERT INTO casedesk_keys_schema (version) VALUES (99)")
    with pytest.raises(KeyUnavailable, match="schema 99"):
        open_store()
