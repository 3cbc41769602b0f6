"""Search terms: finding a citizen's cases by SNILS, phone or e-mail without keeping any of them in
clear (issue #18, "Search without plaintext").

A term is casedesk_keys' `BlindIndex` keyed hash of the normalised identifier (a key derived per
kind from the index key), so the case index holds 32 hex digits per identifier and nobody
without the index key can test a guess. The projector computes a new case's terms from its
citizen as recorded: in clear with CASEDESK_SEAL_PERSONAL_DATA off; sealed, opened with the
citizen's key (application/personal_data.py) while it exists. An erased citizen's identifiers
cannot be opened: his cases get no terms when the index is rebuilt. The terms are never put in
an event: events are kept forever, an erased citizen's terms would stay with them.

Each term names whose key sealed the citizen (subject and generation: the tokens' header; for a
citizen in clear, the subject sealing would use and generation 0), so that when the key service
announces the erasure of that key the case index deletes the term at once
(adapters/erased_terms.py), not only at the next rebuild.

Imported only where the index key is configured (casedesk_keys is needed).
"""

from __future__ import annotations

from collections.abc import Callable

from casedesk_case.application.personal_fields import (
    CITIZEN_FIELDS,
    CitizenErased,
    PersonalDataUnreadable,
)
from casedesk_case.application.views import CaseTerm
from casedesk_case.domain.errors import InvalidCommand
from casedesk_case.domain.values import Citizen
from casedesk_keys import (
    BlindIndex,
    CitizenIdentity,
    FieldUnreadable,
    IndexKey,
    InvalidIdentifier,
    Subjects,
    header_of,
    is_encrypted,
)
from casedesk_keys.normalise import IdentifierKind

# The identifiers a case is found by: (the index's kind, the citizen's field, the library's kind).
SEARCHED: tuple[tuple[str, str, IdentifierKind], ...] = (
    ("SNILS", "snils", IdentifierKind.SNILS),
    ("PHONE", "mobile_phone", IdentifierKind.PHONE),
    ("EMAIL", "email", IdentifierKind.EMAIL),
)
_KINDS = {kind: library for kind, _, library in SEARCHED}


def index_key_from_env() -> IndexKey:
    """The index key CASEDESK_KEYS_INDEX_KEY_FILE names (KeysSettingsError, a ValueError, when
    it is missing or bad)."""
    from casedesk_keys.settings import KeysSettings
    from casedesk_keys.wiring import load_index_key

    return load_index_key(KeysSettings.from_env())


class SearchTerms:
    """Terms of a case's citizen (for the projector) and of a lookup (for ListCases).

    `open_citizen(case_id, citizen)`: the citizen with his sealed fields opened (PersonalData's,
    with sealing on); None: the fields are in clear.
    """

    def __init__(
        self,
        index_key: IndexKey,
        open_citizen: Callable[[str, Citizen], Citizen] | None = None,
    ) -> None:
        self._blind = BlindIndex(index_key)
        self._subjects = Subjects(index_key)
        self._open = open_citizen

    def of_citizen(self, case_id: str, citizen: Citizen) -> list[CaseTerm]:
        """The terms of the identifiers the citizen has that normalise; none for an erased
        citizen. Raises when his key cannot be had now (the projector tries again)."""
        subject, generation = self.key_of(citizen)
        if self._open is not None:
            try:
                citizen = self._open(case_id, citizen)
            except (CitizenErased, PersonalDataUnreadable):
                return []  # erased, or a token that never opens: nothing to find the case by
        terms = []
        for kind, field, library_kind in SEARCHED:
            value = getattr(citizen, field)
            if not value:
                continue
            try:
                term = self._blind.term(library_kind, value)
                terms.append(CaseTerm(case_id, kind, term, subject, generation))
            except InvalidIdentifier:
                continue  # stored as sent, not an identifier of its kind: nothing to find it by
        return terms

    def key_of(self, citizen: Citizen) -> tuple[str, int]:
        """Whose key sealed the citizen as recorded: the subject and generation his first sealed
        field names; in clear, the subject sealing would file him under (the strongest
        identifier, as PersonalData.subject_of) and generation 0, which any erasure of that
        subject covers; ('', 0) when neither can be told (then only a rebuild removes them)."""
        for name in CITIZEN_FIELDS:
            value = getattr(citizen, name)
            if value and is_encrypted(value):
                try:
                    header = header_of(value)
                except FieldUnreadable:
                    return "", 0
                return str(header.subject), header.generation
        identity = CitizenIdentity(
            login=citizen.account_login, snils=citizen.snils, inn=citizen.inn,
            email=citizen.email, phone=citizen.mobile_phone,
        )  # fmt: skip
        try:
            return str(self._subjects.of(identity)), 0
        except InvalidIdentifier:
            return "", 0

    def lookup(self, kind: str, value: str) -> str:
        """The term a ListCases lookup looks for; InvalidCommand naming `citizen.value` when the
        value is not an identifier of its kind (the reason names the rule, never the value)."""
        try:
            return self._blind.term(_KINDS[kind], value)
        except InvalidIdentifier as error:
            raise InvalidCommand("citizen.value", str(error)) from None
