"""The outbox relay's series, scraped: records behind, age of the oldest event behind, published."""

from __future__ import annotations

import asyncio
import itertools

from casedesk_case.adapters.outbox.relay import OutboxRelay
from casedesk_case.testing import CaseApplication
from casedesk_runtime.testing.kafka import FakeKafka
from casedesk_runtime.testing.metrics import scrape

from ..conftest import create

_topics = itertools.count()


def _topic() -> str:
    # A topic of its own per test: the series of other tests' relays keep their labels.
    return f"metrics-{next(_topics)}.case.events.v1"


async def test_age_of_the_oldest_unpublished_event_grows_while_kafka_is_away(
    app: CaseApplication,
) -> None:
    topic = _topic()
    kafka = FakeKafka(down=True)
    relay = OutboxRelay(app, kafka.publisher(), topic=topic)
    create(app)
    publishing = asyncio.create_task(relay.publish_batch())
    await kafka.until_failures(1)
    first = scrape().value("casedesk_case_outbox_lag_seconds", topic=topic)
    await asyncio.sleep(0.05)
    second = scrape().value("casedesk_case_outbox_lag_seconds", topic=topic)
    assert 0 < first < second
    assert scrape().value("casedesk_case_outbox_published_total", topic=topic) == 0

    kafka.down = False
    published = await publishing
    assert published == len(kafka.written) > 0
    assert scrape().value("casedesk_case_outbox_published_total", topic=topic) == published
    assert await relay.publish_batch() == 0  # caught up
    after = scrape()
    assert after.value("casedesk_case_outbox_lag_seconds", topic=topic) == 0
    assert after.value("casedesk_case_outbox_lag", topic=topic) == 0


async def test_records_behind_are_measured_after_a_batch(app: CaseApplication) -> None:
    topic = _topic()
    kafka = FakeKafka()
    relay = OutboxRelay(app, kafka.publisher(), topic=topic, batch_size=1)
    for _ in range(3):
        create(app)
    assert await relay.publish_batch() == 1
    behind = scrape().value("casedesk_case_outbox_lag", topic=topic)
    assert behind == relay.lag_events > 0
    assert scrape().label_sets("casedesk_case_outbox_lag").count({"topic": topic}) == 1
