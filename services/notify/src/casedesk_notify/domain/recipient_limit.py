"""The per-recipient limit: at most `limit` notices to one phone number or e-mail address in any
`window_s` seconds (a sliding window), whatever case they are about.

Intake lets anybody open a case and name any phone number, so without it a script opening cases
(or a case flapping between statuses) sends one person a stream of SMS at the service's expense.
The dispatcher asks `wait` before a delivery's first attempt; what cannot go now is held until the
window has room, and `hold` caps how many notices one recipient may have waiting.

Only the last `limit` instants per recipient are kept (enough to decide a sliding window exactly),
and a recipient is forgotten once its newest notice has left the window. State lives in memory: a
restart forgets the windows (restarts are rare; the worst case is one more window's worth).
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict

from casedesk_notify.domain.case_card import DeliveryChannel


def recipient_key(channel: DeliveryChannel, recipient: str) -> str:
    """One key per person's address, however it was written (`+7 (916) 123-45-67` and
    `+79161234567` are one phone; e-mail addresses compare case-insensitively, as mail systems
    treat them in practice)."""
    if channel is DeliveryChannel.SMS:
        return "sms:" + "".join(ch for ch in recipient if ch.isdigit())
    if channel is DeliveryChannel.SOCIAL:
        return "social:" + recipient  # one post or private conversation
    return "email:" + unicodedata.normalize("NFC", recipient).strip().casefold()


class RecipientLimit:
    def __init__(self, limit: int, window_s: float, hold_max: int) -> None:
        if limit < 0 or window_s <= 0 or hold_max < 0:
            raise ValueError("a recipient limit needs limit >= 0, window_s > 0, hold_max >= 0")
        self.limit = limit  # 0: no limit
        self.window_s = window_s
        self.hold_max = hold_max
        # key -> the instants of its last `limit` notices, oldest first; keys ordered by their
        # newest notice, so the expired ones are at the front.
        self._sent: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._held: dict[str, int] = {}

    def wait(self, key: str, now: float) -> float:
        """Seconds until a notice to `key` may go (0: now)."""
        if self.limit == 0:
            return 0.0
        sent = self._sent.get(key, ())
        if len(sent) < self.limit:
            return 0.0
        return max(sent[0] + self.window_s - now, 0.0)

    def record(self, key: str, now: float) -> None:
        """A notice to `key` goes out now (counted once per delivery, not per attempt)."""
        if self.limit == 0:
            return
        self._forget_before(now - self.window_s)
        sent = self._sent.pop(key, ())
        self._sent[key] = (*sent, now)[-self.limit :]

    def hold(self, key: str) -> bool:
        """Count one more notice waiting for `key`; False when `hold_max` are waiting already."""
        held = self._held.get(key, 0)
        if held >= self.hold_max:
            return False
        self._held[key] = held + 1
        return True

    def release(self, key: str) -> None:
        """A notice to `key` stopped waiting (sent, merged, or its lane stopped)."""
        held = self._held.get(key, 0) - 1
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)

    def tracked(self) -> int:
        """How many recipients are remembered (for tests of the memory bound)."""
        return len(self._sent)

    def _forget_before(self, horizon: float) -> None:
        while self._sent:
            key, sent = next(iter(self._sent.items()))
            if sent[-1] > horizon:
                return
            del self._sent[key]
