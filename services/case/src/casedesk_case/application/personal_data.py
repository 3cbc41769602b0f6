"""Personal data sealed inside events (issue #18): what the case application seals on the way in,
and how sealed fields are opened again for an authorised read.

With `CASEDESK_SEAL_PERSONAL_DATA` on, the personal fields of a new case (the citizen record, the
subject, description and steps taken, the provenance's addresses and the attachments' names) and
of a comment (its body, its attachments' names), an added attachment's name, and the login of a
citizen who acts (the events' `context.actor.id`, `sealing`) are sealed (casedesk_keys' AES-GCM
tokens, `cdk1.…`) with the citizen's current data key while the command is decided, before the
aggregate records its event: the event store, the case index and `case.events.v1` hold tokens
only. The domain treats them as opaque strings; the command's arguments (and so its idempotency
fingerprint) stay as the caller sent them, so a retry is still recognised.

Each token is bound to its place, a `FieldContext(case id, field name)`: the names are
personal_fields.py's, the same on the way in (here) and on the way out (wire/personal.py, which
opens the protobuf replies of the read RPCs).

The citizen's key is filed under his subject: `Subjects.of(CitizenIdentity(...))` of his
identifiers (the strongest: login, SNILS, INN, e-mail, phone), and for a case already stored the
subject its tokens name (`header_of`), so that no later command needs the identifiers in clear.

Commands are decided on the command thread or a worker thread, never on the event loop; keys
come from an async KeySource (the key service's KeyCache), which `KeyBridge` waits for on the
loop that owns it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from casedesk_case.application.command import Command
from casedesk_case.application.personal_fields import (
    CITIZEN_FIELDS,
    CONTENT_FIELDS,
    FIELD_ACTOR_ID,
    FREE_TEXTS,
    INDEX_SUBJECT_PREFIX,
    ORIGIN_FIELDS,
    CitizenErased,
    PersonalDataUnavailable,
    PersonalDataUnreadable,
    attachment_field,
    citizen_field,
    content_field,
    origin_field,
)
from casedesk_case.application.recently_sealed import RecentlySealed, Sealed
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import CaseError, InvalidCommand
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    Attachment,
    CaseContent,
    Citizen,
    EventContext,
    Origin,
)
from casedesk_keys import (
    CitizenIdentity,
    DataKey,
    FieldContext,
    FieldHeader,
    FieldUnreadable,
    IdentifierKind,
    IndexKey,
    InvalidIdentifier,
    KeyCache,
    KeyErased,
    KeyNotFound,
    KeysError,
    KeySource,
    KeyUnavailable,
    SubjectId,
    Subjects,
    decrypt_field,
    encrypt_field,
    header_of,
    is_encrypted,
)

T = TypeVar("T")


class KeyBridge:
    """An async KeySource used from a thread: waits there for the loop that owns the source (its
    gRPC channel and cache belong to that loop). Without a loop (tools, tests), each call runs
    an event loop of its own. A key the source's cache holds (a KeyCache) is taken at once,
    without the hop: the pipeline fetched the keys of a batch's new cases beforehand
    (`PersonalData.fetch_key`), and the projector opens what was just sealed."""

    def __init__(
        self, keys: KeySource, loop: asyncio.AbstractEventLoop | None, timeout_s: float = 10.0
    ) -> None:
        self._keys = keys
        self._held = keys if isinstance(keys, KeyCache) else None
        self._loop = loop
        self._timeout_s = timeout_s

    def current_key(self, subject: SubjectId) -> DataKey:
        held = self._held.held_current_key(subject) if self._held is not None else None
        return held if held is not None else self._run(self._keys.current_key(subject))

    def key(self, subject: SubjectId, generation: int) -> DataKey:
        held = self._held.held_key(subject, generation) if self._held is not None else None
        return held if held is not None else self._run(self._keys.key(subject, generation))

    def holds(self, subject: SubjectId, generation: int) -> bool:
        """Whether the key is held now, not erased: `key` would return it without a fetch."""
        if self._held is None:
            return False  # nothing to ask without a call: every opening takes the long way
        try:
            return self._held.held_key(subject, generation) is not None
        except KeyErased:
            return False

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            return asyncio.run(call)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            call.close()
            raise RuntimeError(
                "personal data is sealed off the event loop: it would wait for itself"
            )
        return asyncio.run_coroutine_threadsafe(call, self._loop).result(self._timeout_s)


@dataclass(frozen=True)
class Sealer:
    """Seals the texts of one case with the citizen's current key."""

    key: DataKey
    case_id: str
    recent: RecentlySealed | None = None

    def text(self, field: str, value: str) -> str:
        if not value:
            return value  # nothing to hide: an empty field stays empty
        token = encrypt_field(self.key, value, FieldContext(self.case_id, field))
        if self.recent is not None:
            key = self.key
            self.recent.remember(
                token, Sealed(value, self.case_id, field, key.subject, key.generation)
            )
        return token

    def citizen(self, citizen: Citizen) -> Citizen:
        sealed: dict[str, Any] = {
            f: self.text(citizen_field(f), getattr(citizen, f)) for f in CITIZEN_FIELDS
        }
        return replace(citizen, **sealed)

    def content(self, content: CaseContent) -> CaseContent:
        sealed: dict[str, Any] = {
            f: self.text(content_field(f), getattr(content, f)) for f in CONTENT_FIELDS
        }
        return replace(content, **sealed)

    def origin(self, origin: Origin) -> Origin:
        details = dict(origin.details)
        for name in ORIGIN_FIELDS:
            value = details.get(name)
            if isinstance(value, str):
                details[name] = self.text(origin_field(name), value)
        return replace(origin, details=details)

    def attachments(self, attachments: Iterable[Attachment]) -> list[Attachment]:
        return [
            replace(a, file_name=self.text(attachment_field(a.attachment_id), a.file_name))
            for a in attachments
        ]


