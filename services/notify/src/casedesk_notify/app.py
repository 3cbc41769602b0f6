"""Composition root: builds notify from its settings and runs it until SIGTERM.

Runs three loops (consumer, dispatcher lanes, journal relay) beside the runtime's gRPC server,
which serves only health and reflection. A failing consumer loop ends the process with an error,
so the orchestrator restarts it; nothing is lost, the store resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

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
from casedesk_runtime.kafka import consumer_config, dead_letter, producer_config

log = logging.getLogger(__name__)
CONSUMER_NAME = "notify"  # names the dead-letter topic case.events.v1.dlq.notify


async def run(settings: NotifySettings) -> int:
    store = DeliveryStore(settings.store_path, settings.store_synchronous)
    catalog = TemplateCatalog(settings.portal_base_url, settings.template_version)
    producer = AIOKafkaProducer(**producer_config(settings, client_id="notify"))
    consumer = AIOKafkaConsumer(
        **consumer_config(settings, group_id=settings.consumer_group),
        client_id="notify",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )
    outlets, senders = build_outlets(settings)
    relay = JournalRelay(store, producer, settings.journal_topic)

    async def park(record: Any, error: Exception | str) -> None:
        await dead_letter(producer, settings.source_topic, CONSUMER_NAME, record, error)

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

    await producer.start()
    await consumer.start()
    pending = store.pending()
    dispatcher.submit(pending)  # resume what a previous run left unfinished
    log.info("notify started", extra={"resumed_deliveries": len(pending),
                                      "channels": sorted(c.value for c in outlets)})  # fmt: skip
    relay_task = asyncio.create_task(relay.run(), name="journal-relay")
    consumer_task = asyncio.create_task(case_events.run(), name="case-events")

    async def shut_down() -> None:
        case_events.stop()
        await asyncio.gather(consumer_task, return_exceptions=True)
        await dispatcher.stop(settings.shutdown_grace_s)
        relay.stop()
        await asyncio.gather(relay_task, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
        for sender in senders:
            await sender.close()
        store.close()

    serving = asyncio.create_task(server.serve_until_signal(on_shutdown=shut_down), name="grpc")
    await asyncio.wait({serving, consumer_task}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done() or case_events.stopping:
        await serving  # a signal arrived: let the graceful shutdown run to its end
        return 0
    log.error("consumer loop failed; stopping", exc_info=consumer_task.exception())
    await server.stop(grace=1.0)
    serving.cancel()
    await shut_down()
    return 1
