"""Channel frontends and their tokens.

Each frontend (chat widget, personal-account form, e-mail gateway, contact-centre software,
social-media moderation tool, MFC desk) has its own bearer token and may submit cases only for the
channels it serves. Only the SHA-256 of each token is configured, so a leaked configuration file
or settings dump does not let anyone call intake. Tokens are long random strings, so a plain hash
is as strong as a slow one here.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from casedesk_intake.errors import NotYourCase, Unauthenticated

CHANNELS = ("PORTAL_CHAT", "PERSONAL_ACCOUNT", "EMAIL", "PHONE", "SOCIAL", "MFC")


class FrontendEntry(BaseModel):
    """One frontend as configured (TOML file or the CASEDESK_FRONTENDS JSON setting)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    channels: list[str] = Field(min_length=1)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, channels: list[str]) -> list[str]:
        unknown = sorted(set(channels) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channels {unknown}; known: {', '.join(CHANNELS)}")
        return channels


@dataclass(frozen=True)
class Frontend:
    name: str
    channels: frozenset[str]

    def check_channel(self, channel: str) -> None:
        if channel not in self.channels:
            raise NotYourCase(f"frontend {self.name} is not allowed to use channel {channel}")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the frontend, and the citizen it acts for (empty when none)."""

    frontend: Frontend
    citizen_login: str

    def require_citizen(self) -> str:
        if not self.citizen_login:
            raise Unauthenticated("this call acts for a citizen: send metadata x-citizen-login")
        return self.citizen_login


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class FrontendRegistry:
    def __init__(self, entries: Iterable[FrontendEntry]) -> None:
        self._by_digest: dict[str, Frontend] = {}
        for entry in entries:
            if entry.token_sha256 in self._by_digest:
                raise ValueError(f"frontend {entry.name} reuses another frontend's token")
            self._by_digest[entry.token_sha256] = Frontend(entry.name, frozenset(entry.channels))

    @classmethod
    def from_toml(cls, path: Path) -> list[FrontendEntry]:
        with path.open("rb") as file:
            document = tomllib.load(file)
        return [FrontendEntry.model_validate(e) for e in document.get("frontend", [])]

    def __len__(self) -> int:
        return len(self._by_digest)

    def identify(self, token: str) -> Frontend:
        digest = token_digest(token)
        for known, frontend in self._by_digest.items():
            # Constant time per comparison, so response time does not reveal a digest prefix.
            if hmac.compare_digest(known, digest):
                return frontend
        raise Unauthenticated("unknown frontend token")
