"""Operator-maintained corrections to the production calendar.

The Russian government publishes each year's transfers of days off by decree, sometimes after the
``holidays`` release a deployment ships with. The override file lets operators apply such a decree
without a release::

    # Decree of 2026-09-xx on transfers of days off in 2027
    holidays = [2027-01-11]          # extra non-working days
    working_days = [2027-02-20]      # extra working days (usually a Saturday)
    shortened_days = [2027-02-20]    # working days that end one hour earlier

Dates are TOML local dates. Shortened days are never inferred from override entries: decrees list
them, so the file lists them too. The file's SHA-256 is part of the calendar version recorded in
every SLA event, so a replay can tell which calendar it was computed with.
"""

import hashlib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from casedesk_deadlines.errors import CalendarOverrideError

_KEYS = ("holidays", "working_days", "shortened_days")


@dataclass(frozen=True)
class CalendarOverrides:
    holidays: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()
    shortened_days: frozenset[date] = frozenset()
    # First 12 hex digits of the file's SHA-256; None when there is no override file.
    digest: str | None = None

    def __post_init__(self) -> None:
        if clash := self.holidays & self.working_days:
            raise CalendarOverrideError(
                f"dates listed both as holidays and as working days: {_dates(clash)}"
            )
        if clash := self.holidays & self.shortened_days:
            raise CalendarOverrideError(
                f"dates listed both as holidays and as shortened working days: {_dates(clash)}"
            )

    @classmethod
    def from_file(cls, path: str | Path) -> "CalendarOverrides":
        path = Path(path)
        try:
            content = path.read_bytes()
        except OSError as error:
            raise CalendarOverrideError(
                f"cannot read calendar override file {path}: {error}"
            ) from error
        return cls.from_bytes(content, source=str(path))

    @classmethod
    def from_bytes(cls, content: bytes, source: str = "<override>") -> "CalendarOverrides":
        try:
            document = tomllib.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise CalendarOverrideError(f"{source}: not a valid TOML file: {error}") from error
        if unknown := sorted(set(document) - set(_KEYS)):
            raise CalendarOverrideError(
                f"{source}: unknown keys {unknown}; expected some of {list(_KEYS)}"
            )
        lists = {key: _date_list(document.get(key, []), key, source) for key in _KEYS}
        try:
            return cls(**lists, digest=hashlib.sha256(content).hexdigest()[:12])
        except CalendarOverrideError as error:
            raise CalendarOverrideError(f"{source}: {error}") from None

    @property
    def is_empty(self) -> bool:
        return not (self.holidays or self.working_days or self.shortened_days)


def _date_list(value: object, key: str, source: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise CalendarOverrideError(f"{source}: {key} must be a list of dates like 2027-01-11")
    for item in value:
        # A TOML offset/local datetime is a datetime (a date subclass): a time of day is a mistake.
        if not isinstance(item, date) or isinstance(item, datetime):
            raise CalendarOverrideError(
                f"{source}: {key} must hold bare TOML dates like 2027-01-11, got {item!r}"
            )
    return frozenset(value)


def _dates(days: Iterable[date]) -> str:
    return ", ".join(day.isoformat() for day in sorted(days))
