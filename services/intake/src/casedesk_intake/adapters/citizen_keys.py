"""Citizens' data keys from the key service (issue #18), for the vault and intake's own records.

With CASEDESK_SEAL_PERSONAL_DATA on, intake seals what it keeps of a citizen with his data key:
the key service's, filed under his subject, `Subjects.of(CitizenIdentity(...))` of his
identifiers (the strongest: login, SNILS, INN, e-mail, phone), exactly as the case service
derives it, so that a case and its files are erased together. A citizen record whose fields are
already tokens (a case read back from a sealing case service) names its subject in them.

The key library's errors become intake's: KeyErased -> CitizenErased (a write) or
AttachmentErased (a read), KeyUnavailable -> KeyServiceUnavailable.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import CitizenErased, InvalidRequest, KeyServiceUnavailable
from casedesk_keys import (
    CitizenIdentity,
    DataKey,
    FieldContext,
    FieldUnreadable,
    IndexKey,
    InvalidIdentifier,
    KeyErased,
    KeyNotFound,
    KeySource,
    KeyUnavailable,
    MalformedField,
    SubjectId,
    Subjects,
    header_of,
    is_encrypted,
    seal,
    unseal,
)

# A kept reply sealed with a citizen's key starts with this byte, which no protobuf message
# does (field 31 with wire type 7 does not exist): replies kept in clear before stay readable.
SEALED_RECORD = b"\xff"
RECORD_FIELD = "intake.idempotency.response"


class RecordUnreadable(Exception):
    """A kept reply that fails its check, or names a key the key service does not know."""


class CitizenKeys:
    """Subjects and keys for intake; one per process (`keys`: the key service's KeyCache;
    `reopen`: the key service's ReopenSubject, through the client that also clears the cache)."""

    def __init__(
        self,
        keys: KeySource,
        index_key: IndexKey,
        reopen: Callable[[SubjectId], Awaitable[DataKey]] | None = None,
    ) -> None:
        self.keys = keys
        self._subjects = Subjects(index_key)
        self._reopen = reopen

    def subject_of(self, citizen: Citizen) -> SubjectId:
        """The citizen's subject: the one his sealed fields name, else the one his identifiers
        derive to. InvalidRequest when he names none (the message names no value)."""
        values = (
            citizen.account_login, citizen.snils, citizen.inn, citizen.email, citizen.mobile_phone,
        )  # fmt: skip
        for value in values:
            if value and is_encrypted(value):
                try:
                    return header_of(value).subject
                except MalformedField:
                    break
        identity = CitizenIdentity(
            login=citizen.account_login, snils=citizen.snils, inn=citizen.inn,
            email=citizen.email, phone=citizen.mobile_phone,
        )  # fmt: skip
        try:
            return self._subjects.of(identity)
        except InvalidIdentifier as error:
            raise InvalidRequest([("citizen", str(error))]) from None

    async def current_key(self, citizen: Citizen) -> DataKey:
        """The key to seal new data of the citizen with. CitizenErased if his key was destroyed:
        never an old key, and no new one is made (the key service refuses)."""
        subject = self.subject_of(citizen)
        try:
            return await self.keys.current_key(subject)
        except KeyErased as erased:
            raise CitizenErased(erased.erased_at) from None
        except KeyUnavailable:
            raise KeyServiceUnavailable() from None

    async def welcome_back(self, citizen: Citizen) -> None:
        """A new case of the citizen's own was refused because his data was erased (at his
        request, or by retention after his last case closed): his subject gets a new
        generation, so that he can write to support again. The new case and its files are
        sealed with a key that never sealed anything erased; his erased cases stay unreadable,
        and a follow-up to one of them stays refused (`current_key`). For a citizen who is not
        erased (any more), his current key: nothing changes."""
        if self._reopen is None:  # no key service to ask (tests): he stays erased
            await self.current_key(citizen)
            return
        try:
            await self._reopen(self.subject_of(citizen))
        except KeyUnavailable:
            raise KeyServiceUnavailable() from None

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        """The key a token names. KeyErased and KeyNotFound are the caller's to tell apart;
        KeyServiceUnavailable when the key service is out of reach."""
        try:
            return await self.keys.key(subject, generation)
        except KeyUnavailable:
            raise KeyServiceUnavailable() from None


class SealedRecords:
    """Intake's idempotency records with CASEDESK_SEAL_PERSONAL_DATA on (application.ports'
    RecordSealer): replies sealed with the citizen's key, bound to their record (frontend and
    idempotency key), and request digests as keyed hashes under a key derived from the master
    key."""

    def __init__(self, keys: CitizenKeys, master_key: bytes) -> None:
        self._keys = keys
        self._digest_key = hmac.new(
            master_key, b"casedesk-intake/request-digest", hashlib.sha256
        ).digest()

    async def seal(self, citizen: Citizen, place: str, reply: bytes) -> bytes:
        key = await self._keys.current_key(citizen)
        return SEALED_RECORD + seal(key, reply, FieldContext(place, RECORD_FIELD))

    async def open(self, place: str, kept: bytes) -> bytes:
        if not kept.startswith(SEALED_RECORD):
            return kept  # kept in clear (before the setting, or a reply with no citizen's data)
        token = kept[len(SEALED_RECORD) :]
        try:
            header = header_of(token)
            key = await self._keys.key(header.subject, header.generation)
            return unseal(key, token, FieldContext(place, RECORD_FIELD))
        except KeyErased as erased:
            raise CitizenErased(erased.erased_at) from None
        except (MalformedField, FieldUnreadable, KeyNotFound) as error:
            raise RecordUnreadable(f"a kept reply cannot be opened: {error}") from None

    def digest(self, request_digest: str) -> str:
        return hmac.new(self._digest_key, request_digest.encode(), hashlib.sha256).hexdigest()
