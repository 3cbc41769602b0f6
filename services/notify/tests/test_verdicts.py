"""Group commit: verdicts reported in one loop turn share a transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.deliveries import Delivery, DeliveryState, Verdict
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.application.verdicts import VerdictWriter
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.testing import events
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream


class CountingStore(DeliveryStore):
    def __init__(self, path) -> None:
        super().__init__(path)
        self.transactions: list[int] = []

    def record(self, verdicts) -> None:
        self.transactions.append(len(verdicts))
        super().record(verdicts)


def deliveries(store: DeliveryStore, cases: int) -> list[Delivery]:
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (DeliveryChannel.EMAIL,), store.card, journal=journal,
    )  # fmt: skip
    records = [
        events.record(CaseStream(f"c{i}", number=f"2026-{i:07d}").created(), i)
        for i in range(cases)
    ]
    return store.commit_batch(planner.plan(records).changes)


def sent(delivery: Delivery) -> Verdict:
    now = datetime.now(UTC)
    entry = journal.sent(delivery, 1, "250 ok", now)
    return Verdict(delivery, DeliveryState.SENT, 1, now, (entry,))


async def test_verdicts_of_one_loop_turn_commit_together_and_are_durable_on_return(
    tmp_path,
) -> None:
    store = CountingStore(tmp_path / "n.sqlite3")
    writer = VerdictWriter(store)
    batch = deliveries(store, 10)
    await asyncio.gather(*(writer.record(sent(d)) for d in batch))
    assert store.transactions == [10]
    assert all(store.state(d.notification_id) == (DeliveryState.SENT, 1) for d in batch)
    await writer.record(sent(batch[0]))  # a later turn: its own transaction
    assert store.transactions == [10, 1]
    store.close()


async def test_a_failed_commit_fails_every_reporter(tmp_path) -> None:
    store = DeliveryStore(tmp_path / "n.sqlite3")
    writer = VerdictWriter(store)
    batch = deliveries(store, 2)
    store.close()  # the next commit cannot succeed
    results = await asyncio.gather(*(writer.record(sent(d)) for d in batch), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    with pytest.raises(Exception, match="closed"):
        store.pending()
