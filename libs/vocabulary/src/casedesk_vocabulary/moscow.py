"""Moscow time, the frame of every deadline and every time a citizen reads, and instant codecs.

Instants travel and are stored as integer microseconds since the Unix epoch (UTC): exact, cheap
to compare, and what protobuf Timestamps and the stores hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MOSCOW = ZoneInfo("Europe/Moscow")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Micros = int


def to_micros(moment: datetime) -> Micros:
    """Microseconds since the epoch of an aware instant (exact: no float on the way)."""
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime names no instant: {moment.isoformat()}")
    # Field arithmetic: exact, and about four times cheaper than dividing one timedelta by
    # another (the SLA service converts millions of instants).
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: Micros) -> datetime:
    """The UTC instant `micros` microseconds after the epoch."""
    return EPOCH + timedelta(microseconds=micros)


def in_moscow(moment: datetime) -> datetime:
    return moment.astimezone(MOSCOW)
