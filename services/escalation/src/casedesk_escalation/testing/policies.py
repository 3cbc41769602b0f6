"""Policy files for tests and benchmarks that cannot wait out the production cooldown."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from casedesk_escalation.adapters.policy_file import PACKAGED_POLICY


def packaged_without_cooldown(directory: Path, version: str = "no-cooldown") -> Path:
    """The packaged policy's rules under another version, with the cooldown off."""
    text = resources.files("casedesk_escalation.policies").joinpath(PACKAGED_POLICY).read_text()
    text, cooldowns = re.subn(r"(?m)^cooldown_seconds = \d+$", "cooldown_seconds = 0", text)
    text, versions = re.subn(r'(?m)^version = ".*"$', f'version = "{version}"', text)
    if (cooldowns, versions) != (1, 1):
        raise ValueError(f"{PACKAGED_POLICY} no longer has one version and one cooldown line")
    path = directory / f"{version}.toml"
    path.write_text(text, encoding="utf-8")
    return path
