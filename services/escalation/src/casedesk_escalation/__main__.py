"""`python -m casedesk_escalation`: the escalation service process, and its composition root.

Builds the store, the policy, the Kafka consumer and publisher, the case client and the gRPC
server, and wires them. The gRPC server serves health (and reflection) only: the escalation
service has no API of its own, its input is Kafka and its output the case service's Escalate and
the decision journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from casedesk_escalation.adapters.case_service import CaseEscalator
from casedesk_escalation.adapters.kafka.consumer import EscalationConsumer
from casedesk_escalation.adapters.kafka.journal_topic import KafkaJournalTopic
from casedesk_escalation.adapters.persistence.dialects import postgres_dialect, sqlite_dialect
from casedesk_escalation.adapters.persistence.sql_store import SqlDecisionStore
from casedesk_escalation.adapters.policy_file import PolicyError, load_policy
from casedesk_escalation.application.command_runner import CommandRunner
from casedesk_escalation.application.desk import EscalationDesk
from casedesk_escalation.application.escalations import Escalations
from casedesk_escalation.application.journal_relay import DecisionJournal
from casedesk_escalation.settings import EscalationSettings
from casedesk_escalation.wire import ProtobufDecisions
from casedesk_runtime.grpc_authz import REFLECTION
from casedesk_runtime.grpc_client import channel_for
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.kafka import measured_consumer, stop_consumer
from casedesk_runtime.logs import configure_logging, get_logger
from casedesk_runtime.publishing import Publisher, producer_starter
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry

# Named for the package: run with -m, this module is "__main__".
log = get_logger("casedesk_escalation")
# After the grace period and abandoning Kafka deliveries, how long the consumer still gets to end.
ABANDON_WAIT_S = 5.0


# No RPC of its own: health (always open to probes) and, for an operator's grpcurl, reflection.
OPERATOR_ONLY = {REFLECTION: {"operator"}}


async def run(settings: EscalationSettings) -> int:
    """Run until SIGTERM/SIGINT (returns 0) or until the consumer fails (returns 1)."""
    async with escalation_pipeline(settings) as escalations:
        server = GrpcServer(settings, access=OPERATOR_ONLY)
        await server.start()
        return await _serve(server, escalations, settings.shutdown_grace_s)


@contextlib.asynccontextmanager
async def escalation_pipeline(settings: EscalationSettings) -> AsyncIterator[EscalationConsumer]:
    """The consumer with everything it needs, connected; closed again on exit."""
    policy = load_policy(settings.escalation_policy_file)
    store = _store(settings)
    await store.open()
    channel = channel_for(settings, settings.case_address)
    # Dead letters and the journal are delivered one after the other by the consumer loop.
    publisher = Publisher(producer_starter(settings, "escalation"), name="escalation")
    consumer = measured_consumer(
        settings,
        settings.escalation_consumer_group,
        "escalation",
        # Range, not aiokafka's default round robin: it gives one consumer the same partition
        # numbers of both topics, so a case's two streams meet in one process.
        partition_assignment_strategy=(RangePartitionAssignor,),
    )
    try:
        await consumer.start()
        encoding = ProtobufDecisions()
        escalations = EscalationConsumer(
            consumer=consumer,
            publisher=publisher,
            escalations=Escalations(
                store=store,
                desk=EscalationDesk(policy, store, settings.escalation_state_cache, encoding),
                commands=CommandRunner(
                    store,
                    CaseEscalator(
                        channel, settings.case_call_timeout_s, settings.case_call_attempts
                    ),
                    settings.escalation_call_concurrency,
                    encoding,
                ),
                journal=DecisionJournal(
                    store, KafkaJournalTopic(publisher, settings.topics().decisions)
                ),
                group=settings.escalation_consumer_group,
            ),
            topics=settings.topics(),
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
            await stop_consumer(consumer)
        await publisher.aclose()
        await channel.close()
        await store.close()


def _store(settings: EscalationSettings) -> SqlDecisionStore:
    if settings.escalation_store == "postgres":
        return SqlDecisionStore(postgres_dialect(settings.postgres_conninfo()))
    return SqlDecisionStore(sqlite_dialect(settings.escalation_sqlite_path))


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


def main() -> int:
    try:
        settings = load_settings(EscalationSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.service_name, settings.log_level)
    telemetry = configure_telemetry(settings.service_name, settings=settings)
    try:
        return asyncio.run(run(settings))
    except PolicyError as error:
        log.error("cannot start: %s", error)
        return 2
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    sys.exit(main())
