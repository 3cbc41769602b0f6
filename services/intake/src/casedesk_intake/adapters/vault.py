"""Attachments encrypted at rest: AES-256-GCM under a per-citizen data key.

Each citizen's data key is random and stored only wrapped (encrypted) by the master key. Erasing
that wrapped key makes every file of the citizen unreadable at once (crypto-shredding), which is
how a right-to-erasure request is honoured even for copies in backups. A file's id and digest are
bound into its authentication tag, so swapping two encrypted files is detected on read.

An erasure first leaves a tombstone under the citizen's pseudonym (`erased/<ref>`), so that a
read of one of his files tells "erased at his request" (AttachmentErased) from a file that is
missing or damaged (AttachmentUnreadable), also after he has come back with new files under a
new key. A missing data key counts as erased too: without it nothing can ever be decrypted.
Data keys are cached (keys.DataKeyCache: the most recently used ones, each for a few minutes),
an erasure drops the citizen's at once, and a cached key whose file is gone
(`casedesk-intake-erase` runs as its own process) is forgotten at the next use, so an erasure
also holds against a running service.

Citizens' data keys (CASEDESK_SEAL_PERSONAL_DATA, issue #18): with `citizen_keys` given, a new
file is sealed instead with the citizen's current data key from the key service (format 2: the
key library's binary token, bound to the file's id and digest), so that erasing the citizen at
the key service makes every such file unreadable at once, wherever it was copied; such files are
not deleted by an erasure (nothing is left to read in them). A read of one asks for the key its
token names: destroyed -> AttachmentErased (when), unknown -> AttachmentUnreadable. An upload
for an erased citizen is refused (CitizenErased): the key service makes no key for an erased
subject, and nothing is ever sealed with an old one. Files stored before (format 1) keep
opening with the vault's own keys, and `casedesk-intake-erase` still shreds those.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from casedesk_intake.adapters.keys import KEY_BYTES, DataKeyCache
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import AttachmentDamaged, AttachmentErased

if TYPE_CHECKING:  # casedesk_keys is imported only with CASEDESK_SEAL_PERSONAL_DATA on
    from casedesk_intake.adapters.citizen_keys import CitizenKeys
    from casedesk_keys import DataKey, FieldContext

_NONCE = 12
_FORMAT = b"\x01"  # AES-GCM under the vault's own data key of the citizen (wrapped by the master)
_SEALED = b"\x02"  # the key library's token, under the citizen's data key from the key service
_DIGEST = 64


class AttachmentUnreadable(AttachmentDamaged):
    """The file is gone (not by erasure), or its content was tampered with."""


class AttachmentVault:
    def __init__(
        self,
        directory: Path,
        master_key: bytes,
        key_cache: DataKeyCache | None = None,
        citizen_keys: CitizenKeys | None = None,
    ) -> None:
        """`key_cache`: where unwrapped data keys are kept between uses (None: the defaults).
        `citizen_keys`: new files are sealed with the citizens' keys from the key service
        (CASEDESK_SEAL_PERSONAL_DATA); None: with the vault's own keys, as before."""
        self.citizen_keys = citizen_keys
        self._keys_dir = directory / "keys"
        self._blobs_dir = directory / "blobs"
        self._erased_dir = directory / "erased"
        self._master = AESGCM(master_key)
        self.key_cache = DataKeyCache() if key_cache is None else key_cache
        self._lock = threading.Lock()
        for folder in (self._keys_dir, self._blobs_dir, self._erased_dir):
            folder.mkdir(parents=True, exist_ok=True)

    async def store(
        self, citizen_ref: str, attachment_id: str, content: bytes, citizen: Citizen | None = None
    ) -> str:
        """Encrypt and store; returns the hex sha256 of the plaintext. With citizen keys, the
        file is sealed with `citizen`'s current key: CitizenErased if it was destroyed,
        KeyServiceUnavailable if the key service is out of reach."""
        if self.citizen_keys is None:
            return await asyncio.to_thread(self._store, citizen_ref, attachment_id, content)
        if citizen is None:
            raise ValueError("the vault seals with the citizen's key: the citizen is needed")
        key = await self.citizen_keys.current_key(citizen)
        return await asyncio.to_thread(self._store_sealed, key, citizen_ref, attachment_id, content)

    async def read(self, citizen_ref: str, attachment_id: str) -> bytes:
        data = await asyncio.to_thread(self._read_sealed_file, citizen_ref, attachment_id)
        if data is None:  # a file of the vault's own keys
            return await asyncio.to_thread(self._read, citizen_ref, attachment_id)
        return await self._open_sealed(attachment_id, data)

    async def erase_citizen(self, citizen_ref: str) -> None:
        await asyncio.to_thread(self._erase, citizen_ref)

    def _store(self, citizen_ref: str, attachment_id: str, content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        nonce = os.urandom(_NONCE)
        sealed = self._data_key(citizen_ref).encrypt(nonce, content, _aad(attachment_id, digest))
        path = self._blob_path(citizen_ref, attachment_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, _FORMAT + digest.encode() + nonce + sealed)
        return digest

    def _store_sealed(
        self, key: DataKey, citizen_ref: str, attachment_id: str, content: bytes
    ) -> str:
        from casedesk_keys import seal

        digest = hashlib.sha256(content).hexdigest()
        token = seal(key, content, _context(attachment_id, digest))
        path = self._blob_path(citizen_ref, attachment_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, _SEALED + digest.encode() + token)
        return digest

    def _read_sealed_file(self, citizen_ref: str, attachment_id: str) -> bytes | None:
        """The file if it is sealed with a citizen's key from the key service; None otherwise
        (missing too: the vault's own path tells erased from missing)."""
        try:
            path = self._blob_path(citizen_ref, attachment_id)
        except ValueError:  # a name intake never gives a file: _read answers it
            return None
        try:
            with path.open("rb") as file:
                if file.read(1) != _SEALED:
                    return None
                return _SEALED + file.read()
        except FileNotFoundError:
            return None

    async def _open_sealed(self, attachment_id: str, data: bytes) -> bytes:
        from casedesk_keys import (
            FieldUnreadable,
            KeyErased,
            KeyNotFound,
            MalformedField,
            header_of,
            unseal,
        )

        if self.citizen_keys is None:
            raise AttachmentUnreadable(
                f"attachment {attachment_id} is sealed with a citizen's data key: reading it "
                "needs CASEDESK_SEAL_PERSONAL_DATA and the key service"
            )
        digest_bytes, token = data[1 : 1 + _DIGEST], data[1 + _DIGEST :]
        try:
            digest = digest_bytes.decode("ascii")
            header = header_of(token)
        except (UnicodeDecodeError, MalformedField):
            raise AttachmentUnreadable(f"attachment {attachment_id} failed its check") from None
        try:
            key = await self.citizen_keys.key(header.subject, header.generation)
        except KeyErased as erased:
            raise AttachmentErased(erased.erased_at) from None
        except KeyNotFound:
            raise AttachmentUnreadable(
                f"attachment {attachment_id} names a data key the key service does not know"
            ) from None
        try:
            content = await asyncio.to_thread(unseal, key, token, _context(attachment_id, digest))
        except FieldUnreadable:
            raise AttachmentUnreadable(f"attachment {attachment_id} failed its check") from None
        if hashlib.sha256(content).hexdigest() != digest:
            raise AttachmentUnreadable(f"attachment {attachment_id} failed its sha256 check")
        return content

    def _read(self, citizen_ref: str, attachment_id: str) -> bytes:
        try:
            data = self._blob_path(citizen_ref, attachment_id).read_bytes()
            key = self._data_key(citizen_ref, create=False)
        except FileNotFoundError:
            if self._erased(citizen_ref):
                with self._lock:  # erased by another process: its key must not linger here
                    self.key_cache.drop(citizen_ref)
                raise AttachmentErased() from None
            raise AttachmentUnreadable(f"attachment {attachment_id} is not available") from None
        except ValueError:  # a name intake never gives a file (see _safe): none is kept
            raise AttachmentUnreadable("no attachment is kept under this id") from None
        digest, nonce, sealed = data[1:65].decode(), data[65 : 65 + _NONCE], data[65 + _NONCE :]
        try:
            content = key.decrypt(nonce, sealed, _aad(attachment_id, digest))
        except InvalidTag:
            raise AttachmentUnreadable(f"attachment {attachment_id} failed its check") from None
        if hashlib.sha256(content).hexdigest() != digest:
            raise AttachmentUnreadable(f"attachment {attachment_id} failed its sha256 check")
        return content

    def _erased(self, citizen_ref: str) -> bool:
        """With citizen keys a citizen may have no vault key at all: only the tombstone says
        "erased" then (the key service's erasure is told by the files' keys)."""
        tombstone = self._erased_dir / _safe(citizen_ref)
        if tombstone.exists():
            return True
        return self.citizen_keys is None and not self._key_path(citizen_ref).exists()

    def _erase(self, citizen_ref: str) -> None:
        # The tombstone first: whatever happens next, a read then answers "erased".
        _write_atomically(self._erased_dir / _safe(citizen_ref), b"")
        with self._lock:
            self.key_cache.drop(citizen_ref)
            self._key_path(citizen_ref).unlink(missing_ok=True)
            _fsync_directory(self._keys_dir)
        shutil.rmtree(self._blobs_dir / _safe(citizen_ref), ignore_errors=True)

    def _data_key(self, citizen_ref: str, create: bool = True) -> AESGCM:
        with self._lock:
            cached = self.key_cache.get(citizen_ref)
            if cached is not None and not self._key_path(citizen_ref).exists():
                self.key_cache.drop(citizen_ref)  # erased by another process since it was cached
                cached = None
            if cached is None:
                cached = self._load_key(citizen_ref, create)
                self.key_cache.put(citizen_ref, cached)
            return cached

    def _load_key(self, citizen_ref: str, create: bool) -> AESGCM:
        path = self._key_path(citizen_ref)
        aad = b"casedesk-intake/data-key/" + citizen_ref.encode()
        if not path.exists():
            if not create:
                raise FileNotFoundError(path)
            nonce = os.urandom(_NONCE)
            wrapped = nonce + self._master.encrypt(nonce, AESGCM.generate_key(256), aad)
            # Another replica on a shared volume may create the key at the same moment:
            # linking fails if the name exists, and then both use the winner's key.
            temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
            _write_atomically(temporary, wrapped)
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink(missing_ok=True)
        wrapped = path.read_bytes()
        key = self._master.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)
        if len(key) != KEY_BYTES:
            raise AttachmentUnreadable("a data key has the wrong length")
        return AESGCM(key)

    def _key_path(self, citizen_ref: str) -> Path:
        return self._keys_dir / f"{_safe(citizen_ref)}.key"

    def _blob_path(self, citizen_ref: str, attachment_id: str) -> Path:
        return self._blobs_dir / _safe(citizen_ref) / f"{_safe(attachment_id)}.bin"


def _aad(attachment_id: str, digest: str) -> bytes:
    return f"casedesk-intake/attachment/{attachment_id}/{digest}".encode()


def _context(attachment_id: str, digest: str) -> FieldContext:
    """Where a sealed file's token belongs: the attachment (its own id in place of a case's),
    with the digest of its content, so that swapping two files is detected on read."""
    from casedesk_keys import FieldContext

    return FieldContext(attachment_id, f"attachment/{digest}")


def _safe(name: str) -> str:
    if not name or not all(c.isalnum() or c == "-" for c in name) or not name.isascii():
        raise ValueError("file names in the vault are hex digests and uuids only")
    return name


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
