"""Group commit of delivery verdicts: one SQLite transaction per burst, not per message.

At hundreds of messages per second, a transaction per verdict is a large share of notify's CPU.
Verdicts reported within one turn of the event loop are committed together right after it, and
every reporter resumes only once its verdict is durable, so the duplicate window (provider
accepted, `sent` not yet committed) grows by at most that one turn.
"""

from __future__ import annotations

import asyncio

from casedesk_notify.application import measurements
from casedesk_notify.application.deliveries import Verdict
from casedesk_notify.application.ports import DeliveryStates


class VerdictWriter:
    def __init__(self, store: DeliveryStates) -> None:
        self._store = store
        self._waiting: list[Verdict] = []
        self._committed: asyncio.Future[None] | None = None

    async def record(self, verdict: Verdict) -> None:
        self._waiting.append(verdict)
        if self._committed is None:
            loop = asyncio.get_running_loop()
            self._committed = loop.create_future()
            loop.call_soon(self._commit)
        # Shielded: a cancelled reporter must not cancel the commit of the others' verdicts.
        await asyncio.shield(self._committed)

    def _commit(self) -> None:
        verdicts, committed = self._waiting, self._committed
        self._waiting, self._committed = [], None
        assert committed is not None
        try:
            self._store.record(verdicts)
        except Exception as error:
            committed.set_exception(error)
        else:
            measurements.committed(verdicts)
            committed.set_result(None)
