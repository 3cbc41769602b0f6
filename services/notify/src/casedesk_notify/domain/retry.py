"""When to try a temporarily failed delivery again: exponential backoff with jitter.

The delay is drawn uniformly between half the exponential ceiling and the ceiling itself. That
spreads the retries of many messages that failed together (the SMTP relay answered 421 to everybody
for a minute), so the relay is not hit by a synchronised wave when it comes back, while keeping a
floor under the whole budget: the defaults never give up on a notice within 6 minutes of its first
failure, so a relay down for a minute or a gateway restarting costs a delay, never a dead letter.
(With the earlier draw from a tenth of the ceiling and 8 attempts, the budget ran out in 35 s on
average, inside such a minute: the chaos run's third defect.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 12
    base_delay_s: float = 0.5
    max_delay_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("retry policy needs max_attempts >= 1 and 0 < base <= max delay")

    def gives_up_after(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def delay_after(self, attempts: int) -> float:
        """Delay before attempt `attempts + 1`, after `attempts` failed ones (>= 1)."""
        ceiling = self._ceiling(attempts)
        # Never zero: a retry in the same instant would meet the same overloaded provider.
        return self.rng.uniform(ceiling / 2, ceiling)

    def shortest_span_s(self) -> float:
        """The least time from the first failed attempt to giving up, whatever the draws: how
        long a provider may refuse before any notice is dead-lettered."""
        return sum(self._ceiling(n) / 2 for n in range(1, self.max_attempts))

    def _ceiling(self, attempts: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempts - 1))
