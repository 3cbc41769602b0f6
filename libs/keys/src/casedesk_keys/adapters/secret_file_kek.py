"""Key-encryption keys from files, for small installations without an HSM: a Kubernetes Secret
mounted as a directory, one file per version (`casedesk-kek.v1`, `casedesk-kek.v2`, ...), each
32 bytes raw or in base64. The key bytes live in the process's memory (unlike an HSM's).

AES key wrap (RFC 3394), the same algorithm as the PKCS#11 provider's CKM_AES_KEY_WRAP.
The directory is listed again whenever the current version is asked for, so a version the
operator adds to the Secret is used for new keys as soon as the kubelet has written it.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from casedesk_keys.data_keys import WrappedKey
from casedesk_keys.errors import KekNotFound, KeyUnavailable, WrappedKeyDamaged
from casedesk_keys.kek_versions import KekReadOnly, check_label, newest, next_id

KEK_BYTES = 32


class SecretFileKekProvider:
    def __init__(self, directory: Path, label: str = "casedesk-kek", create: bool = False) -> None:
        """`create`: make the first version if the directory has none (development only: in
        Kubernetes the Secret is made by the operator)."""
        self.directory = directory
        self.label = check_label(label)
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        if not self.kek_ids():
            if not create:
                raise KekNotFound(f"no key-encryption key {label}.v<N> in {directory}")
            self.create_version()

    def kek_ids(self) -> list[str]:
        try:
            return newest(self.label, os.listdir(self.directory))
        except OSError as error:
            raise KeyUnavailable(f"the KEK directory cannot be listed: {error.strerror}") from None

    def current_kek_id(self) -> str:
        found = self.kek_ids()
        if not found:
            raise KekNotFound(f"no key-encryption key {self.label}.v<N> is left")
        return found[-1]

    def wrap(self, secret: bytes) -> WrappedKey:
        current = self.current_kek_id()
        return WrappedKey(current, aes_key_wrap(self._key(current), secret))

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        try:
            return aes_key_unwrap(self._key(wrapped.kek_id), wrapped.blob)
        except (InvalidUnwrap, ValueError):
            raise WrappedKeyDamaged(
                f"a data key wrapped under {wrapped.kek_id} is damaged"
            ) from None

    def create_version(self) -> str:
        new = next_id(self.label, self.kek_ids())
        encoded = base64.b64encode(os.urandom(KEK_BYTES)) + b"\n"
        try:
            descriptor = os.open(self.directory / new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as error:
            raise KekReadOnly(
                f"cannot write {new} into the KEK directory ({error.strerror}): add a key "
                f"{new} with 32 random bytes to the Secret instead"
            ) from None
        with os.fdopen(descriptor, "wb") as file:
            file.write(encoded)
            file.flush()
            os.fsync(file.fileno())
        return new

    def retire(self, kek_id: str) -> None:
        with self._lock:
            self._keys.pop(kek_id, None)
        try:
            (self.directory / kek_id).unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            raise KekReadOnly(
                f"cannot remove {kek_id} from the KEK directory ({error.strerror}): remove it "
                "from the Secret instead"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._keys.clear()

    def _key(self, kek_id: str) -> bytes:
        with self._lock:
            key = self._keys.get(kek_id)
        if key is not None:
            return key
        if kek_id not in self.kek_ids():
            raise KekNotFound(f"the key-encryption key {kek_id} is not in the KEK directory")
        key = _decode((self.directory / kek_id).read_bytes(), kek_id)
        with self._lock:
            self._keys[kek_id] = key
        return key


def _decode(content: bytes, name: str) -> bytes:
    if len(content) == KEK_BYTES:
        return content
    try:
        key = base64.b64decode(content.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEK_BYTES:
        raise KeyUnavailable(f"the KEK file {name} holds neither 32 bytes nor their base64")
    return key
