"""What this process sealed a moment ago, so that it need not decrypt it again (issue #18).

A new case's fields are sealed as the command is decided (personal_data.py), and within
milliseconds the same process opens them again twice: the command's reply is opened for its
caller (wire/personal.py) and the case index's projector opens the citizen for his search terms
(search_terms.py). Each opening parses the token and decrypts it, about a quarter of what sealing
added to a create. The sealer remembers each token it made with its text and place, for the last
`capacity` tokens; an opening that finds its token here, at the same place, takes the text.

It changes nothing that a reader sees: a token is unique (a random nonce), so its text is exactly
what decrypting it gives; it is taken only at the place it was sealed for (a token copied
elsewhere is decrypted, and fails, as before); and only while the key cache still holds the key
that opens it (`KeyOpens`: an erased or forgotten key sends the opening the long way, which
refuses or fetches as it always did). The texts stay in this process's memory, where the command
that carried them has just been: bounded in number, never written anywhere, and an erased
citizen's are dropped as the key service announces his erasure (`forget`, on the process's
erasure stream beside the key cache's own listener: the case service's __main__).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # casedesk_keys is imported only when sealing is on
    from casedesk_keys import SubjectId

# About two seconds of new cases at 1,000/s with eight sealed fields each: the reply is opened at
# once and the projector follows within its batch, well inside that.
DEFAULT_CAPACITY = 16_384


@dataclass(frozen=True, slots=True)
class Sealed:
    """A token's text, the place it was sealed for, and whose key opens it."""

    text: str
    case_id: str
    field: str
    subject: SubjectId
    generation: int


# Whether the key of (subject, generation) is at hand now, without a fetch, and not erased.
KeyOpens = Callable[["SubjectId", int], bool]


class RecentlySealed:
    """Token → its text, for the last `capacity` tokens sealed; safe from any thread."""

    def __init__(self, key_opens: KeyOpens, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("room for one token at least")
        self._key_opens = key_opens
        self._capacity = capacity
        self._tokens: OrderedDict[str, Sealed] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tokens)

    def remember(self, token: str, sealed: Sealed) -> None:
        """Keep the token's text, unless its key no longer opens: an erasure announced between
        the seal and now (the key cache forgets the key before `forget` runs, and `forget` waits
        for this lock) leaves nothing of the erased citizen behind."""
        with self._lock:
            if not self._key_opens(sealed.subject, sealed.generation):
                return
            self._tokens[token] = sealed
            if len(self._tokens) > self._capacity:
                self._tokens.popitem(last=False)

    def forget(self, subject: SubjectId) -> int:
        """Drop the subject's texts (his erasure); returns how many were held."""
        with self._lock:
            gone = [t for t, sealed in self._tokens.items() if sealed.subject == subject]
            for token in gone:
                del self._tokens[token]
        return len(gone)

    def text(self, token: str, case_id: str, field: str) -> str | None:
        """The token's text if it was sealed here for this place and its key is at hand; None:
        open it as any other."""
        sealed = self._tokens.get(token)
        if sealed is None or sealed.case_id != case_id or sealed.field != field:
            return None
        if not self._key_opens(sealed.subject, sealed.generation):
            with self._lock:  # erased or forgotten: its text is of no more use here
                self._tokens.pop(token, None)
            return None
        return sealed.text
