"""Opening the sealed personal fields of case events (issue #18): what notify sends with.

With `CASEDESK_SEAL_PERSONAL_DATA` on, the case service puts `cdk1.` tokens in `case.events.v1`
in place of the citizen's contacts, the case's subject, the provenance's addresses and comment
bodies (`casedesk_vocabulary.sealed_fields`: each bound to its case id and field name). Notify
may open the few it sends with (libs/keys/README.md "What each service may decrypt"): the phone
and e-mail it writes to, the subject and Message-ID/address its e-mail answer is threaded with, a
social post's reference, and a specialist's public reply it carries to a citizen without a
portal account. The citizen's name, SNILS, INN, login, the description and the author handle are
never opened here.

`SealedFields` fetches every key a batch needs before the batch is planned (`fetch`, through the
key service client's `KeyCache`), so that decoding stays synchronous and nothing awaits between a
plan and its commit. Opening a field is one AES-GCM decryption of a short text, measured at
about 8 µs on the busy development machine: a batch of 500 sealed e-mail cases (~6 fields each)
opens in ~25 ms, less than decoding and planning it, so it runs on the event loop (a thread
hand-off per batch would cost more than it saves).

The same keys seal notify's own store (application.sealing): `seal` with a key fetched for
the batch (a card and its new deliveries, written synchronously with the plan), `open_now` with
one fetched at the moment (a stored delivery at its attempt, where the dispatcher may wait).

`PlainFields`, when no key service is configured: plain events as before; a token is a poisoned
record naming the missing setting (dead-lettered, never sent to a citizen). Not a wait for the
setting: in an installation that does not seal, a citizen's own text may begin like a token, and
one record must not hold every notice back. What guards a sealed installation is the start: a
notify whose store holds sealed rows refuses to start without a key service (`__main__`).
"""

from __future__ import annotations

from casedesk_keys import (
    DataKey,
    FieldContext,
    FieldUnreadable,
    KeyErased,
    KeysError,
    KeySource,
    KeyUnavailable,
    SubjectId,
    decrypt_field,
    encrypt_field,
    header_of,
    is_encrypted,
)
from casedesk_keyservice.client import KeyServiceRefused
from casedesk_notify.application.ports import CitizenErased, KeysUnavailable, PoisonRecord

__all__ = ["PlainFields", "SealedFields"]

KeyRef = tuple[SubjectId, int]


