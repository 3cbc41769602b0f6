"""Loading the escalation policy from its TOML file (the packaged one unless configured).

Every mistake in a policy file is reported at start with the key that is wrong, so a bad rollout
stops the process instead of escalating by a half-understood policy.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from casedesk_escalation.domain.policy import EscalationPolicy, EscalationRule
from casedesk_escalation.domain.triggers import REASONS
from casedesk_vocabulary.enums import Channel, EscalationReason, Priority, Status, Tier

PACKAGED_POLICY = "escalation-v1.toml"
E = TypeVar("E", EscalationReason, Tier, Channel, Priority, Status)


class PolicyError(ValueError):
    """The policy file is missing, unreadable or says something this service cannot apply."""


def load_policy(path: str | Path | None = None) -> EscalationPolicy:
    if path is None:
        text = resources.files("casedesk_escalation.policies").joinpath(PACKAGED_POLICY)
        source, raw = f"packaged {PACKAGED_POLICY}", text.read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"cannot read escalation policy {source}: {exc.strerror}") from None
    try:
        document = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"escalation policy {source} is not valid TOML: {exc}") from None
    try:
        return parse_policy(document)
    except PolicyError as exc:
        raise PolicyError(f"escalation policy {source}: {exc}") from None


def parse_policy(document: dict[str, Any]) -> EscalationPolicy:
    version = document.get("version")
    if not isinstance(version, str) or not version:
        raise PolicyError("`version` must be a non-empty string")
    cooldown = document.get("cooldown_seconds", 0)
    if not isinstance(cooldown, int | float) or cooldown < 0:
        raise PolicyError("`cooldown_seconds` must be a number >= 0")
    rules_table = document.get("rules")
    if not isinstance(rules_table, dict) or not rules_table:
        raise PolicyError("`rules` must be a table with one sub-table per escalation reason")
    rules = {}
    for name, table in rules_table.items():
        reason = _member(EscalationReason, name, "rules", REASONS)
        rules[reason] = _rule(reason, table)
    return EscalationPolicy(
        version=version,
        rules=rules,
        cooldown=timedelta(seconds=cooldown),
        callback_channels=frozenset(
            _member(Channel, c, "callback_channels") for c in document.get("callback_channels", [])
        ),
        highest_tier=_member(Tier, document.get("highest_tier", "L3"), "highest_tier"),
    )


def _rule(reason: EscalationReason, table: Any) -> EscalationRule:
    where = f"rules.{reason.value}"
    if not isinstance(table, dict):
        raise PolicyError(f"`{where}` must be a table")
    unknown = set(table) - {"to_tier", "priority", "requires_breach", "requires_status"}
    if unknown:
        raise PolicyError(f"`{where}` has unknown keys: {', '.join(sorted(unknown))}")
    to_tier = table.get("to_tier", "next")
    priority = table.get("priority")
    requires_breach = table.get("requires_breach", False)
    if not isinstance(requires_breach, bool):
        raise PolicyError(f"`{where}.requires_breach` must be true or false")
    return EscalationRule(
        reason=reason,
        to_tier=None if to_tier == "next" else _member(Tier, to_tier, f"{where}.to_tier"),
        priority=None if priority is None else _member(Priority, priority, f"{where}.priority"),
        requires_breach=requires_breach,
        requires_status=frozenset(
            _member(Status, s, f"{where}.requires_status") for s in table.get("requires_status", [])
        ),
    )


def _member(kind: type[E], name: Any, where: str, members: tuple[E, ...] | None = None) -> E:
    """The member of `kind` named `name`, among `members` (default: all of them)."""
    allowed = members if members is not None else tuple(kind)
    try:
        member = kind[name]
    except (KeyError, TypeError):
        member = None
    if member is None or member not in allowed:
        names = ", ".join(m.name for m in allowed)
        raise PolicyError(f"`{where}`: {name!r} is not one of {names}")
    return member
