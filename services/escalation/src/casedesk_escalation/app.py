"""Composition root of the escalation process: store, policy, Kafka, the case client, gRPC health.

The gRPC server serves health (and reflection) only: the escalation service has no API of its own,
its input is Kafka and its output the case service's Escalate and the decision journal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from casedesk_escalation.case_client import CaseEscalator
from casedesk_escalation.commands import CommandRunner
from casedesk_escalation.consumer import EscalationConsumer
from casedesk_escalation.desk import EscalationDesk
from casedesk_escalation.journal import DecisionJournal
from casedesk_escalation.policy_file import load_policy
from casedesk_escalation.settings import EscalationSettings
from casedesk_escalation.store import store_from_settings
from casedesk_runtime.grpc_client import insecure_channel
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.kafka import consumer_config
from casedesk_runtime.logs import get_logger
from casedesk_runtime.publishing import Publisher, producer_starter

log = get_logger(__name__)
# After the grace period and abandoning Kafka deliveries, how long the consumer still gets to end.
ABANDON_WAIT_S = 5.0


async def run(settings: EscalationSettings) -> int:
    """Run until SIGTERM/SIGINT (returns 0) or until the consumer fails (returns 1)."""
    async with escalation_pipeline(settings) as escalations:
        server = GrpcServer(settings)
        await server.start()
        return await _serve(server, escalations, settings.shutdown_grace_s)


@contextlib.asynccontextmanager
async def escalation_pipeline(settings: EscalationSettings) -> AsyncIterator[EscalationConsumer]:
    """The consumer with everything it needs, connected; closed again on exit."""
    policy = load_policy(settings.escalation_policy_file)
    store = store_from_settings(settings)
    await store.open()
    channel = insecure_channel(settings.case_address)
    # Dead letters and the journal are delivered one after the other by the consumer loop.
    publisher = Publisher(producer_starter(settings, "escalation"), name="escalation")
    consumer = AIOKafkaConsumer(
        **consumer_config(settings, settings.escalation_consumer_group),
        client_id="escalation",
        # Range, not aiokafka's default round robin: it gives one consumer the same partition
        # numbers of both topics, so a case's two streams meet in one process.
        partition_assignment_strategy=(RangePartitionAssignor,),
    )
    try:
        await consumer.start()
        escalations = EscalationConsumer(
            consumer=consumer,
            publisher=publisher,
            store=store,
            desk=EscalationDesk(policy, store, settings.escalation_state_cache),
            commands=CommandRunner(
                store,
                CaseEscalator(channel, settings.case_call_timeout_s, settings.case_call_attempts),
                settings.escalation_call_concurrency,
            ),
            journal=DecisionJournal(store, publisher, settings.topics().decisions),
            topics=settings.topics(),
            group=settings.escalation_consumer_group,
            batch_max=settings.escalation_batch_max,
            breach_wait_s=settings.escalation_breach_wait_s,
        )
        log.info(
            "escalation service started",
            extra={"policy_version": policy.version, "store": store.backend},
        )
        yield escalations
    finally:
        with contextlib.suppress(Exception):
            await _stop_consumer(consumer)
        await publisher.aclose()
        await channel.close()
        await store.close()


async def _stop_consumer(consumer: AIOKafkaConsumer) -> None:
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


async def _serve(server: GrpcServer, escalations: EscalationConsumer, grace_s: float) -> int:
    consuming = asyncio.create_task(escalations.run(), name="escalation-consumer")
    serving = asyncio.create_task(server.serve_until_signal(), name="grpc-server")
    done, _ = await asyncio.wait({consuming, serving}, return_when=asyncio.FIRST_COMPLETED)
    if consuming in done:
        # run() returns only after stop(): finishing here means the consumer failed.
        serving.cancel()
        await server.stop(0)
        error = consuming.exception()
        log.error("consumer stopped unexpectedly", exc_info=error)
        return 1
    escalations.stop()
    # Everything is committed batch by batch, so cutting a slow batch short is safe: first what
    # waits for Kafka (an outage), then whatever else holds it (the case service, the store).
    done, _ = await asyncio.wait({consuming}, timeout=grace_s)
    if not done:
        log.warning("consumer did not stop within the grace period; Kafka deliveries abandoned")
        escalations.abandon_publishing()
        try:
            await asyncio.wait_for(consuming, timeout=ABANDON_WAIT_S)
        except TimeoutError:
            log.warning("consumer still busy after abandoning Kafka deliveries; cancelled")
    else:
        await consuming  # raises what the consumer failed with while stopping, if anything
    return 0
