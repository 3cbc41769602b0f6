"""CASEDESK_KEYS_* settings, the wiring they drive, and the maintenance commands."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from casedesk_keys import SubjectId
from casedesk_keys.__main__ import main
from casedesk_keys.adapters.pkcs11_kek import Pkcs11Config, Pkcs11KekProvider
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.settings import KeysSettings, KeysSettingsError
from casedesk_keys.wiring import load_index_key, open_keyring


def test_defaults_need_nothing_from_a_client() -> None:
    settings = KeysSettings.from_env({})
    assert (settings.cache_ttl_s, settings.cache_max, settings.kek_label) == (
        10.0,
        10_000,
        "casedesk-kek",
    )


def test_every_bad_value_is_named() -> None:
    with pytest.raises(KeysSettingsError) as refused:
        KeysSettings.from_env(
            {
                "CASEDESK_KEYS_KEK_PROVIDER": "vault",
                "CASEDESK_KEYS_CACHE_TTL_S": "soon",
                "CASEDESK_KEYS_CACHE_MAX": "0",
                "CASEDESK_KEYS_KEK_CREATE": "maybe",
            }
        )
    message = str(refused.value)
    for name in ("KEK_PROVIDER", "CACHE_TTL_S", "CACHE_MAX", "KEK_CREATE"):
        assert f"CASEDESK_KEYS_{name}" in message


def test_the_key_owner_needs_its_provider_and_store() -> None:
    settings = KeysSettings.from_env({"CASEDESK_KEYS_KEK_PROVIDER": "pkcs11"})
    with pytest.raises(KeysSettingsError, match=r"PKCS11_PIN_FILE.*STORE_URL"):
        open_keyring(settings)


def test_a_keyring_from_settings_with_a_kek_directory(tmp_path: Path) -> None:
    settings = KeysSettings.from_env(
        {
            "CASEDESK_KEYS_KEK_PROVIDER": "secret-file",
            "CASEDESK_KEYS_KEK_DIR": str(tmp_path),
            "CASEDESK_KEYS_KEK_CREATE": "true",
            "CASEDESK_KEYS_STORE_URL": f"sqlite://{tmp_path}/store/keys.sqlite",
        }
    )
    ring = open_keyring(settings)
    s = SubjectId(os.urandom(16))
    assert ring.current_key(s) == ring.key(s, 1)
    assert isinstance(ring.kek, SecretFileKekProvider)
    assert (tmp_path / "store" / "keys.sqlite").exists()


def test_a_keyring_from_settings_with_the_hsm(hsm_config: Pkcs11Config, tmp_path: Path) -> None:
    (tmp_path / "pin").write_text(hsm_config.pin + "\n")
    settings = KeysSettings.from_env(
        {
            "CASEDESK_KEYS_KEK_PROVIDER": "pkcs11",
            "CASEDESK_KEYS_PKCS11_MODULE": hsm_config.module,
            "CASEDESK_KEYS_PKCS11_TOKEN_LABEL": hsm_config.token_label,
            "CASEDESK_KEYS_PKCS11_PIN_FILE": str(tmp_path / "pin"),
            "CASEDESK_KEYS_KEK_LABEL": hsm_config.kek_label,
            "CASEDESK_KEYS_KEK_CREATE": "1",
            "CASEDESK_KEYS_STORE_URL": str(tmp_path / "keys.sqlite"),
        }
    )
    ring = open_keyring(settings)
    assert isinstance(ring.kek, Pkcs11KekProvider)
    assert ring.kek.current_kek_id() == f"{hsm_config.kek_label}.v1"
    ring.kek.close()


def test_the_index_key_comes_from_its_file(tmp_path: Path) -> None:
    secret = os.urandom(32)
    (tmp_path / "index").write_text(base64.b64encode(secret).decode())
    key = load_index_key(KeysSettings(index_key_file=tmp_path / "index"))
    assert key.derive("x") == type(key)(secret).derive("x")
    with pytest.raises(KeysSettingsError, match="CASEDESK_KEYS_INDEX_KEY_FILE is needed"):
        load_index_key(KeysSettings())
    with pytest.raises(KeysSettingsError, match="INDEX_KEY_FILE cannot be read"):
        load_index_key(KeysSettings(index_key_file=tmp_path / "missing"))
    (tmp_path / "short").write_text("c2hvcnQ=")
    with pytest.raises(KeysSettingsError, match="32 bytes"):
        load_index_key(KeysSettings(index_key_file=tmp_path / "short"))


def test_the_commands_rotate_retire_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASEDESK_KEYS_KEK_PROVIDER", "secret-file")
    monkeypatch.setenv("CASEDESK_KEYS_KEK_DIR", str(tmp_path))
    monkeypatch.setenv("CASEDESK_KEYS_KEK_CREATE", "true")
    monkeypatch.setenv("CASEDESK_KEYS_STORE_URL", str(tmp_path / "keys.sqlite"))
    ring = open_keyring(KeysSettings.from_env())
    for _ in range(3):
        ring.current_key(SubjectId(os.urandom(16)))
    ring.store.close()

    assert main(["retire", "casedesk-kek.v1"]) == 1
    assert "current key-encryption key" in capsys.readouterr().err
    assert main(["rotate", "--new-kek"]) == 0
    out = capsys.readouterr().out
    assert "new key-encryption key casedesk-kek.v2" in out
    assert "re-wrapped 3 data keys under casedesk-kek.v2" in out
    assert main(["retire", "casedesk-kek.v1"]) == 0
    assert main(["status"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "casedesk-kek.v2 (current): 3 data keys"


def test_the_commands_stop_on_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CASEDESK_KEYS_KEK_PROVIDER", raising=False)
    assert main(["status"]) == 2
    assert "CASEDESK_KEYS_KEK_PROVIDER" in capsys.readouterr().err
