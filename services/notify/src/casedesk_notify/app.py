"""Composition root: builds notify from its settings and runs it until SIGTERM.

Runs three loops (consumer, dispatcher lanes, journal relay) beside the runtime's gRPC server,
which serves only health and reflection. A failing consumer or relay loop ends the process with an
error, so the orchestrator restarts it; nothing is lost, the store resumes where it stopped.

Kafka is written through two `Publisher`s (journal, dead letters), which wait out a broker outage
of any length. Shutdown takes at most about the grace period: what still waits for Kafka then is
abandoned (the store keeps it for the next run).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer

from casedesk_notify.consumer import CaseEventConsumer
from casedesk_notify.deadlines import deadline_estimator
from casedesk_notify.decoding import CaseEventDecoder
from casedesk_notify.dispatcher import Dispatcher
from casedesk_notify.domain import NotifyPolicy
from casedesk_notify.outlets_factory import build_outlets
from casedesk_notify.planning import BatchPlanner
from casedesk_notify.relay import JournalRelay
from casedesk_notify.rendering import TemplateCatalog
from casedesk_notify.retry import RetryPolicy
from casedesk_notify.settings import NotifySettings
from casedesk_notify.store import DeliveryStore
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.kafka import consumer_config
from casedesk_runtime.publishing import Publisher, dead_letter, producer_starter

log = logging.getLogger(__name__)
CONSUMER_NAME = "notify"  # names the dead-letter topic case.events.v1.dlq.notify
# The journal's last flush gets at least this long, even when the deliveries used up the grace.
MIN_FLUSH_S = 1.0
# After abandoning Kafka deliveries, how long a loop still gets to end before it is cancelled.
ABANDON_WAIT_S = 5.0


async def run(settings: NotifySettings) -> int:
    store = DeliveryStore(settings.store_path, settings.store_synchronous)
    catalog = TemplateCatalog(settings.portal_base_url, settings.template_version)
    journal_publisher = Publisher(producer_starter(settings, "notify"), name="notify journal")
    # The consumer and every dispatcher lane may park records: one delivery at a time.
    dlq_publisher = Publisher(producer_starter(settings, "notify-dlq"), name="notify dead letters")
    parking = asyncio.Lock()
    consumer = AIOKafkaConsumer(
        **consumer_config(settings, group_id=settings.consumer_group),
        client_id="notify",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )
    outlets, senders = build_outlets(settings)
    relay = JournalRelay(store, journal_publisher, settings.journal_topic)

    async def park(record: Any, error: Exception | str) -> bool:
        async with parking:
            return await dead_letter(
                dlq_publisher, settings.source_topic, CONSUMER_NAME, record, error
            )

    dispatcher = Dispatcher(
        store,
        outlets,
        RetryPolicy(settings.max_attempts, settings.retry_base_s, settings.retry_max_s),
        dead_letter=park,  # a SourceRecord has the fields of a ConsumerRecord
        journal_written=relay.wake,
    )
    planner = BatchPlanner(
        CaseEventDecoder(deadline_estimator(settings.deadline_policy_version)),
        catalog,
        NotifyPolicy(settings.notify_on_escalation, settings.notify_on_public_reply),
        channels=outlets.keys(),
        load_card=store.card,
    )
    case_events = CaseEventConsumer(
        consumer, settings.source_topic, store, planner, dispatcher, park,
        journal_written=relay.wake, max_records=settings.max_batch,
    )  # fmt: skip
    server = GrpcServer(settings)

    await consumer.start()
    pending = store.pending()
    dispatcher.submit(pending)  # resume what a previous run left unfinished
    log.info("notify started", extra={"resumed_deliveries": len(pending),
                                      "channels": sorted(c.value for c in outlets)})  # fmt: skip
    relay_task = asyncio.create_task(relay.run(), name="journal-relay")
    consumer_task = asyncio.create_task(case_events.run(), name="case-events")

    async def shut_down() -> None:
        # One grace period for the whole drain; the journal's last flush comes last.
        deadline = asyncio.get_running_loop().time() + settings.shutdown_grace_s

        def left() -> float:
            return max(deadline - asyncio.get_running_loop().time(), 0.0)

        case_events.stop()
        await finish(consumer_task, left(), dlq_publisher)
        await dispatcher.stop(left())  # lanes still parking after it are cancelled
        await dlq_publisher.aclose()
        relay.stop()
        await finish(relay_task, max(left(), MIN_FLUSH_S), journal_publisher)
        await journal_publisher.aclose()
        await stop_consumer(consumer)
        for sender in senders:
            await sender.close()
        store.close()

    serving = asyncio.create_task(server.serve_until_signal(on_shutdown=shut_down), name="grpc")
    loops = {consumer_task, relay_task}
    await asyncio.wait({serving, *loops}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done() or case_events.stopping:
        await serving  # a signal arrived: let the graceful shutdown run to its end
        return 0
    failed = next(task for task in loops if task.done())
    log.error("%s loop failed; stopping", failed.get_name(), exc_info=failed.exception())
    await server.stop(grace=1.0)
    serving.cancel()
    await shut_down()
    return 1


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """`consumer.stop()`, tolerating what aiokafka 0.14 lets escape while the broker is away.

    Its fetcher cancels a fetch that is sleeping out its retry backoff and re-raises that
    CancelledError from stop(); ignored unless this task itself is being cancelled.
    """
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


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
