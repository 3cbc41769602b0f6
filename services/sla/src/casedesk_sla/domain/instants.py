"""Instants as integer microseconds since the Unix epoch (UTC).

A million open clocks keep their instants in `array('q')` columns, so the clock state uses plain
integers; datetimes appear only where the deadline library does calendar arithmetic and at the
wire. Microseconds keep every instant exact, so a replay derives the same event ids.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

Micros = int

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> Micros:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every instant in Casedesk is timezone-aware")
    # Field arithmetic: exact, and cheaper than dividing one timedelta by another.
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: Micros) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def duration_micros(amount: timedelta) -> Micros:
    return amount // _MICROSECOND


def micros_duration(micros: Micros) -> timedelta:
    return timedelta(microseconds=micros)
