"""SLA policies: which target each channel has, and the policy file format.

A policy file (shipped as ``policies/<version>.toml``)::

    version = "2023.1"
    calendar = "RU"
    warning_fraction = 0.8
    description = "..."

    [channels.EMAIL]
    first_response = { unit = "working_day_hours", hours = 24 }
    resolution = { unit = "working_days", days = 3 }

    [categories.REGISTRATION_SIGN_IN]
    resolution = { unit = "wall_clock", hours = 24 }

Amounts are whole ``days``, ``hours``, ``minutes`` and ``seconds`` (any combination). A channel
without ``first_response`` has no first-response target (MFC cases are served at the desk); every
channel must have a ``resolution``. Channel names are the protobuf ``Channel`` enum names.

A category's targets (optional; names are the vocabulary's ``Category`` names) hold whatever the
channel: a case of that category is due by the category's target unless its channel's own target
is sooner. "Sooner" must be decidable without a date, so a category target is on the wall clock,
and it gives way only to a wall-clock channel target that is not longer (chat's 2 h stays 2 h);
a channel target in any other unit is replaced. A category target never adds a target the channel
does not have (MFC still has no first response).
"""

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import TypeVar

from casedesk_deadlines.calendar import ProductionCalendar, calendar_named
from casedesk_deadlines.errors import NoTargetError, PolicyFormatError, UnknownChannelError
from casedesk_deadlines.targets import Target, TargetKind, Unit
from casedesk_vocabulary.enums import Category

_CHANNEL = re.compile(r"[A-Z][A-Z0-9_]*")
_AMOUNT_FIELDS = ("days", "hours", "minutes", "seconds")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Policy:
    version: str
    description: str
    calendar: ProductionCalendar
    targets: Mapping[str, Mapping[TargetKind, Target]]  # channel -> kind -> target
    category_targets: Mapping[str, Mapping[TargetKind, Target]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def calendar_version(self) -> str:
        return self.calendar.version

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.targets)

    def find_target(
        self, channel: str, kind: TargetKind | str, category: str | None = None
    ) -> Target | None:
        """The target of this kind for a case of the channel (and category), or None when the
        policy sets none."""
        by_kind = self.targets.get(channel)
        if by_kind is None:
            raise self.unknown_channel(channel)
        kind = TargetKind(kind)
        own = by_kind.get(kind)
        overriding = self.category_targets.get(category or "", {}).get(kind)
        if own is None or overriding is None:
            return own
        if own.unit is Unit.WALL_CLOCK and own.amount <= overriding.amount:
            return own
        return overriding

    def unknown_channel(self, channel: str) -> UnknownChannelError:
        return UnknownChannelError(
            f"policy {self.version} has no targets for channel {channel!r}; "
            f"known channels: {', '.join(self.targets)}"
        )

    def target(self, channel: str, kind: TargetKind | str, category: str | None = None) -> Target:
        target = self.find_target(channel, kind, category)
        if target is None:
            raise NoTargetError(f"policy {self.version} sets no {kind} target for {channel}")
        return target


