"""The use cases the consumer loop drives: decide a consumed batch and commit it whole, then carry
out what was committed (Escalate commands, the journal), and where the store says it stands.

Offsets live in the decision store, not in Kafka: a batch's decisions, case states and next
offsets are committed in one transaction. Only then are the commands sent and the journal
published, both from the store, so a kill -9 at any point neither repeats a decision nor loses one
(README "Exactly once").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from casedesk_escalation.application import measurements
from casedesk_escalation.application.command_runner import CommandRunner
from casedesk_escalation.application.desk import Consumed, EscalationDesk
from casedesk_escalation.application.journal_relay import DecisionJournal
from casedesk_escalation.application.ports import DecisionStore
from casedesk_escalation.application.records import DecidedBatch, OffsetConflict, Partition
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)


class Escalations:
    def __init__(
        self,
        store: DecisionStore,
        desk: EscalationDesk,
        commands: CommandRunner,
        journal: DecisionJournal,
        group: str,
    ) -> None:
        self._store = store
        self._desk = desk
        self._commands = commands
        self._journal = journal
        # The consumer group: the key of the stored offsets.
        self._group = group

    async def stored_offsets(self) -> dict[Partition, int]:
        return await self._store.offsets(self._group)

    async def decide_and_commit(
        self, items: Sequence[Consumed], stored: Mapping[Partition, int | None]
    ) -> DecidedBatch | None:
        """The committed batch, or None when another consumer moved its partitions meanwhile
        (the batch is discarded and must be read again from the stored offsets)."""
        batch = await self._desk.decide(items, stored)
        try:
            await self._store.commit(self._group, batch)
        except OffsetConflict as conflict:
            log.warning("batch discarded: %s", conflict)
            self._desk.forget()
            return None
        except BaseException:
            # Cached states are ahead of the store now.
            self._desk.forget()
            raise
        measurements.committed(batch.decisions)
        return batch

    async def carry_out_committed(self) -> None:
        """Send what is committed but not yet answered or published (a previous process's too)."""
        await self._commands.run_pending()
        await self._journal.publish_pending()

    def forget(self) -> None:
        """After a rebalance: cached per-case state may belong to another process now."""
        self._desk.forget()
