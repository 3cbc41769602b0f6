"""Moscow local time, the frame every calendar rule is written in.

Instants are converted to (local day ordinal, microseconds since local midnight) so calendar
arithmetic is plain integer arithmetic: exact, and fast enough for millions of deadlines.
Moscow has kept UTC+3 all year since 2014-10-26; for older dates a local day with a clock change
is still counted as 24 hours of calendar time, which is what the production calendar means.
"""

from datetime import datetime, timedelta

from casedesk_deadlines.errors import NaiveDatetimeError
from casedesk_vocabulary.moscow import MOSCOW

__all__ = ["MOSCOW"]  # re-exported: the library's callers have taken the zone from here
MICROSECOND = timedelta(microseconds=1)
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it names an instant; reject naive datetimes loudly."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.utcoffset() is None:  # naive, or a tzinfo that does not know its offset
        raise NaiveDatetimeError(
            f"{name} must be timezone-aware, got naive {value.isoformat()}; attach a zone, "
            "e.g. tzinfo=datetime.UTC or ZoneInfo('Europe/Moscow')"
        )
    return value


def to_local(instant: datetime) -> tuple[int, int, int]:
    """Split an aware instant into (Moscow year, day ordinal, microseconds since midnight)."""
    local = instant.astimezone(MOSCOW)
    micros = (local.hour * 3600 + local.minute * 60 + local.second) * 1_000_000 + local.microsecond
    return local.year, local.toordinal(), micros


def from_local(ordinal: int, micros: int) -> datetime:
    """Build the Moscow instant at ``micros`` after local midnight of day ``ordinal``.

    ``micros`` may equal a whole day: 24:00 of a day is 00:00 of the next one.
    """
    midnight = datetime.fromordinal(ordinal).replace(tzinfo=MOSCOW)
    return midnight + timedelta(microseconds=micros)


def duration_micros(amount: timedelta) -> int:
    """Exact integer microseconds of a duration (instants: casedesk_vocabulary.moscow)."""
    return amount // MICROSECOND
