"""The service's "now": the system clock, in the domain's microseconds."""

from __future__ import annotations

import time

from casedesk_sla.domain import Micros


class SystemClock:
    def now(self) -> Micros:
        return time.time_ns() // 1_000
