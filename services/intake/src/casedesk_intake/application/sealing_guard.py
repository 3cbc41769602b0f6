"""What intake keeps of citizens, once sealed, stays sealed: a start with
CASEDESK_SEAL_PERSONAL_DATA off on a store that holds sealed records is refused.

With sealing off intake opens nothing: a retried call's sealed reply would be unreadable
(INTERNAL), a sealed file DATA_LOSS, and new citizens' records and files would be kept in clear
beside the sealed ones (issue #18). Every start with sealing on marks the store (the first mark
stays, with its time); a start with it off finds the mark and stops, naming what to set. A
store that was never sealed starts as before.
"""

from __future__ import annotations

from datetime import UTC, datetime

from casedesk_intake.application.ports import IntakeStore


class SealingTurnedOff(Exception):
    def __init__(self, since: float) -> None:
        when = datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds")
        super().__init__(
            "CASEDESK_SEAL_PERSONAL_DATA is off, but intake's store holds citizens' records "
            f"sealed since {when}: with it off they could not be read and new ones would be kept "
            "in clear. Set CASEDESK_SEAL_PERSONAL_DATA=true again, with the key service's "
            "settings (services/intake/README.md)"
        )
        self.since = since


async def check_sealing(store: IntakeStore, sealing: bool, now: float) -> None:
    """Mark the store sealed (sealing on), or refuse a start that turned sealing off."""
    if sealing:
        await store.mark_sealed(now)
        return
    since = await store.sealed_since()
    if since is not None:
        raise SealingTurnedOff(since)
