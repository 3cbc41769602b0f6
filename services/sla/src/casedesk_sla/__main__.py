"""Composition root of the SLA service: `python -m casedesk_sla`.

Loads the clocks and offsets from the store, then runs four things in one event loop: the
consumer of case.events.v1, the alarm timer, the outbox relay to sla.events.v1 and the gRPC server
(health and reflection only, port 50053). The health status turns SERVING only after the clocks
are loaded. If the consumer or the timer fails the process stops, so an orchestrator restarts it
from the store rather than leaving it half alive (the relay tries a failing batch again after a
backoff); SIGTERM drains and stops everything in order.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from casedesk_deadlines import CalendarOverrides, russian_calendar
from casedesk_runtime.grpc_authz import REFLECTION
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.kafka import measured_consumer, stop_consumer
from casedesk_runtime.logs import configure_logging, get_logger
from casedesk_runtime.publishing import Publisher, producer_starter
from casedesk_runtime.settings import SettingsError, load_settings
from casedesk_runtime.telemetry import configure_telemetry
from casedesk_sla.adapters.consumer import CaseEventConsumer
from casedesk_sla.adapters.partitions import wait_for_partitions
from casedesk_sla.adapters.relay import OutboxRelay
from casedesk_sla.adapters.store import SqliteClockStore
from casedesk_sla.adapters.system_clock import SystemClock
from casedesk_sla.application import measurements
from casedesk_sla.application.engine import SlaEngine
from casedesk_sla.application.timer import AlarmTimer
from casedesk_sla.application.watermarks import Watermarks
from casedesk_sla.domain import PolicyRegistry, SlaBook
from casedesk_sla.settings import SlaSettings

log = get_logger("casedesk_sla")


# No RPC of its own: health (always open to probes) and, for an operator's grpcurl, reflection.
OPERATOR_ONLY = {REFLECTION: {"operator"}}


def build_policies(settings: SlaSettings) -> PolicyRegistry:
    overrides = None
    if settings.sla_calendar_overrides:
        overrides = CalendarOverrides.from_file(settings.sla_calendar_overrides)
    return PolicyRegistry(settings.sla_policy_version, russian_calendar(overrides))


async def serve(settings: SlaSettings) -> int:
    policies = build_policies(settings)
    store = SqliteClockStore(settings.sla_db_path)
    book = SlaBook(policies, is_retired=store.is_retired)
    cases = store.load(book)
    measurements.observe_open_clocks(book)
    log.info(
        "clocks loaded",
        extra={"cases": cases, "policy_version": policies.current.version},
    )
    clock = SystemClock()
    # Two publishers, as the relay and the consumer deliver concurrently (one delivery at a time
    # each); the dead-letter one starts its producer only when a record is refused.
    relay_publisher = Publisher(producer_starter(settings, "casedesk-sla"), name="sla relay")
    dead_letters = Publisher(
        producer_starter(settings, "casedesk-sla-dlq"), name="sla dead letters"
    )
    kafka_consumer = measured_consumer(settings, settings.sla_consumer_group, "casedesk-sla")
    relay = OutboxRelay(
        store, relay_publisher, settings.sla_events_topic, settings.sla_relay_batch_size
    )
    engine = SlaEngine(book, store, clock, Watermarks(store.positions()), on_outbox=relay.wake)
    timer = AlarmTimer(engine, clock)
    consumer = CaseEventConsumer(
        kafka_consumer,
        engine,
        settings.case_events_topic,
        dead_letters=dead_letters,
        on_progress=timer.wake,
        max_records=settings.sla_batch_max_records,
    )
    await kafka_consumer.start()
    await consumer.start(await wait_for_partitions(settings, settings.case_events_topic))
    relaying = asyncio.create_task(relay.run(), name="relay")
    loops = [
        asyncio.create_task(consumer.run(), name="consumer"),
        asyncio.create_task(timer.run(), name="timer"),
        relaying,
    ]
    failed: list[BaseException] = []

    def on_loop_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            failed.append(task.exception())  # type: ignore[arg-type]
            log.error("%s loop failed; stopping", task.get_name(), exc_info=task.exception())
            os.kill(os.getpid(), signal.SIGTERM)

    for loop in loops:
        loop.add_done_callback(on_loop_done)

    async def shut_down() -> None:
        consumer.stop()
        timer.stop()
        relay.stop()
        others = [loop for loop in loops if loop is not relaying]  # the relay ends its batch
        for loop in others:
            loop.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await dead_letters.aclose()
        # Best effort within the grace period: whatever is left is published after restart.
        await finish_relay(relay, relaying, relay_publisher, failed, settings.shutdown_grace_s)
        await relay_publisher.aclose()
        await stop_consumer(kafka_consumer)
        store.close()

    server = GrpcServer(settings, access=OPERATOR_ONLY)
    await server.start()
    await server.serve_until_signal(on_shutdown=shut_down)
    return 1 if failed else 0


async def finish_relay(
    relay: OutboxRelay,
    relaying: asyncio.Task[None],
    publisher: Publisher,
    failed: list[BaseException],
    grace_s: float,
) -> None:
    """Let the stopped relay end its batch and, unless a loop `failed`, empty the outbox, all
    within `grace_s`. A delivery still waiting for the broker then (an outage) is abandoned: its
    rows stay in the outbox for the next run.
    """

    async def finish() -> None:
        await asyncio.gather(relaying, return_exceptions=True)
        if not failed:
            await relay.drain()

    finishing = asyncio.ensure_future(finish())
    done, _ = await asyncio.wait({finishing}, timeout=grace_s)
    if not done:
        log.warning("outbox not drained within the grace period; published after the restart")
        publisher.close()
    await finishing


def main() -> None:
    try:
        settings = load_settings(SlaSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.service_name, settings.log_level)
    telemetry = configure_telemetry(settings.service_name, settings=settings)
    try:
        code = asyncio.run(serve(settings))
    finally:
        telemetry.shutdown()
    sys.exit(code)


if __name__ == "__main__":
    main()
