"""Following a citizen's own case (WatchMyCase): which of its events change what he sees, and how
long one stream may last.

He sees the status, the public comments (his and support's) and his rating (replies.CitizenCase);
internal notes, assignments, escalations between tiers, attachments' metadata and links never
show. So only the events below are sent on, each as the case right after it.

A frontend cannot pin streams forever: one ends cleanly after `idle_s` without a change sent, and
at the latest `max_s` after it began (the frontend watches again after the last version it got,
missing nothing); it ends refused when the proof it was opened with expires (a citizen's or an
operator's token), since whoever holds an expired token is no longer known to be the citizen.
"""

from __future__ import annotations

from dataclasses import dataclass

# The case events (by their name in case.events.v1) that change what the citizen sees; a comment
# only when public.
_SEEN_EVENTS = frozenset({"status_changed", "answer_rated"})
_COMMENT = "commented"


def citizen_sees(event: str, public: bool = False) -> bool:
    """Whether an event named `event` (a comment: `public`) changes the citizen's view."""
    return event in _SEEN_EVENTS or (event == _COMMENT and public)


@dataclass(frozen=True)
class WatchLimits:
    """Settings `watch_my_case_idle_s` and `watch_my_case_max_s`."""

    idle_s: float = 600.0
    max_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.idle_s <= 0 or self.max_s <= 0:
            raise ValueError("WatchMyCase's idle time and lifetime must be positive")


class StreamLifetime:
    """When one stream ends, on a monotonic clock in seconds: `idle_s` after it last sent a
    change (or began), at the latest `max_s` after it began, or when the proof ends
    (`proof_ends`, None: a proof that does not expire while the stream lasts)."""

    def __init__(self, limits: WatchLimits, began: float, proof_ends: float | None) -> None:
        self._idle_s = limits.idle_s
        self._ends_at = began + limits.max_s
        self._proof_ends = proof_ends
        self._quiet_until = min(began + limits.idle_s, self._ends_at)

    def sent(self, now: float) -> None:
        self._quiet_until = min(now + self._idle_s, self._ends_at)

    def seconds_left(self, now: float) -> float:
        ends = self._quiet_until
        if self._proof_ends is not None:
            ends = min(ends, self._proof_ends)
        return max(0.0, ends - now)

    def proof_expired(self, now: float) -> bool:
        return self._proof_ends is not None and now >= self._proof_ends
