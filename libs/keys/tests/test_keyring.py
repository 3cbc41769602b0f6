"""The key owner on a SQLite store and a KEK directory: keys made once, erased for good."""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from casedesk_keys import (
    FieldCipher,
    FieldContext,
    KekNotFound,
    KeyErased,
    KeyNotFound,
    Keyring,
    KeyUnavailable,
    LocalKeySource,
    SubjectId,
    WrappedKey,
    WrappedKeyDamaged,
)
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore
from casedesk_keys.kek_versions import KekReadOnly


def subject() -> SubjectId:
    return SubjectId(os.urandom(16))


def test_a_key_is_made_once_and_found_again(keyring: Keyring) -> None:
    s = subject()
    made = keyring.current_key(s)
    assert keyring.current_key(s) == made == keyring.key(s, 1)
    assert made.generation == 1


def test_no_key_is_made_when_not_asked_for(keyring: Keyring) -> None:
    s = subject()
    with pytest.raises(KeyNotFound, match="has no key"):
        keyring.current_key(s, create=False)
    with pytest.raises(KeyNotFound, match="generation 2"):
        keyring.key(keyring.current_key(s).subject, 2)


def test_replicas_making_one_subjects_key_at_once_end_with_one(
    tmp_path: Path, kek_dir: Path
) -> None:
    SecretFileKekProvider(kek_dir, create=True)
    rings = [
        Keyring(SqliteKeyStore(tmp_path / "shared.sqlite"), SecretFileKekProvider(kek_dir))
        for _ in range(6)
    ]
    s, start = subject(), threading.Barrier(len(rings))
    made: list[bytes] = []

    def make(ring: Keyring) -> None:
        start.wait()
        made.append(ring.current_key(s).secret())

    threads = [threading.Thread(target=make, args=(ring,)) for ring in rings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == len(rings) and len(set(made)) == 1
    assert rings[0].store.counts_by_kek() == {"casedesk-kek.v1": 1}


def test_keys_asked_for_together_are_made_in_one_commit_and_found_again(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    known, erased = subject(), subject()
    before = keyring.current_key(known)
    keyring.erase(erased, "operator:1", "request-7")
    new = [subject() for _ in range(5)]
    commits: list[int] = []
    add_many = keyring.store.add_many

    def counted(keys, created_at):  # type: ignore[no-untyped-def]
        commits.append(len(keys))
        return add_many(keys, created_at)

    monkeypatch.setattr(keyring.store, "add_many", counted)
    asked = [new[0], known, new[1], erased, *new[2:], new[0]]
    got = keyring.current_keys(asked)

    assert commits == [5]  # the five new subjects' keys, in one commit
    assert got[1] == before
    assert isinstance(got[3], KeyErased)
    assert got[0] == got[-1]
    for s, key in zip(asked, got, strict=True):
        if s is not erased:
            assert key == keyring.current_key(s) == keyring.key(s, 1)  # stored as handed out


def test_keys_made_together_by_replicas_at_once_end_as_one_each(
    tmp_path: Path, kek_dir: Path
) -> None:
    SecretFileKekProvider(kek_dir, create=True)
    rings = [
        Keyring(SqliteKeyStore(tmp_path / "shared.sqlite"), SecretFileKekProvider(kek_dir))
        for _ in range(4)
    ]
    subjects = [subject() for _ in range(20)]
    results: list[list[object]] = [[] for _ in rings]

    def make(index: int) -> None:
        results[index] = list(rings[index].current_keys(list(reversed(subjects))[index:]))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(len(rings))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, got in enumerate(results):
        for s, key in zip(list(reversed(subjects))[index:], got, strict=True):
            assert key == rings[0].current_key(s)


def test_erasure_destroys_the_key_and_says_when_and_by_whom(tmp_path: Path, kek_dir: Path) -> None:
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    ring = Keyring(
        SqliteKeyStore(tmp_path / "k.sqlite"),
        SecretFileKekProvider(kek_dir, create=True),
        clock=lambda: moment,
    )
    s, other = subject(), subject()
    ring.current_key(s)
    kept = ring.current_key(other)
    tombstone = ring.erase(s, "specialist:l3-7", "erasure-request-41")
    assert (tombstone.erased_at, tombstone.erased_by, tombstone.reason) == (
        moment,
        "specialist:l3-7",
        "erasure-request-41",
    )
    with pytest.raises(KeyErased, match="2026-03-02T09:30:00") as erased:
        ring.key(s, 1)
    assert erased.value.subject == s and erased.value.erased_at == moment
    with pytest.raises(KeyErased):  # and no new key for the subject
        ring.current_key(s)
    assert ring.store.latest(s).wrapped is None  # type: ignore[union-attr]
    assert ring.key(other, 1) == kept


def test_erasing_twice_keeps_the_first_tombstone(keyring: Keyring) -> None:
    s = subject()
    keyring.current_key(s)
    first = keyring.erase(s, "specialist:l3-7", "erasure-request-41")
    assert keyring.erase(s, "retention", "closed-case-rule") == first


def test_a_subject_erased_before_it_had_a_key_never_gets_one(keyring: Keyring) -> None:
    s = subject()
    keyring.erase(s, "specialist:l3-7", "erasure-request-41")
    with pytest.raises(KeyErased):
        keyring.current_key(s)
    assert keyring.store.counts_by_kek() == {}


def test_a_reopened_subject_gets_a_new_generation_and_the_old_stays_erased(
    keyring: Keyring,
) -> None:
    s = subject()
    keyring.current_key(s)
    keyring.erase(s, "specialist:l3-7", "erasure-request-41")
    fresh = keyring.reopen(s)
    assert fresh.generation == 2 and keyring.current_key(s) == fresh
    assert keyring.reopen(s) == fresh  # not erased: nothing to reopen
    with pytest.raises(KeyErased):
        keyring.key(s, 1)


@pytest.mark.parametrize("reference", ["", "x" * 201, "line\nbreak"])
def test_an_erasure_names_its_actor_and_reason_briefly(keyring: Keyring, reference: str) -> None:
    with pytest.raises(ValueError, match="printable"):
        keyring.erase(subject(), reference, "erasure-request-41")
    with pytest.raises(ValueError, match="printable"):
        keyring.erase(subject(), "specialist:l3-7", reference)


def test_the_store_files_keep_no_copy_of_an_erased_wrapped_key(
    tmp_path: Path, kek_dir: Path
) -> None:
    store = SqliteKeyStore(tmp_path / "k.sqlite")
    ring = Keyring(store, SecretFileKekProvider(kek_dir, create=True))
    s = subject()
    ring.current_key(s)
    wrapped = store.latest(s).wrapped.blob  # type: ignore[union-attr]
    assert any(wrapped in path.read_bytes() for path in tmp_path.glob("k.sqlite*"))
    ring.erase(s, "specialist:l3-7", "erasure-request-41")
    files = list(tmp_path.glob("k.sqlite*"))
    assert files and all(wrapped not in path.read_bytes() for path in files)


async def test_fields_of_an_erased_citizen_answer_erased_and_others_open(keyring: Keyring) -> None:
    cipher = FieldCipher(LocalKeySource(keyring))
    a, b = subject(), subject()
    context = FieldContext("case-1", "citizen.full_name")
    token_a = await cipher.encrypt(a, "Иванов Иван", context)
    token_b = await cipher.encrypt(b, "Петров Пётр", context)
    keyring.erase(a, "specialist:l3-7", "erasure-request-41")
    with pytest.raises(KeyErased) as erased:
        await cipher.decrypt(token_a, context)
    assert erased.value.subject == a
    with pytest.raises(KeyErased):
        await cipher.encrypt(a, "Иванов Иван", context)
    assert await cipher.decrypt(token_b, context) == "Петров Пётр"


def test_a_damaged_wrapped_key_is_reported_as_such(keyring: Keyring) -> None:
    s = subject()
    keyring.current_key(s)
    row = keyring.store.latest(s)
    assert row is not None and row.wrapped is not None
    damaged = WrappedKey(
        row.wrapped.kek_id, bytes([row.wrapped.blob[0] ^ 1]) + row.wrapped.blob[1:]
    )
    assert keyring.store.rewrap(s, 1, row.wrapped, damaged)
    with pytest.raises(WrappedKeyDamaged, match=re.escape("casedesk-kek.v1")):
        keyring.key(s, 1)


def test_a_key_under_a_kek_the_provider_lacks_is_unavailable(keyring: Keyring) -> None:
    with pytest.raises(KekNotFound, match=re.escape("casedesk-kek.v9")):
        keyring.kek.unwrap(WrappedKey("casedesk-kek.v9", os.urandom(40)))


def test_the_store_reopens_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite"
    SqliteKeyStore(path).close()
    SqliteKeyStore(path).close()  # the migration is not repeated
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM casedesk_keys_schema").fetchone() == (1,)
        db.execute("INSERT INTO casedesk_keys_schema (version) VALUES (99)")
    with pytest.raises(KeyUnavailable, match="schema 99"):
        SqliteKeyStore(path)


def test_a_kek_directory_without_a_key_is_refused_unless_asked_to_make_one(kek_dir: Path) -> None:
    with pytest.raises(KekNotFound, match=re.escape("casedesk-kek.v<N>")):
        SecretFileKekProvider(kek_dir)
    assert SecretFileKekProvider(kek_dir, create=True).current_kek_id() == "casedesk-kek.v1"
    assert oct((kek_dir / "casedesk-kek.v1").stat().st_mode & 0o777) == "0o600"


def test_kek_files_hold_raw_bytes_or_base64(kek_dir: Path) -> None:
    (kek_dir / "casedesk-kek.v1").write_bytes(os.urandom(32))
    (kek_dir / "casedesk-kek.v2").write_text("bm90IGEga2V5\n")
    (kek_dir / "..data").mkdir()  # what the kubelet adds to a mounted Secret: not a version
    provider = SecretFileKekProvider(kek_dir)
    assert provider.kek_ids() == ["casedesk-kek.v1", "casedesk-kek.v2"]
    with pytest.raises(KeyUnavailable, match="neither 32 bytes nor their base64"):
        provider.wrap(os.urandom(32))
    secret = os.urandom(32)
    wrapped = WrappedKey(
        "casedesk-kek.v1", aes_key_wrap((kek_dir / "casedesk-kek.v1").read_bytes(), secret)
    )
    assert provider.unwrap(wrapped) == secret


def test_a_read_only_kek_directory_asks_the_operator(
    kek_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Secret is mounted read-only (EROFS, which root cannot override with permissions, so
    the mount's answer is what this test stands in for)."""
    provider = SecretFileKekProvider(kek_dir, create=True)

    def read_only(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "open", read_only)
    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(KekReadOnly, match=re.escape("add a key casedesk-kek.v2 with 32")):
        provider.create_version()
    with pytest.raises(KekReadOnly, match="remove it from the Secret"):
        provider.retire("casedesk-kek.v1")
