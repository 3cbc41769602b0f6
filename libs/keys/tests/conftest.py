"""Fixtures: a keyring on real adapters (a SQLite file, a KEK directory, a SoftHSM2 token).

The SoftHSM2 token is made once per test session in a temporary directory, through a
configuration file of its own (SOFTHSM2_CONF, read by the library when it is first loaded in
this process): the system's token directory is never touched. Tests that share it use KEK
labels of their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from casedesk_keys import IndexKey, Keyring
from casedesk_keys.adapters.pkcs11_kek import Pkcs11Config
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "casedesk-test"
USER_PIN = "4931-7702"
SO_PIN = "so-9921-0437"


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
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pkcs11Config]:
    """A fresh SoftHSM2 token; returns the settings to reach it (the KEK label is each test's)."""
    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).exists():
        pytest.fail("SoftHSM2 is not installed (Debian: apt-get install softhsm2)", pytrace=False)
    home = tmp_path_factory.mktemp("softhsm")
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--so-pin", SO_PIN,
         "--pin", USER_PIN],
        check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )  # fmt: skip
    yield Pkcs11Config(SOFTHSM_MODULE, TOKEN_LABEL, USER_PIN, kek_label="unset", create=False)
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before


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
