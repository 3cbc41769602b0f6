"""Channel frontends, their tokens, and who is calling.

Each frontend (chat widget, personal-account form, e-mail gateway, contact-centre software,
social-media moderation tool, MFC desk) has its own bearer token and may submit cases only for the
channels it serves. Only the SHA-256 of each token is configured, so a leaked configuration file
or settings dump does not let anyone call intake. Tokens are long random strings, so a plain hash
is as strong as a slow one here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from casedesk_intake.domain.errors import NotYourCase, Unauthenticated
from casedesk_vocabulary.enums import Channel

CHANNELS = tuple(channel.value for channel in Channel)


class ConfiguredFrontend(Protocol):
    """One frontend as configured (settings.FrontendEntry)."""

    @property
    def name(self) -> str: ...

    @property
    def token_sha256(self) -> str: ...

    @property
    def channels(self) -> Collection[str]: ...


@dataclass(frozen=True)
class Frontend:
    name: str
    channels: frozenset[str]

    def check_channel(self, channel: Channel | str) -> None:
        name = channel.value if isinstance(channel, Channel) else channel
        if name not in self.channels:
            raise NotYourCase(f"frontend {self.name} is not allowed to use channel {name}")


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
    def __init__(self, entries: Iterable[ConfiguredFrontend]) -> None:
        self._by_digest: dict[str, Frontend] = {}
        for entry in entries:
            if entry.token_sha256 in self._by_digest:
                raise ValueError(f"frontend {entry.name} reuses another frontend's token")
            self._by_digest[entry.token_sha256] = Frontend(entry.name, frozenset(entry.channels))

    def __len__(self) -> int:
        return len(self._by_digest)

    def identify(self, token: str) -> Frontend:
        digest = token_digest(token)
        for known, frontend in self._by_digest.items():
            # Constant time per comparison, so response time does not reveal a digest prefix.
            if hmac.compare_digest(known, digest):
                return frontend
        raise Unauthenticated("unknown frontend token")
