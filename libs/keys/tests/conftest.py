"""Fixtures: a keyring on real adapters (a SQLite file, a KEK directory, a SoftHSM2 token).

The SoftHSM2 token is the process's (casedesk_keys.testing: SoftHSM2 reads its configuration
once per process, so every suite in it shares one token directory); tests keep apart by KEK
labels of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from casedesk_keys import IndexKey, Keyring
from casedesk_keys.adapters.pkcs11_kek import Pkcs11Config
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore
from casedesk_keys.testing import SoftHsmMissing, process_token


@pytest.fixture
def index_key() -> IndexKey:
    return IndexKey(os.urandom(32))


@pytest.fixture
def kek_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "kek"
    directory.mkdir()
    return directory


@pytest.fixture
def keyring(tmp_path: Path, kek_dir: Path) -> Iterator[Keyring]:
    store = SqliteKeyStore(tmp_path / "keys.sqlite")
    ring = Keyring(store, SecretFileKekProvider(kek_dir, create=True))
    yield ring
    store.close()


@pytest.fixture(scope="session")
def softhsm_token() -> Pkcs11Config:
    """The process's SoftHSM2 token (casedesk_keys.testing); the KEK label is each test's."""
    try:
        token = process_token()
    except SoftHsmMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    return Pkcs11Config(token.module, token.label, token.pin, kek_label="unset", create=False)


@pytest.fixture
def hsm_config(softhsm_token: Pkcs11Config) -> Pkcs11Config:
    """The session's token with a KEK label no other test uses, first version made on use."""
    return Pkcs11Config(
        softhsm_token.module,
        softhsm_token.token_label,
        softhsm_token.pin,
        kek_label=f"kek-{uuid.uuid4().hex[:12]}",
        create=True,
    )
