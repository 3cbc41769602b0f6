"""Instants as integer microseconds since the Unix epoch (UTC), and durations likewise.

A million open clocks keep their instants in `array('q')` columns, so the clock state uses plain
integers; datetimes appear only where the deadline library does calendar arithmetic and at the
wire. Microseconds keep every instant exact, so a replay derives the same event ids. The instant
conversions are the vocabulary's (casedesk_vocabulary.moscow); durations are the clocks' own.
"""

from __future__ import annotations

from datetime import timedelta

from casedesk_vocabulary.moscow import Micros, from_micros, to_micros

__all__ = ["Micros", "duration_micros", "from_micros", "micros_duration", "to_micros"]

_MICROSECOND = timedelta(microseconds=1)


def duration_micros(amount: timedelta) -> Micros:
    return amount // _MICROSECOND


def micros_duration(micros: Micros) -> timedelta:
    return timedelta(microseconds=micros)
