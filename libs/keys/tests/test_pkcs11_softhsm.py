"""The PKCS#11 provider on a real SoftHSM2 token (made per test session in a temporary
directory, see conftest.py)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11 import exceptions as p11

from casedesk_keys import (
    FieldCipher,
    FieldContext,
    KekNotFound,
    KeyErased,
    Keyring,
    KeyUnavailable,
    LocalKeySource,
    SubjectId,
    WrappedKey,
    WrappedKeyDamaged,
)
from casedesk_keys.adapters.pkcs11_kek import Pkcs11Config, Pkcs11KekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore


def test_the_kek_never_leaves_the_token(hsm_config: Pkcs11Config) -> None:
    provider = Pkcs11KekProvider(hsm_config)
    kek = provider.kek_object(provider.current_kek_id())
    assert kek[Attribute.EXTRACTABLE] is False
    assert kek[Attribute.NEVER_EXTRACTABLE] is True
    assert kek[Attribute.SENSITIVE] is True and kek[Attribute.TOKEN] is True
    with pytest.raises(p11.AttributeSensitive):
        kek[Attribute.VALUE]
    session = kek.session  # not even wrapped by another key of the same token
    other = session.generate_key(KeyType.AES, 256, template={Attribute.TOKEN: False})
    with pytest.raises(p11.KeyUnextractable):
        other.wrap_key(kek, mechanism=Mechanism.AES_KEY_WRAP)
    provider.close()


def test_a_data_key_wrapped_in_the_hsm_unwraps_to_itself(hsm_config: Pkcs11Config) -> None:
    provider = Pkcs11KekProvider(hsm_config)
    secret = os.urandom(32)
    wrapped = provider.wrap(secret)
    assert wrapped.kek_id == f"{hsm_config.kek_label}.v1"
    assert len(wrapped.blob) == 40 and secret not in wrapped.blob  # RFC 3394: 8 bytes more
    assert provider.unwrap(wrapped) == secret
    provider.close()


def test_data_keys_pass_through_the_token_without_staying(hsm_config: Pkcs11Config) -> None:
    provider = Pkcs11KekProvider(hsm_config)
    provider.unwrap(provider.wrap(os.urandom(32)))
    session = provider.kek_object(provider.current_kek_id()).session
    objects = list(session.get_objects({Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY}))
    labels = [str(o[Attribute.LABEL]) for o in objects]
    assert labels.count(f"{hsm_config.kek_label}.v1") == 1
    assert all(o[Attribute.TOKEN] for o in objects)  # no session key left behind
    provider.close()


def test_a_damaged_wrapped_key_is_refused_by_the_hsm(hsm_config: Pkcs11Config) -> None:
    provider = Pkcs11KekProvider(hsm_config)
    wrapped = provider.wrap(os.urandom(32))
    damaged = WrappedKey(wrapped.kek_id, wrapped.blob[:-1] + bytes([wrapped.blob[-1] ^ 1]))
    with pytest.raises(WrappedKeyDamaged, match="damaged"):
        provider.unwrap(damaged)
    with pytest.raises(KekNotFound, match="not in token"):
        provider.unwrap(WrappedKey(f"{hsm_config.kek_label}.v7", wrapped.blob))
    provider.close()


def test_a_kek_is_made_on_first_use_only_when_configured(hsm_config: Pkcs11Config) -> None:
    with pytest.raises(KekNotFound, match="no key-encryption key"):
        Pkcs11KekProvider(dataclasses.replace(hsm_config, create=False))
    Pkcs11KekProvider(hsm_config).close()  # makes v1
    again = Pkcs11KekProvider(dataclasses.replace(hsm_config, create=False))
    assert again.kek_ids() == [f"{hsm_config.kek_label}.v1"]  # found, not made twice
    again.close()


def test_a_token_that_is_not_there_is_unavailable(hsm_config: Pkcs11Config) -> None:
    with pytest.raises(KeyUnavailable, match="no PKCS#11 token 'elsewhere'"):
        Pkcs11KekProvider(dataclasses.replace(hsm_config, token_label="elsewhere"))


def test_a_session_the_hsm_dropped_is_opened_again(hsm_config: Pkcs11Config) -> None:
    provider = Pkcs11KekProvider(hsm_config)
    wrapped = provider.wrap(os.urandom(32))
    dropped = provider.token.current()
    dropped.close()  # as an HSM restart would
    assert len(provider.unwrap(wrapped)) == 32
    assert provider.token.current() is not dropped
    provider.close()


async def test_erasure_with_the_hsm_leaves_other_citizens_readable(
    hsm_config: Pkcs11Config, tmp_path: Path
) -> None:
    store = SqliteKeyStore(tmp_path / "keys.sqlite")
    ring = Keyring(store, Pkcs11KekProvider(hsm_config))
    cipher = FieldCipher(LocalKeySource(ring))
    a, b = SubjectId(os.urandom(16)), SubjectId(os.urandom(16))
    context = FieldContext("case-1", "citizen.snils")
    token_a = await cipher.encrypt(a, "112-233-445 95", context)
    token_b = await cipher.encrypt(b, "112-233-445 96", context)
    ring.erase(a, "specialist:l3-7", "erasure-request-41")
    with pytest.raises(KeyErased, match=str(a)):
        await cipher.decrypt(token_a, context)
    assert await cipher.decrypt(token_b, context) == "112-233-445 96"
    store.close()
    ring.kek.close()
