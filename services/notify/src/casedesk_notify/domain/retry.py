"""When to try a temporarily failed delivery again: exponential backoff with jitter.

The delay is drawn uniformly between a tenth of the exponential ceiling and the ceiling itself.
That spreads the retries of many messages that failed together (the SMTP relay answered 421 to
everybody for a minute), so the relay is not hit by a synchronised wave when it comes back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
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
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempts - 1))
        # Never zero: a retry in the same instant would meet the same overloaded provider.
        return self.rng.uniform(ceiling / 10, ceiling)
