"""What became of a notice to a citizen, as notify journals it on notification.events.v1 and its
readers name it: the case timeline (the desk's case page) and the replay tool's journal.

Besides the provider's answers (`sent`, `failed`, `dead_lettered`), notify decides some notices
itself: it *holds* one while the recipient's window is full, and ends one without a message of
its own when a later status notice *supersedes* it, when it is *suppressed* (beyond the cap of
held notices, or its citizen was erased), or when a reply's notice is *merged* into the status
notice that followed it. None of these is a failure to deliver, and a reader that counted them
so would tell a specialist that a citizen was not told, or an analyst that the gateway failed.

Journals written before the topic had payloads for the decisions carry them as `failed`, with
the decision's words first in the error (`held: ...`): `legacy_decision` recognises those.
"""

from __future__ import annotations

SENT = "sent"
FAILED = "failed"
DEAD_LETTERED = "dead_lettered"
HELD = "held"
SUPERSEDED = "superseded"
SUPPRESSED = "suppressed"
MERGED = "merged"

# notify's own decisions, as the payloads of notification.events.v1 name them.
DECISIONS = (HELD, SUPERSEDED, SUPPRESSED, MERGED)
# The kinds a reader reports (`requested` only announces an attempt).
REPORTED = (SENT, FAILED, DEAD_LETTERED, *DECISIONS)

# How each decision's reason began while it travelled as `failed` (notify's words, fixed then).
_LEGACY_PREFIXES = (
    ("held: ", HELD),
    ("superseded by ", SUPERSEDED),
    ("suppressed: ", SUPPRESSED),
    ("citizen erased", SUPPRESSED),
    ("merged into ", MERGED),
)


def legacy_decision(error: str) -> str | None:
    """The decision an old `failed` entry records, by its error's first words; None for a real
    failure."""
    for prefix, decision in _LEGACY_PREFIXES:
        if error.startswith(prefix):
            return decision
    return None
