"""How far each Kafka consumer of the process is behind, per topic and partition.

`casedesk_kafka_consumer_lag{consumer_group, topic, partition}`: the records of a partition its
consumer has not taken yet — the partition's end offset (the last stable offset: consumers read
committed records only) minus the consumer's position, the next offset it will hand to the service.
The position, not the committed offset: every Casedesk consumer keeps its offsets in its own store
and seeks there, committing to Kafka only for the usual tools (notify every few seconds, escalation
never), so the position is where it truly stands; the batch in hand counts as taken.

Measured every LAG_EVERY_S by a task beside the consumer (`kafka.MeasuredConsumer` runs it), not at
scrape time: end offsets are a request to the brokers, and a scrape runs in the metrics thread.
A partition no longer assigned leaves the gauge; while the brokers cannot answer, the last values
stay and the first failure of the streak is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from aiokafka.errors import IllegalStateError
from opentelemetry import metrics

from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

LAG_EVERY_S = 15.0
# How long a partition's position may take to be known (after a seek or a reset) before the
# measurement goes on without it.
POSITION_WAIT_S = 1.0

Lags = dict[tuple[str, str, int], int]  # (group, topic, partition) -> records behind

# Each consumer's latest measurement, replaced whole: the metrics thread iterates a dict nobody
# changes any more.
_measured: dict[ConsumerLag, Lags] = {}


def _observe(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    for lags in list(_measured.values()):
        for (group, topic, partition), lag in lags.items():
            labels = {"consumer_group": group, "topic": topic, "partition": str(partition)}
            yield metrics.Observation(lag, labels)


metrics.get_meter("casedesk_runtime.kafka").create_observable_gauge(
    "casedesk.kafka.consumer.lag",
    callbacks=[_observe],
    unit="{record}",
    description="Records of a partition its consumer has not taken yet (end offset - position)",
)


class ConsumerLag:
    """Measures one aiokafka consumer's lag; `run` until cancelled, then `close`."""

    def __init__(self, consumer: Any, group: str, every_s: float = LAG_EVERY_S) -> None:
        self._consumer = consumer
        self._group = group
        self._every_s = every_s
        self._failing = False

    async def measure(self) -> Lags:
        """Measure every assigned partition now; returns (and publishes) the lags."""
        consumer = self._consumer
        assigned = sorted(consumer.assignment())
        ends = await consumer.end_offsets(assigned) if assigned else {}
        lags: Lags = {}
        for partition in assigned:
            position = await self._position(partition)
            end = ends.get(partition)
            if position is not None and end is not None:
                lags[(self._group, partition.topic, partition.partition)] = max(end - position, 0)
        _measured[self] = lags
        return lags

    async def run(self) -> None:
        while True:
            try:
                await self.measure()
            except Exception as error:  # the brokers away, a rebalance under way: try again
                if not self._failing:
                    log.info(
                        "consumer lag not measured; retrying",
                        extra={"consumer_group": self._group, "error": repr(error)},
                    )
                self._failing = True
            else:
                self._failing = False
            await asyncio.sleep(self._every_s)

    def close(self) -> None:
        """Leave the gauge (a stopped consumer has no lag to report)."""
        _measured.pop(self, None)

    async def _position(self, partition: Any) -> int | None:
        with contextlib.suppress(IllegalStateError, TimeoutError):  # unassigned meanwhile
            return int(await asyncio.wait_for(self._consumer.position(partition), POSITION_WAIT_S))
        return None
