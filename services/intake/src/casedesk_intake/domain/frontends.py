"""Channel frontends, their tokens, and the channels they are bound to.

Each frontend (chat widget, personal-account form, e-mail gateway, contact-centre software,
social-media moderation tool, MFC desk) has its own bearer token and serves only the channels its
entry names: it submits cases of those channels, and acts only for those channels' citizens
(domain/acting.py). Only the SHA-256 of each token is configured, so a leaked configuration file
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

    @property
    def citizen_token_clients(self) -> Collection[str]: ...


@dataclass(frozen=True)
class Frontend:
    name: str
    channels: frozenset[str]
    # The portal clients (`azp` of a citizen token) whose tokens this frontend may forward;
    # empty: any client of the configured issuer and audience.
    citizen_token_clients: frozenset[str] = frozenset()

    def check_channel(self, channel: Channel | str) -> None:
        name = channel.value if isinstance(channel, Channel) else channel
        if name not in self.channels:
            raise NotYourCase(f"frontend {self.name} is not allowed to use channel {name}")

    def serves(self, channel: Channel | None) -> bool:
        return channel is not None and channel.value in self.channels

    def serves_any(self, channels: Collection[Channel]) -> bool:
        return any(self.serves(channel) for channel in channels)

    def channel_for(self, case_channel: Channel | None) -> Channel:
        """The channel a citizen's action on a case of `case_channel` came by through this
        frontend: its only channel; of several, the case's own when it serves it, else the
        first it serves in the contract's order."""
        if case_channel is not None and self.serves(case_channel):
            return case_channel
        return next(channel for channel in Channel if channel.value in self.channels)

    def check_citizen_client(self, client: str) -> None:
        if self.citizen_token_clients and client not in self.citizen_token_clients:
            raise NotYourCase(
                f"x-citizen-token was issued to another portal client (azp) than frontend "
                f"{self.name} forwards tokens of"
            )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class FrontendRegistry:
    def __init__(self, entries: Iterable[ConfiguredFrontend]) -> None:
        self._by_digest: dict[str, Frontend] = {}
        for entry in entries:
            if entry.token_sha256 in self._by_digest:
                raise ValueError(f"frontend {entry.name} reuses another frontend's token")
            self._by_digest[entry.token_sha256] = Frontend(
                entry.name, frozenset(entry.channels), frozenset(entry.citizen_token_clients)
            )

    def __len__(self) -> int:
        return len(self._by_digest)

    def serving(self, channels: Collection[Channel]) -> list[str]:
        """The names of the frontends serving any of `channels`."""
        return sorted(f.name for f in self._by_digest.values() if f.serves_any(channels))

    def identify(self, token: str) -> Frontend:
        digest = token_digest(token)
        for known, frontend in self._by_digest.items():
            # Constant time per comparison, so response time does not reveal a digest prefix.
            if hmac.compare_digest(known, digest):
                return frontend
        raise Unauthenticated("unknown frontend token")