class PersonalData:
    """Subjects, sealing and opening for the case service; one per process."""

    def __init__(
        self,
        keys: KeySource,
        index_key: IndexKey,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.keys = keys
        self._subjects = Subjects(index_key)
        self._bridge = KeyBridge(keys, loop)
        # The texts just sealed, opened again at once by the reply and the index projector.
        self._recent = RecentlySealed(self._bridge.holds)

    # -- who the citizen is -------------------------------------------------------------------

    def subject_of(self, citizen: Citizen) -> SubjectId:
        """The citizen's subject: the one his sealed fields name, else the one his identifiers
        derive to (the strongest: login, SNILS, INN, e-mail, phone)."""
        for name in CITIZEN_FIELDS:
            value = getattr(citizen, name)
            if value and is_encrypted(value):
                return _header(value).subject
        identity = CitizenIdentity(
            login=citizen.account_login, snils=citizen.snils, inn=citizen.inn,
            email=citizen.email, phone=citizen.mobile_phone,
        )  # fmt: skip
        try:
            return self._subjects.of(identity)
        except InvalidIdentifier as error:
            raise InvalidCommand(
                "citizen", f"{error} (the citizen's personal data is sealed under it)"
            ) from None

    def same_citizen(self, one: Citizen, other: Citizen) -> bool:
        """MergeCases' rule with sealed citizens: the same subject (the same strongest
        identifier), compared without opening anything."""
        return self.subject_of(one) == self.subject_of(other)

    def subject_in_index(self, subject_text: str, citizen_login: str) -> SubjectId | None:
        """The subject a case index row names: its sealed subject's, else its sealed login's
        (`cdk-subject:<hex>`); None when the row names none (stored before sealing, or with an
        empty subject and no login: the case itself says, `subject_of(case.citizen)`)."""
        if subject_text and is_encrypted(subject_text):
            return _header(subject_text).subject
        if citizen_login.startswith(INDEX_SUBJECT_PREFIX):
            try:
                return SubjectId.from_text(citizen_login.removeprefix(INDEX_SUBJECT_PREFIX))
            except ValueError:
                return None
        return None

    def login_lookup(self, login: str) -> str:
        """What ListCases looks for in the case index for a citizen login (`index_login`)."""
        try:
            subject = self._subjects.of_identifier(IdentifierKind.LOGIN, login)
        except InvalidIdentifier as error:
            raise InvalidCommand("citizen_login", str(error)) from None
        return INDEX_SUBJECT_PREFIX + str(subject)

    async def fetch_key(self, citizen: Citizen) -> None:
        """The citizen's current key fetched into the key cache, on the loop that owns it, so
        that sealing on a command thread finds it there (`KeyBridge`). Best effort: whatever
        fails here (an invalid identifier, an erased citizen, the key service away) fails again
        where the command seals, and is reported there as it always was."""
        try:
            subject = self.subject_of(citizen)
            if isinstance(self.keys, KeyCache):
                # A new case: an erased citizen may have been given a new key since this cache
                # learnt of his erasure (intake reopens him when he writes again).
                self.keys.doubt_erasure(subject)
            await self.keys.current_key(subject)
        except Exception:  # reported by the sealing, see above
            return

    # -- sealing (on a command's thread) ------------------------------------------------------

    def sealer(self, subject: SubjectId, case_id: str) -> Sealer:
        """A sealer for a case with the subject's current key (made on first use)."""
        key = self._keys_call(case_id, self._bridge.current_key, subject)
        return Sealer(key, case_id, self._recent)

    def sealer_for(self, citizen: Citizen, case_id: str) -> Sealer:
        return self.sealer(self.subject_of(citizen), case_id)

    def sealer_of(self, case: Case) -> Sealer:
        """A sealer for texts added to a stored case (comments, attachments)."""
        return self.sealer(self.subject_of(case.citizen), str(case.id))

    def sealing(self, command: Command) -> Command:
        """The command, deciding as before and then sealing, in the events it records (on every
        case it changes, with that case's citizen's key), the login of a citizen who acts and
        the free texts (`FREE_TEXTS`: status reasons, explanations, notes, a rating's comment).
        The domain checked those texts as sent (their lengths); what is stored is the token."""
        decide = command.decide

        def sealed(case: Case | None) -> tuple[Case, Any]:
            result, others = decide(case)
            for changed in (result, *others):
                if isinstance(changed, Case):
                    self._seal_recorded(changed)
            return result, others

        return replace(command, decide=sealed)

    def _seal_recorded(self, case: Case) -> None:
        pending: list[Any] = case._pending_events  # recorded, not saved yet
        sealer: Sealer | None = None
        for index, event in enumerate(pending):
            changes: dict[str, Any] = {}
            context = getattr(event, "context", None)
            if isinstance(context, EventContext) and _unsealed_citizen(context.actor):
                sealer = sealer or self.sealer_of(case)
                actor = context.actor
                named = Actor(actor.kind, sealer.text(FIELD_ACTOR_ID, actor.id))
                changes["context"] = replace(context, actor=named)
            for kind, attribute, field in FREE_TEXTS:
                if type(event).__name__ != kind:
                    continue
                text = getattr(event, attribute, "")
                if text and not is_encrypted(text):
                    changes[attribute] = self._free_text(case, field, text)
            if changes:
                pending[index] = dataclasses.replace(event, **changes)
        rating = case.rating
        if rating is not None and rating.comment and not is_encrypted(rating.comment):
            # The state the rating's event gives when the case is loaded again (and snapshots).
            rated = [e for e in pending if type(e).__name__ == "AnswerRated"]
            if rated:
                case.rating = replace(rating, comment=rated[-1].comment)

    def _free_text(self, case: Case, field: str, text: str) -> str:
        """A free text sealed with the case's citizen's key; for an erased citizen, nothing: a
        command that adds no personal data (a status change) is still stored, without its
        text, since nothing of the person may be added to his case any more."""
        try:
            return self.sealer_of(case).text(field, text)
        except CitizenErased:
            return ""

    def open_text(self, case_id: str, field: str, value: str) -> str:
        """A sealed field in clear, on a command's thread (RepeatCase seals the original's
        citizen again for the new case); a text not sealed as it is."""
        if not value or not is_encrypted(value):
            return value
        recent = self._recent.text(value, case_id, field)
        if recent is not None:
            return recent
        header = _header(value)
        key = self._keys_call(case_id, self._bridge.key, header.subject, header.generation)
        return _decrypt(key, value, case_id, field)

    def forget_erased(self, subject: SubjectId) -> None:
        """An erasure announced: the texts of the subject's cases sealed here a moment ago are
        dropped from memory (recently_sealed.py), as the key cache drops his keys."""
        self._recent.forget(subject)

    def open_citizen(self, case_id: str, citizen: Citizen) -> Citizen:
        opened: dict[str, Any] = {f: self.open_text(case_id, citizen_field(f), getattr(citizen, f))
                                  for f in CITIZEN_FIELDS}  # fmt: skip
        return replace(citizen, **opened)

    def open_origin(self, case_id: str, origin: Origin) -> Origin:
        details = dict(origin.details)
        for name in ORIGIN_FIELDS:
            value = details.get(name)
            if isinstance(value, str):
                details[name] = self.open_text(case_id, origin_field(name), value)
        return replace(origin, details=details)

    # -- opening (on the event loop) ----------------------------------------------------------

    async def open(self, case_id: str, field: str, value: str) -> str:
        """A sealed field in clear, on the event loop that owns the key source (the gRPC
        edge); a text not sealed (stored with the setting off) as it is."""
        if not value or not is_encrypted(value):
            return value
        recent = self._recent.text(value, case_id, field)
        if recent is not None:
            return recent
        header = _header(value)
        try:
            key = await self.keys.key(header.subject, header.generation)
        except KeysError as error:
            raise refusal(case_id, error) from None
        return _decrypt(key, value, case_id, field)

    def _keys_call(self, case_id: str, call: Any, *args: Any) -> DataKey:
        try:
            key: DataKey = call(*args)
        except KeysError as error:
            raise refusal(case_id, error) from None
        except TimeoutError:
            raise PersonalDataUnavailable("the key service did not answer in time") from None
        return key


def _unsealed_citizen(actor: Actor) -> bool:
    """A citizen who acts, named by his login in clear (not sealed yet)."""
    return actor.kind is ActorKind.CITIZEN and bool(actor.id) and not is_encrypted(actor.id)


def _header(token: str) -> FieldHeader:
    try:
        return header_of(token)
    except FieldUnreadable as error:
        raise PersonalDataUnreadable(str(error)) from None


def _decrypt(key: DataKey, token: str, case_id: str, field: str) -> str:
    try:
        return decrypt_field(key, token, FieldContext(case_id, field))
    except FieldUnreadable as error:
        raise PersonalDataUnreadable(f"case {case_id}, field {field}: {error}") from None


def refusal(case_id: str, error: KeysError) -> CaseError:
    """The case application's refusal for a key library's error."""
    if isinstance(error, KeyErased):
        return CitizenErased(case_id, error.subject, error.erased_at)
    if isinstance(error, KeyUnavailable):
        return PersonalDataUnavailable(f"the citizen's key cannot be had now: {error}")
    if isinstance(error, KeyNotFound):
        return PersonalDataUnreadable(f"case {case_id}: a sealed field names a key that never was")
    return PersonalDataUnavailable(f"the key service refused: {error}")