def parse_policy(text: str, calendar: ProductionCalendar | None = None) -> Policy:
    """Build a policy from the text of a policy file (the format in this module's docstring)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyFormatError(f"policy file is not valid TOML: {error}") from error
    version = _require(document, "version", str, "policy")
    source = f"policy {version}"
    calendar_name = _require(document, "calendar", str, source)
    if calendar is None:
        calendar = calendar_named(calendar_name)
    elif calendar.name != calendar_name:
        raise PolicyFormatError(f"{source} needs calendar {calendar_name}, got {calendar.name}")
    fraction = document.get("warning_fraction", 0.8)
    if type(fraction) not in (float, int) or not 0 < fraction < 1:
        raise PolicyFormatError(f"{source}: warning_fraction must be a number in (0, 1)")
    channels = _require(document, "channels", dict, source)
    if bad := [channel for channel in channels if not _CHANNEL.fullmatch(channel)]:
        raise PolicyFormatError(f"{source}: channel names must be enum names, got {bad}")
    targets = {
        channel: _channel_targets(table, calendar, float(fraction), f"{source}, {channel}")
        for channel, table in channels.items()
    }
    return Policy(
        version=version,
        description=str(document.get("description", "")),
        calendar=calendar,
        targets=MappingProxyType(targets),
        category_targets=_category_targets(document, calendar, float(fraction), source),
    )


def _category_targets(
    document: Mapping[str, object], calendar: ProductionCalendar, fraction: float, source: str
) -> Mapping[str, Mapping[TargetKind, Target]]:
    categories = document.get("categories", {})
    if not isinstance(categories, dict):
        raise PolicyFormatError(f"{source}: categories must be a table")
    known = {category.value for category in Category}
    if unknown := sorted(set(categories) - known):
        raise PolicyFormatError(
            f"{source}: unknown categories {unknown}; expected some of {sorted(known)}"
        )
    parsed = {}
    for name, table in categories.items():
        where = f"{source}, category {name}"
        if not isinstance(table, dict):
            raise PolicyFormatError(f"{where}: expected a table of targets")
        targets = _targets(table, calendar, fraction, where)
        if late := [
            kind.value.lower() for kind, t in targets.items() if t.unit is not Unit.WALL_CLOCK
        ]:
            raise PolicyFormatError(f"{where}: {late} must be on the wall clock")
        parsed[name] = targets
    return MappingProxyType(parsed)


def _channel_targets(
    table: object, calendar: ProductionCalendar, fraction: float, source: str
) -> Mapping[TargetKind, Target]:
    if not isinstance(table, dict):
        raise PolicyFormatError(f"{source}: expected a table of targets")
    targets = _targets(table, calendar, fraction, source)
    if TargetKind.RESOLUTION not in targets:
        raise PolicyFormatError(f"{source}: every channel needs a resolution target")
    return targets


def _targets(
    table: dict[str, object], calendar: ProductionCalendar, fraction: float, source: str
) -> Mapping[TargetKind, Target]:
    kinds = {kind.value.lower(): kind for kind in TargetKind}
    if unknown := sorted(set(table) - set(kinds)):
        raise PolicyFormatError(f"{source}: unknown targets {unknown}; expected {sorted(kinds)}")
    return MappingProxyType(
        {
            kinds[key]: _target(spec, calendar, fraction, f"{source}.{key}")
            for key, spec in table.items()
        }
    )


def _target(spec: object, calendar: ProductionCalendar, fraction: float, source: str) -> Target:
    if not isinstance(spec, dict):
        raise PolicyFormatError(f"{source}: expected {{ unit = ..., hours = ... }}")
    try:
        unit = Unit(_require(spec, "unit", str, source))
    except ValueError:
        raise PolicyFormatError(
            f"{source}: unit must be one of {[unit.value for unit in Unit]}"
        ) from None
    if unknown := sorted(set(spec) - {"unit", *_AMOUNT_FIELDS}):
        raise PolicyFormatError(f"{source}: unknown fields {unknown}")
    parts = {name: spec.get(name, 0) for name in _AMOUNT_FIELDS}
    if any(type(value) is not int or value < 0 for value in parts.values()):
        raise PolicyFormatError(f"{source}: amounts must be non-negative whole numbers")
    if unit is Unit.WORKING_DAYS and any(parts[name] for name in _AMOUNT_FIELDS[1:]):
        raise PolicyFormatError(f"{source}: a working_days target counts whole days only")
    try:
        return Target(unit, timedelta(**parts), calendar, fraction)
    except ValueError as error:
        raise PolicyFormatError(f"{source}: {error}") from None


def _require(document: Mapping[str, object], key: str, kind: type[_T], source: str) -> _T:
    value = document.get(key)
    if not isinstance(value, kind):
        raise PolicyFormatError(f"{source}: {key} must be a {kind.__name__}")
    return value
