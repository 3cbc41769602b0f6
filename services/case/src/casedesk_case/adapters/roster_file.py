"""Loading the roster (specialists, queues, tiers) from a TOML file.

The file is validated as a whole so that a deployment with a typo fails at start-up with every
problem listed, instead of misrouting cases later.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from casedesk_case.domain.assignment import DEFAULT_ROUTE, Roster, Specialist
from casedesk_case.domain.values import Category, Tier


class RosterError(ValueError):
    """The roster file is unusable; the message lists every problem found."""


def load_roster(path: Path | str | None = None) -> Roster:
    """Read the roster at `path`, or the default shipped with the package when None."""
    if path is None:
        text = resources.files("casedesk_case").joinpath("roster.toml").read_text("utf-8")
        source = "built-in roster.toml"
    else:
        text = Path(path).read_text("utf-8")
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RosterError(f"{source}: not valid TOML: {error}") from error
    return parse_roster(data, source)


def parse_roster(data: Mapping[str, Any], source: str = "roster") -> Roster:
    problems: list[str] = []
    routes = _parse_routes(data.get("routes", {}), problems)
    specialists = _parse_specialists(data.get("specialists", []), problems)
    ids = [s.id for s in specialists]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"specialist id {duplicate!r} appears more than once")
    if problems:
        raise RosterError(f"{source}: " + "; ".join(problems))
    return Roster(specialists=tuple(specialists), routes=routes)


def _parse_routes(raw: Any, problems: list[str]) -> dict[Tier, dict[str, str]]:
    routes: dict[Tier, dict[str, str]] = {}
    if not isinstance(raw, dict):
        problems.append("[routes] must be a table")
        return routes
    known = {c.value for c in Category} | {DEFAULT_ROUTE}
    for tier in Tier:
        table = raw.get(tier.value)
        if not isinstance(table, dict):
            problems.append(f"[routes.{tier.value}] is missing")
            continue
        for key, queue in table.items():
            if key not in known:
                problems.append(f"[routes.{tier.value}] has unknown category {key!r}")
            elif not isinstance(queue, str) or not queue:
                problems.append(f"[routes.{tier.value}] {key} must name a queue")
        uncovered = [c.value for c in Category if c.value not in table]
        if uncovered and DEFAULT_ROUTE not in table:
            problems.append(f"[routes.{tier.value}] has no queue for {', '.join(uncovered)}")
        routes[tier] = {str(k): str(v) for k, v in table.items()}
    for extra in sorted(set(raw) - {t.value for t in Tier}):
        problems.append(f"[routes.{extra}] is not a tier (expected L1, L2, L3)")
    return routes


def _parse_specialists(raw: Any, problems: list[str]) -> list[Specialist]:
    specialists: list[Specialist] = []
    if not isinstance(raw, list):
        problems.append("[[specialists]] must be an array of tables")
        return specialists
    for position, entry in enumerate(raw, start=1):
        where = f"specialist #{position}"
        spec_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(spec_id, str) or not spec_id:
            problems.append(f"{where} has no id")
            continue
        tier_name = entry.get("tier")
        if tier_name not in {t.value for t in Tier}:
            problems.append(f"specialist {spec_id!r} has tier {tier_name!r}, expected L1, L2 or L3")
            continue
        queues = entry.get("queues", [])
        if (
            not isinstance(queues, list)
            or not queues
            or not all(isinstance(q, str) for q in queues)
        ):
            problems.append(f"specialist {spec_id!r} must list at least one queue")
            continue
        active = entry.get("active", True)
        if not isinstance(active, bool):
            problems.append(f"specialist {spec_id!r}: active must be true or false")
            continue
        username = entry.get("username", "")
        if not isinstance(username, str) or any(c.isspace() for c in username):
            problems.append(f"specialist {spec_id!r}: username must be a username without spaces")
            continue
        if username and username in {s.username for s in specialists}:
            problems.append(f"specialist {spec_id!r}: username {username!r} names another slot too")
            continue
        specialists.append(
            Specialist(spec_id, Tier(tier_name), frozenset(queues), active, username)
        )
    return specialists
