"""Server-side sessions of the desk, kept in this process's memory.

The browser holds only a random session id (a cookie); tokens never reach it. In memory means one
replica: a second replica, or a restart, signs everybody out (they sign in again through the
identity provider, usually without typing anything while its own session lives).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from casedesk_desk.domain.security import new_secret


@dataclass
class PendingSignIn:
    """An authorization request on its way to the identity provider and back."""

    state: str
    nonce: str
    code_verifier: str
    return_to: str


@dataclass
class Person:
    """The signed-in specialist, as the identity provider's ID and access tokens say."""

    username: str
    display_name: str
    tier: str | None
    roles: frozenset[str]


@dataclass
class Tokens:
    access_token: str
    access_expires_at: float  # epoch seconds
    refresh_token: str | None
    id_token: str


@dataclass
class Session:
    session_id: str
    csrf_token: str
    last_seen: float
    pending: PendingSignIn | None = None
    person: Person | None = None
    tokens: Tokens | None = field(default=None, repr=False)

    @property
    def signed_in(self) -> bool:
        return self.person is not None and self.tokens is not None


class SessionStore:
    """Sessions by id, each ending after `idle_s` without a request (and at sign-out)."""

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.time) -> None:
        if idle_s <= 0:
            raise ValueError("a session's idle time must be positive")
        self._idle_s, self._clock = idle_s, clock
        self._sessions: dict[str, Session] = {}

    def new(self) -> Session:
        self._drop_idle()
        session = Session(session_id=new_secret(), csrf_token=new_secret(), last_seen=self._clock())
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of that id (touched), or None: unknown, ended or idle too long."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self._idle_s:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        return session

    def peek(self, session_id: str) -> Session | None:
        """The live session of that id without touching it: a page's open event stream asks
        whether its session still lives, and must not keep an idle session alive by asking."""
        session = self._sessions.get(session_id)
        if session is None or self._clock() - session.last_seen > self._idle_s:
            return None
        return session

    def renew(self, session: Session) -> Session:
        """The same session under a new id and a new CSRF token, the old id dead: done at sign-in,
        so an id planted in a browser before it (session fixation) is worth nothing after."""
        self._sessions.pop(session.session_id, None)
        session.session_id, session.csrf_token = new_secret(), new_secret()
        session.last_seen = self._clock()
        self._sessions[session.session_id] = session
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _drop_idle(self) -> None:
        cutoff = self._clock() - self._idle_s
        for session_id in [k for k, s in self._sessions.items() if s.last_seen < cutoff]:
            del self._sessions[session_id]