class SealedFields:
    """The opener of a notify with a key source (the key service client's `KeyCache`)."""

    def __init__(self, keys: KeySource) -> None:
        self._keys = keys
        self._wanted: set[KeyRef] = set()
        self._held: dict[KeyRef, DataKey | KeysError] = {}
        self.collecting = False

    def open(self, case_id: str, field: str, value: str) -> str:
        if not value or not is_encrypted(value):
            return value
        ref = _ref(value)
        if self.collecting:
            self._wanted.add(ref)
            return value
        held = self._held.get(ref)
        if held is None:  # a planning bug, never the data: fail loudly, not quietly
            raise KeysUnavailable(f"the key for {field} of case {case_id} was not fetched")
        if isinstance(held, KeyErased):
            raise CitizenErased(f"{field} of case {case_id}: {held}")
        if isinstance(held, KeysError):
            raise PoisonRecord(f"sealed field {field} has no key: {held}")
        try:
            return decrypt_field(held, value, FieldContext(case_id, field))
        except FieldUnreadable as error:
            raise PoisonRecord(f"sealed field {field} does not open: {error}") from None

    def seal(self, key_ref: str, case_id: str, field: str, value: str) -> str:
        """`value` sealed with the fetched key `key_ref` names (notify's own store, issue #18):
        bound to `case_id` and `field`. "" and an empty `key_ref` stay as they are."""
        if not value or not key_ref:
            return value
        parsed = _parse_ref(key_ref)
        held = self._held.get(parsed) if parsed is not None else None
        if isinstance(held, DataKey):
            return encrypt_field(held, value, FieldContext(case_id, field))
        if isinstance(held, KeyErased):
            raise CitizenErased(f"{field} of case {case_id}: {held}")
        if isinstance(held, KeysError):
            raise PoisonRecord(f"{field} of case {case_id} cannot be sealed: {held}")
        raise KeysUnavailable(f"the key for {field} of case {case_id} was not fetched")

    async def open_now(self, case_id: str, field: str, value: str) -> str:
        """`value` in clear, its key fetched now (through the cache) rather than ahead: what the
        dispatcher opens a stored delivery with, at its attempt."""
        if not value or not is_encrypted(value):
            return value
        subject, generation = _ref(value)
        try:
            key = await self._keys.key(subject, generation)
        except KeyErased as error:
            raise CitizenErased(f"{field} of case {case_id}: {error}") from None
        except (KeyUnavailable, KeyServiceRefused) as error:
            raise KeysUnavailable(str(error)) from None
        except KeysError as error:  # KeyNotFound, WrappedKeyDamaged
            raise PoisonRecord(f"sealed field {field} has no key: {error}") from None
        try:
            return decrypt_field(key, value, FieldContext(case_id, field))
        except FieldUnreadable as error:
            raise PoisonRecord(f"sealed field {field} does not open: {error}") from None

    def key_of(self, value: str) -> str:
        if not value or not is_encrypted(value):
            return ""
        subject, generation = _ref(value)
        return f"{subject}/{generation}"

    def want(self, key_ref: str) -> None:
        parsed = _parse_ref(key_ref)
        if parsed is not None:
            self._wanted.add(parsed)

    async def fetch(self) -> None:
        """Fetch each noted key (the cache answers most without a call). Unreachable, or refused
        (this process not in the key service's access table: a deployment error to fix, not a
        reason to drop notices): `KeysUnavailable`, the batch waits. A key not found or damaged
        (a token from another key store) makes its fields poison."""
        wanted, self._wanted = self._wanted, set()
        held: dict[KeyRef, DataKey | KeysError] = {}
        for subject, generation in wanted:
            try:
                held[(subject, generation)] = await self._keys.key(subject, generation)
            except (KeyUnavailable, KeyServiceRefused) as error:
                self._wanted |= wanted
                raise KeysUnavailable(str(error)) from None
            except KeysError as error:  # KeyErased, KeyNotFound, WrappedKeyDamaged
                held[(subject, generation)] = error
        self._held = held

    def erased(self, key_ref: str) -> bool:
        parsed = _parse_ref(key_ref)
        return parsed is not None and isinstance(self._held.get(parsed), KeyErased)


class PlainFields:
    """The opener of a notify with no key service (`CASEDESK_KEY_SERVICE_ADDRESS` empty)."""

    collecting = False

    def open(self, case_id: str, field: str, value: str) -> str:
        if value and is_encrypted(value) and not self.collecting:
            raise PoisonRecord(
                f"sealed field {field} (a casedesk_keys token) but no key service is "
                "configured: set CASEDESK_KEY_SERVICE_ADDRESS"
            )
        return value

    def seal(self, key_ref: str, case_id: str, field: str, value: str) -> str:
        return value  # nothing sealed without keys: the store keeps plain events' texts plain

    async def open_now(self, case_id: str, field: str, value: str) -> str:
        return self.open(case_id, field, value)

    def key_of(self, value: str) -> str:
        return ""

    def want(self, key_ref: str) -> None:
        pass

    async def fetch(self) -> None:
        pass

    def erased(self, key_ref: str) -> bool:
        return False


def _ref(token: str) -> KeyRef:
    try:
        header = header_of(token)
    except KeysError as error:  # MalformedField: not a token after all
        raise PoisonRecord(f"malformed sealed field: {error}") from None
    return header.subject, header.generation


def _parse_ref(key_ref: str) -> KeyRef | None:
    subject, _, generation = key_ref.partition("/")
    try:
        return SubjectId.from_text(subject), int(generation)
    except ValueError:
        return None
