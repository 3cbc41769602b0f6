"""Search terms for identifiers, so the case index finds a citizen's cases by SNILS, phone or
e-mail without keeping any of them in clear.

A term is an HMAC of the normalised identifier under a key derived, per kind of identifier, from
the index key: the same SNILS typed "123-456-789 01" or "12345678901" gives one term, a phone
and a SNILS with the same digits give different ones, and nobody without the index key can test
a guess (a plain hash of a SNILS would fall to trying its 10^9 values).
"""

from __future__ import annotations

import hashlib
import hmac

from casedesk_keys.normalise import IdentifierKind, normalise
from casedesk_keys.subjects import IndexKey

TERM_BYTES = 16


class BlindIndex:
    def __init__(self, index_key: IndexKey) -> None:
        self._keys = {
            kind: index_key.derive(f"blind-index/{kind.value}") for kind in IdentifierKind
        }

    def term(self, kind: IdentifierKind, value: str) -> str:
        """The search term (32 hex digits) of an identifier as typed; InvalidIdentifier when it
        cannot be normalised."""
        normalised = normalise(kind, value)
        digest = hmac.new(self._keys[kind], normalised.encode(), hashlib.sha256).digest()
        return digest[:TERM_BYTES].hex()

    def snils(self, value: str) -> str:
        return self.term(IdentifierKind.SNILS, value)

    def phone(self, value: str) -> str:
        return self.term(IdentifierKind.PHONE, value)

    def email(self, value: str) -> str:
        return self.term(IdentifierKind.EMAIL, value)

    def inn(self, value: str) -> str:
        return self.term(IdentifierKind.INN, value)
