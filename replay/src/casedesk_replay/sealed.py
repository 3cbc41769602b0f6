"""Sealed personal data (issue #18): what the replay shows where a log holds a token.

With `CASEDESK_SEAL_PERSONAL_DATA` on, the case service writes citizens' personal fields and the
free texts of its events as `casedesk_keys` tokens (`cdk1.…`). The replay has no keys and gets
none: it never opens a token, and never shows one as if it were a text (a masked token would
read as a masked value: `c***` for a login, `+***4f` for a phone). Where a field holds a token
it shows `SEALED` instead; what it counts (statuses, times, channels, tiers, categories, queues,
scores) is never sealed, so a sealed log counts exactly as the same log in clear.

Only the token's prefix is known here (`casedesk_vocabulary.sealed_fields`), not its format.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from casedesk_vocabulary.sealed_fields import TOKEN_PREFIX

# Shown in place of a sealed field's value: not a value any field could hold masked.
SEALED = "[sealed]"

# A token inside a longer text (an error message quoting a field): the prefix, not glued to a
# word before it, and the unpadded base64url that follows.
_TOKEN_IN_TEXT = re.compile(rf"(?<![\w.-]){re.escape(TOKEN_PREFIX)}[A-Za-z0-9_-]*")


def is_sealed(value: str) -> bool:
    """Whether a field's value is a token (the case service seals a field whole)."""
    return value.startswith(TOKEN_PREFIX)


def shown(value: str, mask: Callable[[str], str]) -> str:
    """A personal field as the replay shows it: empty stays empty, a token is `SEALED`, a
    value in clear is masked by `mask`."""
    if not value:
        return ""
    return SEALED if is_sealed(value) else mask(value)


def without_tokens(text: str) -> str:
    """A free text with every token in it replaced by `SEALED` (to be masked after)."""
    return _TOKEN_IN_TEXT.sub(SEALED, text) if TOKEN_PREFIX in text else text


__all__ = ["SEALED", "is_sealed", "shown", "without_tokens"]
