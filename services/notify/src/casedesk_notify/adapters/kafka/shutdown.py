"""Ending the Kafka loops within the shutdown grace period, even while the broker is away."""

from __future__ import annotations

import asyncio
import logging

from casedesk_runtime.kafka import stop_consumer
from casedesk_runtime.publishing import Publisher

__all__ = ["finish", "stop_consumer"]

log = logging.getLogger(__name__)

# After abandoning Kafka deliveries, how long a loop still gets to end before it is cancelled.
ABANDON_WAIT_S = 5.0


async def finish(loop: asyncio.Task[None], within_s: float, publisher: Publisher) -> None:
    """Wait for a stopped loop; past `within_s`, abandon what it waits for from Kafka, then it."""
    done, _ = await asyncio.wait({loop}, timeout=within_s)
    if not done:
        log.warning(
            "%s did not stop within the grace period; Kafka deliveries abandoned", loop.get_name()
        )
        publisher.close()
        done, _ = await asyncio.wait({loop}, timeout=ABANDON_WAIT_S)
        if not done:
            loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
