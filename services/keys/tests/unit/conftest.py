"""Real adapters without a network: a keyring on a SQLite file and a KEK directory (the Secret
provider), the erasure journal in the same file, an index key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from casedesk_keys import IndexKey, Keyring, Subjects
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore
from casedesk_keyservice.adapters.sqlite_journal import SqliteErasureJournal


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "keys.sqlite"


@pytest.fixture
def keyring(tmp_path: Path, store_path: Path) -> Iterator[Keyring]:
    (tmp_path / "kek").mkdir()
    store = SqliteKeyStore(store_path)
    ring = Keyring(store, SecretFileKekProvider(tmp_path / "kek", create=True))
    yield ring
    store.close()


@pytest.fixture
def journal(store_path: Path, keyring: Keyring) -> Iterator[SqliteErasureJournal]:
    opened = SqliteErasureJournal(store_path)
    yield opened
    opened.close()


@pytest.fixture
def subjects() -> Subjects:
    return Subjects(IndexKey(os.urandom(32)))
