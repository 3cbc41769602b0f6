"""One logged-in PKCS#11 session, used one call at a time (sessions are not thread-safe), and
opened again once when the HSM dropped it (restart, a network HSM's failover) before the call
fails with KeyUnavailable. Every PKCS#11 error leaves as a KeysError, never as the library's."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pkcs11
from pkcs11 import exceptions as p11

from casedesk_keys.errors import KeyUnavailable

T = TypeVar("T")

# The session is gone, not the request at fault: open a new one and try once more.
_SESSION_LOST = (
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.DeviceRemoved,
    p11.DeviceError,
    p11.TokenNotPresent,
    p11.UserNotLoggedIn,
    p11.ObjectHandleInvalid,
    p11.KeyHandleInvalid,
    p11.WrappingKeyHandleInvalid,
    p11.UnwrappingKeyHandleInvalid,
)


@dataclass(frozen=True)
class Pkcs11Config:
    module: str  # the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
    token_label: str
    pin: str = field(repr=False)
    kek_label: str = "casedesk-kek"
    create: bool = False  # generate the first KEK version if the token has none


class TokenSession:
    def __init__(self, config: Pkcs11Config) -> None:
        self.config = config
        # Handles found in this session (KEKs by id): they die with it, so they are kept here.
        self.handles: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def call(self, operation: Callable[[Any], T]) -> T:
        """`operation(session)` under the lock, with one reconnection."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    return operation(self._open())
                except _SESSION_LOST as error:
                    self._drop()
                    if attempt == 2:
                        name = type(error).__name__
                        raise KeyUnavailable(f"the HSM session failed: {name}") from None
                except p11.PKCS11Error as error:
                    raise KeyUnavailable(f"the HSM refused: {type(error).__name__}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._drop()

    def current(self) -> Any:
        """The session object itself (tests close it as an HSM restart would)."""
        return self._session

    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        name = self.config.token_label
        try:
            token = pkcs11.lib(self.config.module).get_token(token_label=name)
        except p11.NoSuchToken:
            raise KeyUnavailable(f"no PKCS#11 token {name!r}") from None
        except (p11.PKCS11Error, RuntimeError, OSError) as error:
            kind = type(error).__name__
            raise KeyUnavailable(f"cannot load the PKCS#11 module: {kind}") from None
        try:
            self._session = token.open(rw=True, user_pin=self.config.pin)
        except p11.UserAlreadyLoggedIn:  # the login is the whole process's: another session's
            self._session = token.open(rw=True)
        except p11.PKCS11Error as error:
            raise KeyUnavailable(f"cannot open token {name!r}: {type(error).__name__}") from None
        return self._session

    def _drop(self) -> None:
        self.handles.clear()
        session, self._session = self._session, None
        try:
            if session is not None:
                session.close()
        except p11.PKCS11Error:
            pass  # already gone: that is why it is dropped
