"""The partitions of a topic, asked of the cluster (a consumer knows only assigned topics)."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient

from casedesk_runtime.kafka import connection_config
from casedesk_runtime.logs import get_logger
from casedesk_runtime.settings import ServiceSettings

log = get_logger(__name__)


async def topic_partitions(settings: ServiceSettings, topic: str) -> list[int]:
    """Partition numbers of `topic`, or [] when the cluster does not have it."""
    admin = AIOKafkaAdminClient(**connection_config(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in described:
        if entry["topic"] == topic and entry["error_code"] == 0:
            return sorted(partition["partition"] for partition in entry["partitions"])
    return []


async def wait_for_partitions(
    settings: ServiceSettings, topic: str, retry_s: float = 1.0
) -> list[int]:
    """Partition numbers of `topic`, waiting for it to be created (topics are provisioned apart)."""
    while True:
        partitions = await topic_partitions(settings, topic)
        if partitions:
            return partitions
        log.warning("topic not found yet; waiting", extra={"topic": topic})
        await asyncio.sleep(retry_s)
