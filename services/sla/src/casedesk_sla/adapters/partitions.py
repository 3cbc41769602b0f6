"""The partitions of a topic, asked of the cluster (a consumer knows only assigned topics)."""

from __future__ import annotations

import asyncio

from casedesk_runtime.kafka import connection_config
from casedesk_runtime.logs import get_logger
from casedesk_runtime.settings import ServiceSettings
from casedesk_runtime.topics import existing_partitions

log = get_logger(__name__)


async def topic_partitions(settings: ServiceSettings, topic: str) -> list[int]:
    """Partition numbers of `topic`, or [] when the cluster does not have it."""
    found = await existing_partitions([topic], **connection_config(settings))
    return found.get(topic, [])


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
