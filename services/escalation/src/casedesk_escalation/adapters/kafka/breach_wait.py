"""Reading sla.events.v1 far enough before a citizen's "no answer in time" is judged.

The request (case.events.v1) and the breach it depends on (sla.events.v1) travel on two topics
that are not ordered against each other: after a restart, or whenever the SLA partitions lag, a
request can be read before a breach the SLA service declared earlier. So when a batch holds such
a request, the consumer notes the end offsets of its SLA partitions at that moment, rewinds and
pauses the case partitions, and reads SLA events until it has passed those offsets (or until
`max_wait_s`). Every breach published before the request was read is then known when the request
is judged. The window left (a breach declared in the same instant as the request) is described in
the README.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from casedesk_escalation.application.desk import Consumed
from casedesk_escalation.application.records import Partition
from casedesk_escalation.wire import Topics
from casedesk_runtime.logs import get_logger
from casedesk_vocabulary.enums import EscalationReason

log = get_logger(__name__)


class BreachWait:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topics: Topics,
        max_wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._topics = topics
        self._max_wait_s = max_wait_s
        self._clock = clock
        self._since: float | None = None
        self._targets: dict[TopicPartition, int] = {}
        # Case records up to these offsets were already waited for: judge them on what is known.
        self._released: dict[Partition, int] = {}

    @property
    def waiting(self) -> bool:
        return self._since is not None

    def reset(self) -> None:
        """After a rebalance: offsets and positions of before mean nothing any more."""
        self._since, self._targets, self._released = None, {}, {}

    async def should_start(self, items: Sequence[Consumed]) -> bool:
        """True if the batch's case records must wait for the SLA stream to catch up."""
        if self._max_wait_s <= 0 or not any(self._asks_about_breach(i) for i in items):
            return False
        partitions = [tp for tp in self._consumer.assignment() if tp.topic == self._topics.sla]
        targets = await self._consumer.end_offsets(partitions) if partitions else {}
        if not await self._behind(targets):
            return False
        for item in items:
            if item.partition[0] == self._topics.case:
                self._released[item.partition] = max(
                    item.offset, self._released.get(item.partition, -1)
                )
        self._since, self._targets = self._clock(), targets
        return True

    async def should_continue(self) -> bool:
        """While waiting: True until the SLA partitions passed the noted offsets or time is up."""
        assert self._since is not None
        waited = self._clock() - self._since
        if waited >= self._max_wait_s:
            log.warning(
                "sla.events.v1 did not catch up in time; judging held requests on what is known",
                extra={"waited_s": round(waited, 3)},
            )
        elif await self._behind(self._targets):
            return True
        self._since, self._targets = None, {}
        return False

    async def _behind(self, targets: dict[TopicPartition, int]) -> bool:
        assigned = self._consumer.assignment()
        for tp, end in targets.items():
            if tp in assigned and await self._consumer.position(tp) < end:
                return True
        return False

    def _asks_about_breach(self, item: Consumed) -> bool:
        observation = item.observation
        return (
            observation is not None
            and observation.trigger is not None
            and observation.trigger.reason is EscalationReason.NO_ANSWER_IN_TIME
            and item.offset > self._released.get(item.partition, -1)
        )
