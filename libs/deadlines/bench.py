"""Throughput of due-instant computation: random channels and start instants, default policy.

    uv run python libs/deadlines/bench.py [--count N]

Prints ``BENCH deadlines.due_per_s <value> 1/s`` (each case counts two due instants when its
channel has a first-response target). Calendar tables are warmed first: a running service
computes them once per year.
"""

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from casedesk_deadlines import Deadlines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000, help="cases to compute")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()

    deadlines = Deadlines()
    channels = deadlines.policy.channels
    rng = random.Random(args.seed)
    origin = datetime(2024, 1, 1, tzinfo=UTC)
    three_years = int(timedelta(days=3 * 365).total_seconds())
    cases = [
        (rng.choice(channels), origin + timedelta(seconds=rng.randrange(three_years)))
        for _ in range(args.count)
    ]
    for channel, registered_at in cases[:2_000]:  # warm the per-year tables
        deadlines.compute(channel, registered_at)

    computed = 0
    began = time.perf_counter()
    for channel, registered_at in cases:
        result = deadlines.compute(channel, registered_at)
        computed += 1 if result.first_response_due is None else 2
    elapsed = time.perf_counter() - began
    print(f"BENCH deadlines.due_per_s {computed / elapsed:.0f} 1/s")


if __name__ == "__main__":
    main()
