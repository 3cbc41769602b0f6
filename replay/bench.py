"""Benchmark: replay from Kafka into the projections (fetch, decode, fold), in events per second.

Produces its own synthetic streams (case, SLA, notification, escalation topics) to uniquely named
topics on the broker in CASEDESK_BENCH_KAFKA, replays them the way `casedesk-replay report` does
(no consumer group, no progress bar), checks that every event arrived, deletes the topics and
prints `BENCH replay.events_per_s <value> 1/s`: the median of three replays, because the broker
and the replay share the machine's two cores with whatever else runs.

    CASEDESK_BENCH_KAFKA=127.0.0.1:9092 uv run python replay/bench.py [--cases 6000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid

from aiokafka.admin import AIOKafkaAdminClient

from casedesk_replay.progress import SilentProgress
from casedesk_replay.projections import ReplayState
from casedesk_replay.runner import Replay
from casedesk_replay.sources.kafka import KafkaSource
from casedesk_replay.topics import Stream, TopicMap
from casedesk_replay_testing.synthetic import generate
from casedesk_replay_testing.synthetic.publish import publish

RUNS = 3


async def replay(bootstrap: str, topics: TopicMap) -> tuple[ReplayState, float]:
    state = ReplayState()
    source = KafkaSource({"bootstrap_servers": bootstrap}, topics, tuple(Stream))
    result = await Replay([source], state, SilentProgress()).run()
    return state, result.seconds


async def delete(bootstrap: str, topics: TopicMap) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topics.topic(stream) for stream in Stream])
    finally:
        await admin.close()


async def main(cases: int) -> int:
    bootstrap = os.environ.get("CASEDESK_BENCH_KAFKA")
    if not bootstrap:
        print("set CASEDESK_BENCH_KAFKA to the broker's host:port", file=sys.stderr)
        return 2
    started = time.perf_counter()
    scenario = generate(cases, seed=2026)
    topics = TopicMap(prefix=f"bench-replay-{uuid.uuid4().hex[:8]}.")
    await publish(bootstrap, topics, scenario)
    print(f"# produced {scenario.total_events:,} events in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)  # fmt: skip
    rates = []
    try:
        for _ in range(RUNS):
            state, seconds = await replay(bootstrap, topics)
            replayed = sum(state.events.values())
            if (
                replayed != scenario.total_events
                or state.sla.breaches != scenario.expected.breaches
            ):
                print(f"# replayed {replayed} of {scenario.total_events} events", file=sys.stderr)
                return 1
            print(f"# replayed {replayed:,} events in {seconds:.2f} s", file=sys.stderr)
            rates.append(replayed / seconds)
    finally:
        await delete(bootstrap, topics)
    print(f"BENCH replay.events_per_s {statistics.median(rates):.0f} 1/s")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6000)
    sys.exit(asyncio.run(main(parser.parse_args().cases)))
