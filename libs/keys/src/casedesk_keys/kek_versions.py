"""KEK ids: `<label>.v<N>`, the label configured, N counting rotations from 1. Both providers
name their keys so, and the newest N is the current one."""

from __future__ import annotations

import re

from casedesk_keys.errors import KeysError


class KekReadOnly(KeysError):
    """The provider cannot make or destroy a KEK version itself (a Secret mounted read-only):
    the operator does it, as the message says."""


def check_label(label: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", label):
        raise ValueError("a KEK label is 1-63 letters, digits, '-' or '_'")
    return label


def kek_id(label: str, version: int) -> str:
    return f"{label}.v{version}"


def version_of(label: str, name: str) -> int | None:
    """N of a `<label>.v<N>` name, None for any other name."""
    match = re.fullmatch(re.escape(label) + r"\.v([1-9][0-9]{0,8})", name)
    return int(match.group(1)) if match else None


def newest(label: str, names: list[str]) -> list[str]:
    """The `<label>.v<N>` names among `names`, oldest first."""
    versions = sorted(v for v in (version_of(label, n) for n in names) if v is not None)
    return [kek_id(label, v) for v in versions]


def next_id(label: str, names: list[str]) -> str:
    """The id of the version after the newest of `names` (v1 if none)."""
    versions = [v for v in (version_of(label, n) for n in names) if v is not None]
    return kek_id(label, max(versions, default=0) + 1)
