"""Personal data, once sealed, stays sealed: a start with CASEDESK_SEAL_PERSONAL_DATA off on an
event store that holds sealed personal data is refused.

With sealing off the service opens nothing: it would hand the desk and intake `cdk1.` tokens in
place of citizens' names, SNILS and messages, and store new citizens in clear beside the sealed
ones (issue #18). Every start with sealing on marks the case index beside the events (the first
mark stays, with its time); a start with it off finds the mark and stops with a message naming
what to set. A store that was never sealed starts as before.
"""

from __future__ import annotations

from datetime import datetime

from casedesk_case.application.ports import CaseIndex


class SealingTurnedOff(Exception):
    def __init__(self, since: datetime) -> None:
        super().__init__(
            "CASEDESK_SEAL_PERSONAL_DATA is off, but this event store holds citizens' personal "
            f"data sealed since {since.isoformat(timespec='seconds')}: with it off the service "
            "would show tokens in place of their data and store new citizens in clear. Set "
            "CASEDESK_SEAL_PERSONAL_DATA=true again, with the key service's settings "
            '(services/case/README.md, "Sealed personal data")'
        )
        self.since = since


def check_sealing(index: CaseIndex, sealing: bool, now: datetime) -> None:
    """Mark the store sealed (sealing on), or refuse a start that turned sealing off."""
    if sealing:
        index.mark_sealed(now)
        return
    since = index.sealed_since()
    if since is not None:
        raise SealingTurnedOff(since)
