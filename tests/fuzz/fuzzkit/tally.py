"""What each fuzz target tried and what went wrong, printed at the end of the run as

    FUZZ <target> inputs=<n> failures=<n> known=<n> accepted=<n> max_ms=<n>

`failures`: inputs answered outside the target's contract (a status that is no deliberate one,
a hang, a crash, an exception other than the documented one); `known`: inputs that hit a bug
already reported and tolerated here by its exact signature (fuzzkit/known_bugs.py), so that the
run stays green until it is fixed; `accepted`: inputs the target took (OK, a stream that stayed
open, a record decoded), which shows how far the inputs get past validation; `max_ms`: the
slowest input.

The budget: CASEDESK_FUZZ_EXAMPLES inputs per target (default: the short run of `make test`).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

SHORT_RUN_EXAMPLES = 20
ACCEPTED = ("OK", "STREAM_OPEN", "decoded")


def examples(scale: float = 1.0) -> int:
    """Inputs per target: the budget times `scale` (cheap targets get more), at least 1."""
    budget = int(os.environ.get("CASEDESK_FUZZ_EXAMPLES", SHORT_RUN_EXAMPLES))
    return max(1, int(budget * scale))


@dataclass
class Target:
    name: str
    inputs: int = 0
    failures: int = 0
    known: Counter[str] = field(default_factory=Counter)
    max_ms: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    reproducers: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)  # further figures for the line

    def tried(self, seconds: float, outcome: str) -> None:
        self.inputs += 1
        self.max_ms = max(self.max_ms, seconds * 1000)
        self.outcomes[outcome] += 1

    def failed(self, reproducer: str) -> None:
        self.failures += 1
        if len(self.reproducers) < 5:
            self.reproducers.append(reproducer)

    @property
    def accepted(self) -> int:
        return sum(self.outcomes[kind] for kind in ACCEPTED)

    def line(self) -> str:
        known = sum(self.known.values())
        figures = "".join(f" {name}={value}" for name, value in self.extra.items())
        return (
            f"FUZZ {self.name} inputs={self.inputs} failures={self.failures} known={known} "
            f"accepted={self.accepted} max_ms={self.max_ms:.0f}{figures}"
        )


TARGETS: dict[str, Target] = {}


def target(name: str) -> Target:
    return TARGETS.setdefault(name, Target(name))
