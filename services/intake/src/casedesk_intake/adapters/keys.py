"""The master key and the pseudonymous citizen references derived from it.

Files and database rows are named by a keyed hash of the citizen's identity instead of the login
or e-mail address, so intake's storage holds no readable personal identifier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

KEY_BYTES = 32


class MasterKeyError(ValueError):
    pass


def decode_master_key(encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError("CASEDESK_MASTER_KEY must be base64") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError("CASEDESK_MASTER_KEY must decode to 32 bytes (AES-256)")
    return key


def load_or_create_key_file(path: Path) -> bytes:
    """A development key kept beside the data; created once, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return decode_master_key(path.read_text())
    with os.fdopen(descriptor, "w") as file:
        file.write(base64.b64encode(os.urandom(KEY_BYTES)).decode())
        file.flush()
        os.fsync(file.fileno())
    return decode_master_key(path.read_text())


class CitizenReferences:
    def __init__(self, master_key: bytes) -> None:
        self._pepper = hmac.new(master_key, b"casedesk-intake/citizen-ref", hashlib.sha256).digest()

    def of(self, identity: str) -> str:
        return hmac.new(self._pepper, identity.encode(), hashlib.sha256).hexdigest()[:40]


class AccessCodeDigests:
    """Keyed hashes of one-time codes, bound to their case number: a million possible codes
    would fall to a plain hash at once, and a code of one case must not open another."""

    def __init__(self, master_key: bytes) -> None:
        self._key = hmac.new(master_key, b"casedesk-intake/access-code", hashlib.sha256).digest()

    def of(self, case_number: str, code: str) -> str:
        message = f"{case_number}\x1f{code}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
