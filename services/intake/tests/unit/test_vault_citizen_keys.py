"""The vault on citizens' data keys (CASEDESK_SEAL_PERSONAL_DATA, issue #18): a new file is sealed
with the citizen's current key from the key owner, erasing him there makes his files unreadable
(ERASED, with when), nothing new is kept for an erased citizen, and files stored before keep
opening with the vault's own keys. A keyring of the test's own stands in for the key service."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from casedesk_intake.__main__ import keys_config
from casedesk_intake.adapters.citizen_keys import CitizenKeys
from casedesk_intake.adapters.keys import CitizenReferences
from casedesk_intake.adapters.vault import AttachmentUnreadable, AttachmentVault
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import (
    AttachmentErased,
    CitizenErased,
    InvalidRequest,
    KeyServiceUnavailable,
)
from casedesk_intake.settings import IntakeSettings
from casedesk_keys import (
    CitizenIdentity,
    DataKey,
    FieldContext,
    IndexKey,
    Keyring,
    KeyUnavailable,
    LocalKeySource,
    SubjectId,
    Subjects,
    encrypt_field,
    header_of,
)
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore

MASTER = os.urandom(32)
CONTENT = b"%PDF-1.7 passport scan of a citizen"
IVANOV = Citizen(full_name="Иванов Иван", account_login="ivanov.ii", snils="112-233-445 95")
PETROV = Citizen(full_name="Петров Пётр", email="petrov@example.ru")


@dataclass
class Keys:
    keyring: Keyring
    source: LocalKeySource
    index_key: IndexKey

    def subject(self, citizen: Citizen) -> SubjectId:
        return CitizenKeys(self.source, self.index_key).subject_of(citizen)

    def erase(self, citizen: Citizen) -> None:
        self.keyring.erase(self.subject(citizen), "privacy.officer", "request 2026-17")


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[Keys]:
    (tmp_path / "kek").mkdir()
    kek = SecretFileKekProvider(tmp_path / "kek", create=True)
    keyring = Keyring(SqliteKeyStore(tmp_path / "keys.sqlite"), kek)
    yield Keys(keyring, LocalKeySource(keyring), IndexKey(os.urandom(32)))
    keyring.store.close()
    kek.close()


def directory(tmp_path: Path) -> Path:
    return tmp_path / "attachments"


@pytest.fixture
def vault(tmp_path: Path, keys: Keys) -> AttachmentVault:
    return AttachmentVault(
        directory(tmp_path), MASTER, citizen_keys=CitizenKeys(keys.source, keys.index_key)
    )


def ref(citizen: Citizen) -> str:
    return CitizenReferences(MASTER).of(citizen.identity())


def blob(tmp_path: Path, citizen: Citizen, attachment_id: str) -> Path:
    return directory(tmp_path) / "blobs" / ref(citizen) / f"{attachment_id}.bin"


async def test_a_new_file_is_sealed_with_the_citizens_current_key(
    vault: AttachmentVault, keys: Keys, tmp_path: Path
) -> None:
    digest = await vault.store(ref(IVANOV), "att-1", CONTENT, IVANOV)
    assert await vault.read(ref(IVANOV), "att-1") == CONTENT
    raw = blob(tmp_path, IVANOV, "att-1").read_bytes()
    assert CONTENT not in raw and b"passport" not in raw
    assert raw[:1] == b"\x02" and raw[1:65].decode() == digest
    header = header_of(raw[65:])
    # The subject the case service derives for him too: his strongest identifier, the login.
    subjects = Subjects(keys.index_key)
    assert header.subject == subjects.of(CitizenIdentity(login="ivanov.ii", snils=IVANOV.snils))
    assert header.generation == 1
    # The vault made no key of its own for him: the key owner's is the only one.
    assert list((directory(tmp_path) / "keys").iterdir()) == []


async def test_erasing_the_citizen_at_the_key_owner_makes_his_files_unreadable(
    vault: AttachmentVault, keys: Keys
) -> None:
    await vault.store(ref(IVANOV), "att-1", CONTENT, IVANOV)
    await vault.store(ref(PETROV), "att-2", CONTENT, PETROV)
    keys.erase(IVANOV)
    with pytest.raises(AttachmentErased, match="data key was destroyed") as erased:
        await vault.read(ref(IVANOV), "att-1")
    assert erased.value.erased_at is not None
    assert str(erased.value.erased_at.year) in str(erased.value)
    assert await vault.read(ref(PETROV), "att-2") == CONTENT, "another citizen is untouched"


async def test_no_file_is_kept_for_an_erased_citizen_and_no_key_is_made_again(
    vault: AttachmentVault, keys: Keys, tmp_path: Path
) -> None:
    await vault.store(ref(IVANOV), "att-1", CONTENT, IVANOV)
    keys.erase(IVANOV)
    with pytest.raises(CitizenErased, match="erased"):
        await vault.store(ref(IVANOV), "att-2", b"%PDF new file", IVANOV)
    assert not blob(tmp_path, IVANOV, "att-2").exists()
    # Never a citizen erased before he ever had a key either.
    keys.erase(PETROV)
    with pytest.raises(CitizenErased):
        await vault.store(ref(PETROV), "att-3", CONTENT, PETROV)
    assert not blob(tmp_path, PETROV, "att-3").exists()


async def test_files_stored_before_the_setting_still_open(keys: Keys, tmp_path: Path) -> None:
    before = AttachmentVault(directory(tmp_path), MASTER)
    await before.store(ref(IVANOV), "att-old", CONTENT)
    after = AttachmentVault(
        directory(tmp_path), MASTER, citizen_keys=CitizenKeys(keys.source, keys.index_key)
    )
    await after.store(ref(IVANOV), "att-new", b"%PDF new", IVANOV)
    assert await after.read(ref(IVANOV), "att-old") == CONTENT
    assert await after.read(ref(IVANOV), "att-new") == b"%PDF new"
    # The old vault's shredding still works on the old files.
    await after.erase_citizen(ref(IVANOV))
    with pytest.raises(AttachmentErased, match="shredded"):
        await after.read(ref(IVANOV), "att-old")


async def test_a_sealed_file_without_the_setting_is_unreadable_not_garbage(
    vault: AttachmentVault, tmp_path: Path
) -> None:
    await vault.store(ref(IVANOV), "att-1", CONTENT, IVANOV)
    plain = AttachmentVault(directory(tmp_path), MASTER)
    with pytest.raises(AttachmentUnreadable, match="CASEDESK_SEAL_PERSONAL_DATA"):
        await plain.read(ref(IVANOV), "att-1")


async def test_a_tampered_or_swapped_sealed_file_is_detected(
    vault: AttachmentVault, tmp_path: Path
) -> None:
    await vault.store(ref(IVANOV), "att-1", CONTENT, IVANOV)
    await vault.store(ref(IVANOV), "att-2", b"%PDF-other", IVANOV)
    one, two = blob(tmp_path, IVANOV, "att-1"), blob(tmp_path, IVANOV, "att-2")
    one_bytes = one.read_bytes()
    one.write_bytes(two.read_bytes())
    with pytest.raises(AttachmentUnreadable, match="failed its check"):
        await vault.read(ref(IVANOV), "att-1")
    damaged = bytearray(one_bytes)
    damaged[-1] ^= 1
    one.write_bytes(bytes(damaged))
    with pytest.raises(AttachmentUnreadable, match="failed its check"):
        await vault.read(ref(IVANOV), "att-1")


async def test_a_citizen_with_no_identifier_is_a_bad_request(vault: AttachmentVault) -> None:
    with pytest.raises(InvalidRequest, match="citizen"):
        await vault.store("0" * 40, "att-1", CONTENT, Citizen(full_name="Аноним"))


async def test_a_sealed_citizen_record_names_its_subject(keys: Keys) -> None:
    """A case read back from a sealing case service carries tokens: their subject is his."""
    citizen_keys = CitizenKeys(keys.source, keys.index_key)
    subject = keys.subject(IVANOV)
    key = await keys.source.current_key(subject)
    sealed = Citizen(
        account_login=encrypt_field(key, "ivanov.ii", FieldContext("case-1", "citizen.login"))
    )
    assert citizen_keys.subject_of(sealed) == subject


class Unreachable:
    async def current_key(self, subject: SubjectId) -> DataKey:
        raise KeyUnavailable("the key service cannot be reached")

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        raise KeyUnavailable("the key service cannot be reached")


async def test_an_unreachable_key_service_is_retryable_and_keeps_nothing(
    keys: Keys, tmp_path: Path
) -> None:
    sealing = AttachmentVault(
        directory(tmp_path), MASTER, citizen_keys=CitizenKeys(keys.source, keys.index_key)
    )
    await sealing.store(ref(IVANOV), "att-1", CONTENT, IVANOV)
    cut_off = AttachmentVault(
        directory(tmp_path), MASTER, citizen_keys=CitizenKeys(Unreachable(), keys.index_key)
    )
    with pytest.raises(KeyServiceUnavailable):
        await cut_off.store(ref(IVANOV), "att-2", CONTENT, IVANOV)
    assert not blob(tmp_path, IVANOV, "att-2").exists()
    with pytest.raises(KeyServiceUnavailable):
        await cut_off.read(ref(IVANOV), "att-1")


async def test_with_the_setting_off_nothing_changes(keys: Keys, tmp_path: Path) -> None:
    plain = AttachmentVault(directory(tmp_path), MASTER)
    await plain.store(ref(IVANOV), "att-1", CONTENT, IVANOV)
    raw = blob(tmp_path, IVANOV, "att-1").read_bytes()
    assert raw[:1] == b"\x01", "the vault's own format"
    assert len(list((directory(tmp_path) / "keys").iterdir())) == 1, "the vault's own key"
    keys.erase(IVANOV)  # the key owner's erasure does not concern the vault's own keys
    assert await plain.read(ref(IVANOV), "att-1") == CONTENT


def test_sealing_needs_the_key_service_address() -> None:
    with pytest.raises(ValueError, match="CASEDESK_KEY_SERVICE_ADDRESS"):
        IntakeSettings(seal_personal_data=True)
    assert IntakeSettings().seal_personal_data is False, "off by default"
    on = IntakeSettings(seal_personal_data=True, key_service_address="keys:50056")
    assert on.key_service_address == "keys:50056"


def test_sealing_reads_the_index_key_at_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert keys_config(IntakeSettings()) is None, "off: casedesk_keys is not needed"
    on = IntakeSettings(seal_personal_data=True, key_service_address="keys:50056")
    monkeypatch.delenv("CASEDESK_KEYS_INDEX_KEY_FILE", raising=False)
    with pytest.raises(ValueError, match="CASEDESK_KEYS_INDEX_KEY_FILE"):
        keys_config(on)
    index_file = tmp_path / "index.key"
    index_file.write_text(base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("CASEDESK_KEYS_INDEX_KEY_FILE", str(index_file))
    config = keys_config(on)
    assert config is not None


async def test_a_missing_sealed_file_is_unreadable_not_erased(
    vault: AttachmentVault, tmp_path: Path
) -> None:
    await vault.store(ref(IVANOV), "att-1", CONTENT, IVANOV)
    blob(tmp_path, IVANOV, "att-1").unlink()
    with pytest.raises(AttachmentUnreadable, match="not available"):
        await vault.read(ref(IVANOV), "att-1")
