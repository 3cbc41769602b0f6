"""The policies shipped with the library, by version.

Policies are configuration, not code: a new regulation is a new file in ``policies/``, and every
SLA event records the version it was computed with so replays can reproduce or compare them.
"""

import re
from functools import cache
from importlib import resources

from casedesk_deadlines.calendar import ProductionCalendar
from casedesk_deadlines.errors import PolicyFormatError, UnknownPolicyError
from casedesk_deadlines.policy import Policy, parse_policy

# The policy new cases are opened under (DESIGN.md "Deadlines"). Cases keep the version they were
# opened under: whoever stores a case's clocks stores its version and loads that one, never this.
DEFAULT_POLICY_VERSION = "2026.1"
_POLICY_DIR = "policies"
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def policy_versions() -> tuple[str, ...]:
    """Versions of every policy shipped with the library, sorted."""
    folder = resources.files(__package__).joinpath(_POLICY_DIR)
    return tuple(
        sorted(
            entry.name[: -len(".toml")]
            for entry in folder.iterdir()
            if entry.name.endswith(".toml")
        )
    )


def default_policy(calendar: ProductionCalendar | None = None) -> Policy:
    return load_policy(DEFAULT_POLICY_VERSION, calendar)


def load_policy(version: str, calendar: ProductionCalendar | None = None) -> Policy:
    """Load a shipped policy; ``calendar`` carries operator overrides (default: none).

    Policies are cached per (version, calendar), so calling this per request is cheap.
    """
    if not _VERSION.fullmatch(version) or version not in policy_versions():
        raise UnknownPolicyError(
            f"unknown SLA policy version {version!r}; available: {', '.join(policy_versions())}"
        )
    return _load(version, calendar)


@cache
def _load(version: str, calendar: ProductionCalendar | None) -> Policy:
    folder = resources.files(__package__).joinpath(_POLICY_DIR)
    policy = parse_policy(folder.joinpath(f"{version}.toml").read_text("utf-8"), calendar)
    if policy.version != version:
        raise PolicyFormatError(f"policy file {version}.toml says version {policy.version!r}")
    return policy
