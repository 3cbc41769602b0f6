"""The Kafka topic catalogue (DESIGN.md "Kafka topics") and its idempotent provisioning.

`casedesk-topics --bootstrap HOST:PORT` creates what is missing and leaves existing topics alone,
so it runs safely from `make up`, a Helm pre-install hook and every test session.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from casedesk_vocabulary import topics

FOREVER = -1
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    retention_ms: int = FOREVER

    def as_new_topic(self, replication_factor: int) -> NewTopic:
        return NewTopic(
            name=self.name,
            num_partitions=self.partitions,
            replication_factor=replication_factor,
            topic_configs={"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"},
        )


def _catalogue() -> tuple[TopicSpec, ...]:
    main = [TopicSpec(name) for name in topics.ALL]
    dead_letters = [
        TopicSpec(topics.dlq_topic(topic, consumer), partitions=1, retention_ms=THIRTY_DAYS_MS)
        for topic, consumers in topics.CONSUMERS_WITH_DLQ.items()
        for consumer in consumers
    ]
    return (*main, *dead_letters)


TOPICS = _catalogue()


async def ensure_topics(
    bootstrap_servers: str,
    topics: tuple[TopicSpec, ...] = TOPICS,
    replication_factor: int = 1,
    **connection: object,
) -> list[str]:
    """Create missing topics; return the names created (empty when all existed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **connection)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t.as_new_topic(replication_factor) for t in topics if t.name not in existing]
        if missing:
            # Another replica of this command may win the race: that is the goal anyway.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def existing_partitions(names: list[str], **connection: object) -> dict[str, list[int]]:
    """Partition numbers of those of `names` that exist on the cluster (missing ones are left out).

    A consumer without a group knows only the topics assigned to it, so this asks the cluster. It
    lists topics before describing them: describing a missing topic makes a broker with automatic
    creation on create it with its own defaults (wrong partitions and retention), and provisioning
    would then leave that wrong topic alone.
    """
    admin = AIOKafkaAdminClient(**connection)
    await admin.start()
    try:
        present = [name for name in names if name in set(await admin.list_topics())]
        described = await admin.describe_topics(present) if present else []
    finally:
        await admin.close()
    return {
        entry["topic"]: sorted(p["partition"] for p in entry["partitions"])
        for entry in described
        if entry["error_code"] == 0 and entry["partitions"]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create Casedesk's Kafka topics (idempotent).")
    parser.add_argument("--bootstrap", default=None, help="host:port (default from settings)")
    parser.add_argument("--replication-factor", type=int, default=1)
    args = parser.parse_args(argv)
    from casedesk_runtime.kafka import connection_config
    from casedesk_runtime.settings import ServiceSettings, load_settings

    settings = load_settings(ServiceSettings)
    connection = connection_config(settings)
    bootstrap = args.bootstrap or connection.pop("bootstrap_servers")
    connection.pop("bootstrap_servers", None)
    created = asyncio.run(ensure_topics(bootstrap, TOPICS, args.replication_factor, **connection))
    for spec in TOPICS:
        state = "created" if spec.name in created else "exists"
        print(
            f"{spec.name}\tpartitions={spec.partitions}\tretention_ms={spec.retention_ms}\t{state}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
