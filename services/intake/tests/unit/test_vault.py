"""Attachments at rest: encrypted, integrity-checked, shredded with the citizen's key."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from casedesk_intake.__main__ import erase
from casedesk_intake.adapters.keys import (
    CitizenReferences,
    MasterKeyError,
    decode_master_key,
    load_or_create_key_file,
)
from casedesk_intake.adapters.vault import AttachmentUnreadable, AttachmentVault
from casedesk_intake.application.erasure import identities
from casedesk_intake.domain.citizens import citizen_identity
from casedesk_intake.domain.errors import AttachmentErased
from casedesk_intake.settings import IntakeSettings

MASTER = os.urandom(32)
CONTENT = b"%PDF-1.7 passport scan of a citizen"


@pytest.fixture
def vault(tmp_path: Path) -> AttachmentVault:
    return AttachmentVault(tmp_path / "attachments", MASTER)


def ref(login: str) -> str:
    return CitizenReferences(MASTER).of(citizen_identity(login=login))


async def test_content_round_trips_and_is_not_stored_in_clear(
    vault: AttachmentVault, tmp_path: Path
) -> None:
    digest = await vault.store(ref("ivanov"), "att-1", CONTENT)
    assert await vault.read(ref("ivanov"), "att-1") == CONTENT
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert CONTENT not in stored
    assert len(digest) == 64


async def test_erasing_the_citizen_key_shreds_only_his_files(vault: AttachmentVault) -> None:
    await vault.store(ref("ivanov"), "att-1", CONTENT)
    await vault.store(ref("petrov"), "att-2", CONTENT)
    await vault.erase_citizen(ref("ivanov"))
    with pytest.raises(AttachmentErased):
        await vault.read(ref("ivanov"), "att-1")
    assert await vault.read(ref("petrov"), "att-2") == CONTENT


async def test_erasing_removes_the_wrapped_key_from_disk(
    vault: AttachmentVault, tmp_path: Path
) -> None:
    await vault.store(ref("ivanov"), "att-1", CONTENT)
    (key_file,) = (tmp_path / "attachments" / "keys").iterdir()
    await vault.erase_citizen(ref("ivanov"))
    assert not key_file.exists()


async def test_tampering_and_swapping_are_detected(vault: AttachmentVault, tmp_path: Path) -> None:
    await vault.store(ref("ivanov"), "att-1", CONTENT)
    await vault.store(ref("ivanov"), "att-2", b"%PDF-other")
    blobs = tmp_path / "attachments" / "blobs" / ref("ivanov")
    first, second = blobs / "att-1.bin", blobs / "att-2.bin"
    first_bytes = first.read_bytes()
    first.write_bytes(second.read_bytes())
    with pytest.raises(AttachmentUnreadable):
        await vault.read(ref("ivanov"), "att-1")
    first.write_bytes(first_bytes[:-1] + bytes([first_bytes[-1] ^ 1]))
    with pytest.raises(AttachmentUnreadable):
        await vault.read(ref("ivanov"), "att-1")


async def test_another_master_key_cannot_read(vault: AttachmentVault, tmp_path: Path) -> None:
    await vault.store(ref("ivanov"), "att-1", CONTENT)
    stranger = AttachmentVault(tmp_path / "attachments", os.urandom(32))
    with pytest.raises(Exception):  # noqa: B017 - the key unwrap itself fails
        await stranger.read(ref("ivanov"), "att-1")


def test_citizen_references_are_stable_pseudonyms() -> None:
    references = CitizenReferences(MASTER)
    assert references.of("login:ivanov") == references.of("login:ivanov")
    assert references.of("login:ivanov") != references.of("login:petrov")
    assert "ivanov" not in references.of("login:ivanov")
    assert CitizenReferences(os.urandom(32)).of("login:ivanov") != references.of("login:ivanov")
    assert citizen_identity(email="Ivan@Example.ru") == "email:ivan@example.ru"


def test_master_key_must_be_32_base64_bytes(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="base64"):
        decode_master_key("not base64!")
    with pytest.raises(MasterKeyError, match="32 bytes"):
        decode_master_key("c2hvcnQ=")
    created = load_or_create_key_file(tmp_path / "master.key")
    assert load_or_create_key_file(tmp_path / "master.key") == created
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600


async def test_the_erase_command_shreds_every_identity_of_the_citizen(tmp_path: Path) -> None:
    settings = IntakeSettings(data_dir=tmp_path, master_key=base64.b64encode(MASTER).decode())
    vault = AttachmentVault(settings.resolved_attachments_dir(), MASTER)
    by_login = CitizenReferences(MASTER).of(citizen_identity(login="ivanov"))
    by_email = CitizenReferences(MASTER).of(citizen_identity(email="ivanov@example.ru"))
    await vault.store(by_login, "att-1", CONTENT)
    await vault.store(by_email, "att-2", CONTENT)
    assert await erase(settings, identities("ivanov", "ivanov@example.ru", "")) == 2
    fresh = AttachmentVault(settings.resolved_attachments_dir(), MASTER)
    for reference, attachment in ((by_login, "att-1"), (by_email, "att-2")):
        with pytest.raises(AttachmentErased):
            await fresh.read(reference, attachment)
        with pytest.raises(AttachmentErased):
            await vault.read(reference, attachment), "the running vault's cached key is no help"


async def test_an_erased_citizens_old_files_stay_erased_when_he_comes_back(
    vault: AttachmentVault,
) -> None:
    await vault.store(ref("ivanov"), "att-1", CONTENT)
    await vault.erase_citizen(ref("ivanov"))
    await vault.store(ref("ivanov"), "att-2", b"%PDF-after")  # a new case, a new data key
    assert await vault.read(ref("ivanov"), "att-2") == b"%PDF-after"
    with pytest.raises(AttachmentErased):
        await vault.read(ref("ivanov"), "att-1")


async def test_a_missing_file_is_damage_not_erasure(vault: AttachmentVault, tmp_path: Path) -> None:
    await vault.store(ref("ivanov"), "att-1", CONTENT)
    (tmp_path / "attachments" / "blobs" / ref("ivanov") / "att-1.bin").unlink()
    with pytest.raises(AttachmentUnreadable, match="not available"):
        await vault.read(ref("ivanov"), "att-1")
    with pytest.raises(AttachmentUnreadable):
        await vault.read(ref("ivanov"), "../att-1")


async def test_a_key_erased_by_another_process_is_not_used_from_the_cache(
    vault: AttachmentVault, tmp_path: Path
) -> None:
    await vault.store(ref("ivanov"), "att-1", CONTENT)
    await AttachmentVault(tmp_path / "attachments", MASTER).erase_citizen(ref("ivanov"))
    await vault.store(ref("ivanov"), "att-2", CONTENT)  # the running service, after the erasure
    restarted = AttachmentVault(tmp_path / "attachments", MASTER)
    assert await restarted.read(ref("ivanov"), "att-2") == CONTENT, "stored under a live key"
