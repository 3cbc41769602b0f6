"""The Authentication-Results header field (RFC 8601): who checked the message, and the results.

`mx.gov.example 1; spf=pass smtp.mailfrom=example.ru; dkim=fail (bad sig) header.d=example.ru;
dmarc=fail (p=reject) header.from=example.ru` -> ("mx.gov.example", {"spf": {"pass"},
"dkim": {"fail"}, "dmarc": {"fail"}}). Anyone can write this field, so a result means something
only under the authserv-id of a server one trusts (mail_rules.py decides which).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_INNERMOST_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"([a-z0-9_-]+)(?:\s*/\s*\d+)?\s*=\s*([a-z0-9_-]+)")
# Nested comments are removed from the inside out, each round one level; real ones nest once.
_COMMENT_ROUNDS = 8


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    results: dict[str, frozenset[str]] = field(default_factory=dict)  # method -> results

    def says(self, method: str, result: str) -> bool:
        return result in self.results.get(method, frozenset())


def parse_authentication_results(value: str) -> AuthenticationResults | None:
    """The field's authserv-id and its method results; None when it names no authserv-id."""
    text = _QUOTED.sub('""', value.lower())
    for _ in range(_COMMENT_ROUNDS):
        text, removed = _INNERMOST_COMMENT.subn(" ", text)
        if not removed:
            break
    head, *resinfos = text.split(";")
    words = head.split()
    if not words:
        return None
    found: dict[str, set[str]] = {}
    for resinfo in resinfos:
        # A resinfo starts with its method's result; what follows are its properties.
        matched = _RESULT.match(resinfo.strip())
        if matched:
            found.setdefault(matched.group(1), set()).add(matched.group(2))
    return AuthenticationResults(words[0], {m: frozenset(r) for m, r in found.items()})
