"""The master key, the pseudonymous citizen references derived from it, and the cache of
unwrapped data keys.

Files and database rows are named by a keyed hash of the citizen's identity instead of the login
or e-mail address, so intake's storage holds no readable personal identifier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


class DataKeyCache:
    """Citizens' data keys, unwrapped, for the vault's next reads and writes: at most `max_keys`
    (the least recently used goes first) and each for at most `ttl_s` after it was unwrapped.

    Bounded because every citizen who ever sent a file would otherwise stay in memory for the
    life of the process; timed because an unwrapped key is a secret best held briefly (after
    `ttl_s` it is unwrapped again from its file, which also notices an erasure). Not
    thread-safe: the vault calls it under its lock.
    """

    def __init__(
        self,
        max_keys: int = 10_000,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_keys < 1 or ttl_s <= 0:
            raise ValueError("a data key cache needs room for a key and a positive lifetime")
        self.max_keys, self.ttl_s = max_keys, ttl_s
        self._clock = clock
        self._by_use: OrderedDict[str, AESGCM] = OrderedDict()  # least recently used first
        self._expiry: OrderedDict[str, float] = OrderedDict()  # in unwrapping order: soonest first

    def __len__(self) -> int:
        return len(self._by_use)

    def __contains__(self, citizen_ref: object) -> bool:
        return citizen_ref in self._by_use

    def get(self, citizen_ref: str) -> AESGCM | None:
        self._drop_expired()
        key = self._by_use.get(citizen_ref)
        if key is not None:
            self._by_use.move_to_end(citizen_ref)
        return key

    def put(self, citizen_ref: str, key: AESGCM) -> None:
        self._drop_expired()
        self._by_use[citizen_ref] = key
        self._by_use.move_to_end(citizen_ref)
        self._expiry.pop(citizen_ref, None)
        self._expiry[citizen_ref] = self._clock() + self.ttl_s
        while len(self._by_use) > self.max_keys:
            oldest, _ = self._by_use.popitem(last=False)
            del self._expiry[oldest]

    def drop(self, citizen_ref: str) -> None:
        """Forget the key (the citizen's erasure)."""
        self._by_use.pop(citizen_ref, None)
        self._expiry.pop(citizen_ref, None)

    def _drop_expired(self) -> None:
        now = self._clock()
        while self._expiry and next(iter(self._expiry.values())) <= now:
            expired, _ = self._expiry.popitem(last=False)
            del self._by_use[expired]
