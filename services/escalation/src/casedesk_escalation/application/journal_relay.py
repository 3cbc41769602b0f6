"""Publishing the decision journal to escalation.decisions.v1 from the store (an outbox).

Records go out in decision order, keyed by case id. Rows are marked published only once Kafka
acknowledged all of them. A crash between the acknowledgement and marking the rows sends them
again under the same event id, which is what consumers of the journal deduplicate on (DESIGN.md
"Kafka topics").

Not a follower of its own (casedesk_runtime.following) on purpose: the consumer loop publishes
after each batch's Escalate commands are answered. A row waits for its command (a refusal rewrites
it), so a journal publishing concurrently could send a case's later decisions before its earlier
one, breaking the per-case order of the topic.
"""

from __future__ import annotations

from casedesk_escalation.application.ports import DecisionStore, JournalTopic


class DecisionJournal:
    def __init__(self, store: DecisionStore, topic: JournalTopic) -> None:
        self._store = store
        self._topic = topic

    async def publish_pending(self, page: int = 1000) -> int:
        """Publish every unpublished decision; returns how many went out.

        Waits out a broker outage; stops early, leaving the rest for the next run, when the
        publisher was closed meanwhile (shutdown).
        """
        published = 0
        while rows := await self._store.unpublished(page):
            if not await self._topic.deliver(rows):
                break
            await self._store.mark_published(row.seq for row in rows)
            published += len(rows)
        return published
