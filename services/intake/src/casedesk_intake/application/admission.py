"""Admission: the per-frontend and per-citizen rate limits, checked before anything else."""

from __future__ import annotations

import time
from collections.abc import Callable

from casedesk_intake.domain.acting import Caller
from casedesk_intake.domain.citizens import citizen_identity
from casedesk_intake.domain.rate_limits import RateLimiter, admit


class Admission:
    """Per-frontend and per-citizen token buckets."""

    def __init__(
        self,
        per_frontend: RateLimiter,
        per_citizen: RateLimiter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_frontend = per_frontend
        self._per_citizen = per_citizen
        self._clock = clock

    def admit(self, caller: Caller, unnamed_citizen: str = "") -> None:
        """`unnamed_citizen`: who the request is about when the caller names no login."""
        checks = [(self._per_frontend, caller.frontend.name)]
        citizen = citizen_identity(login=caller.citizen_login) or unnamed_citizen
        if citizen:
            checks.append((self._per_citizen, citizen))
        admit(self._clock(), *checks)
