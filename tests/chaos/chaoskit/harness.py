"""One chaos run from start to verdict.

1. A three-node Kafka cluster (support/kafka_cluster.py), a PostgreSQL server of the run's own
   (the case service's event store and intake's records), and the five services on them as in
   production (support/system.py: mutual TLS, a SCRAM principal per service, ACLs), with the
   SLA policy in seconds so that breaches happen while the run lasts.
2. Steady load (load.py) for the whole schedule; each fault (faults.py) is injected, then the
   run waits for the system to recover (recovery.py) and goes on a little before the next.
3. The load stops, the lifecycles under way finish, and the run waits until the system has
   settled: the outbox empty, every notice the topic calls for received (or nothing arriving
   any more), sla.events.v1 quiet past the cut-off instant.
4. The verdict (checks.py) from the topics read back whole, the sinks, and the replay tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.endpoints import PostgresServer
from support.kafka_cluster import REPLICATION_FACTOR, KafkaCluster
from support.provisioning import Restartable
from support.system import SLA_POLICY, Casedesk, start_casedesk

from casedesk.case.v1 import events_pb2
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_case.cli.outbox_status import read_status

from . import checks
from .faults import Stage, inject
from .load import Ledger, Load
from .people import Citizens, SpecialistsIdentityProvider
from .reading import end_offsets, read_to_end
from .recovery import recover
from .replaying import ReplayTool
from .report import Report
from .schedule import Schedule
from .supervisor import Supervisor

Say = Callable[[str], None]
# The last clocks of the load are due 8 s after its last case (test-seconds): the cut-off for
# the breach comparison lies beyond every one of them.
CUT_OFF_AFTER_LOAD_S = 12.0
QUIET_S = 10.0  # nothing new on sla.events.v1 and in the sinks for this long: settled
NOTHING_ARRIVES_S = 60.0  # notices still missing, but none arrived for this long: give up


def service_settings(postgres: PostgresServer) -> dict[str, dict[str, str]]:
    return {
        # Intake's idempotency records on PostgreSQL too, as in production.
        "intake": {"CASEDESK_DATABASE_URL": postgres.dsn},
        "notify": {
            # Every notifying event its own notice (as tests/integration/test_replay_system.py):
            # no reply merged into «Ответ готов», no per-recipient limit.
            "CASEDESK_REPLY_MERGE_WINDOW_S": "0",
            "CASEDESK_RECIPIENT_LIMIT": "0",
            # Retries capped at 15 s, so that notices refused during the SMTP server's minute
            # are sent within seconds of its return and the run's final checks need not wait
            # out the defaults' long backoffs (which also outlast the minute, by minutes: the
            # earlier defaults gave up inside it, the run's third defect). 30 attempts: never
            # under three minutes (RetryPolicy.shortest_span_s).
            "CASEDESK_MAX_ATTEMPTS": "30",
            "CASEDESK_RETRY_BASE_S": "0.5",
            "CASEDESK_RETRY_MAX_S": "15",
        },
    }


async def run_chaos(
    schedule: Schedule,
    postgres: Restartable,
    postgres_server: PostgresServer,
    directory: Path,
    say: Say,
) -> Report:
    began = time.monotonic()
    say = _timed(say, began)
    (directory / "system").mkdir(parents=True, exist_ok=True)
    cluster = KafkaCluster(directory / "kafka")
    say(f"chaos {schedule.name}: starting a {REPLICATION_FACTOR}-node Kafka cluster")
    await asyncio.to_thread(cluster.start)
    try:
        with SpecialistsIdentityProvider() as people:
            async with start_casedesk(
                cluster.access, postgres_server.eventsourcing_env(), postgres_server.dsn,
                directory / "system", keycloak=people, settings=service_settings(postgres_server),
                sms_gateway_deduplicates=True, replication_factor=REPLICATION_FACTOR,
            ) as system:  # fmt: skip
                say(f"chaos {schedule.name}: system up after {time.monotonic() - began:.0f} s")
                supervisor = Supervisor(system.processes)
                stage = Stage(cluster, postgres, postgres_server, system, supervisor)
                watching = asyncio.create_task(supervisor.watch())
                try:
                    return await _run(schedule, stage, directory, began, say)
                finally:
                    watching.cancel()
                    # A service it could not start again shows in the report (starts failed).
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await watching
    finally:
        await asyncio.to_thread(cluster.close)


async def _run(schedule: Schedule, stage: Stage, directory: Path, began: float, say: Say) -> Report:
    ledger = Ledger()
    load = Load(stage.system, ledger, Citizens(), give_up_s=schedule.recovery_timeout_s)
    injected = []
    async with load.connected():
        stop = asyncio.Event()
        generating = asyncio.create_task(load.run(schedule.cases_per_s, stop))
        try:
            await asyncio.sleep(schedule.warm_up_s)
            for fault in schedule.faults:
                say(f"chaos: {fault.name}")
                done = await inject(fault, stage)
                recovery = await recover(stage, load, done.ended_at, schedule.recovery_timeout_s)
                done.recovery_s, done.milestones = recovery.seconds, recovery.milestones
                recovered = "not recovered" if done.recovery_s is None else (
                    f"recovered in {done.recovery_s:.1f} s"
                )  # fmt: skip
                say(f"chaos: {fault.name}: {recovered} ({len(ledger.acknowledged)} cases so far)")
                injected.append(done)
                await asyncio.sleep(schedule.between_s)
        finally:
            stop.set()
            await generating
        cut_short = await load.finish(schedule.recovery_timeout_s)
    cut_off = datetime.now(UTC) + timedelta(seconds=CUT_OFF_AFTER_LOAD_S)
    settled = await _settle(stage, cut_off, schedule.settle_timeout_s)
    say(f"chaos: settled ({settled}); checking")
    verdict = await _verdict(stage, ledger, cut_off, directory / "replay")
    report = Report(
        schedule.name, time.monotonic() - began, injected, verdict, ledger,
        list(stage.supervisor.exits), list(stage.supervisor.restarts_failed), cut_short, settled,
    )  # fmt: skip
    # Every problem, not only the first of each kind, beside the run's logs.
    (directory / "chaos-report.txt").write_text("\n".join(report.lines(0)) + "\n")
    return report


def _timed(say: Say, began: float) -> Say:
    return lambda line: say(f"[+{time.monotonic() - began:4.0f} s] {line}")


async def _settle(stage: Stage, cut_off: datetime, timeout_s: float) -> str:
    """Wait until nothing more is owed; say how it ended."""
    system = stage.system
    while datetime.now(UTC) < cut_off + timedelta(seconds=5):
        await asyncio.sleep(1.0)
    deadline = time.monotonic() + timeout_s
    last_change, last_seen = time.monotonic(), None
    while time.monotonic() < deadline:
        seen = (
            len(system.smtp.snapshot()), len(system.sms.accepted), len(system.sms.repeated),
            tuple(sorted((await end_offsets(system.kafka, system.topics.sla)).items())),
        )  # fmt: skip
        if seen != last_seen:
            last_seen, last_change = seen, time.monotonic()
        quiet_s = time.monotonic() - last_change
        if await _outbox_empty(system) and stage.supervisor.all_running():
            owed = await _notices_owed(system)
            if not owed and quiet_s >= QUIET_S:
                return "everything delivered"
            if owed and quiet_s >= NOTHING_ARRIVES_S:
                return (
                    f"{owed} notices still missing, nothing arrived for {NOTHING_ARRIVES_S:.0f} s"
                )
        await asyncio.sleep(2.0)
    return f"not settled within {timeout_s:.0f} s"


async def _outbox_empty(system: Casedesk) -> bool:
    try:
        status = await asyncio.to_thread(read_status, system.topics.case, system.case_store_env)
    except Exception:
        return False
    return status.unpublished == 0


async def _notices_owed(system: Casedesk) -> int:
    records = await read_to_end(system.kafka, system.topics.case, events_pb2.CaseEvent.FromString)
    wanted = checks.expected_notices(records)
    received = checks.mail_ids(system.smtp.snapshot()) + checks.sms_ids(list(system.sms.accepted))
    return sum(1 for key in wanted if not received[key])


async def _verdict(
    stage: Stage, ledger: Ledger, cut_off: datetime, directory: Path
) -> checks.Verdict:
    system = stage.system
    kafka, topics = system.kafka, system.topics
    case_records = await read_to_end(kafka, topics.case, events_pb2.CaseEvent.FromString)
    sla_records = await read_to_end(kafka, topics.sla, sla_pb2.SlaEvent.FromString)
    journal = await read_to_end(
        kafka, topics.notification, journal_pb2.NotificationEvent.FromString
    )
    replay = ReplayTool(system, directory, SLA_POLICY)
    decided, stored, comparison, journal_rows = await asyncio.gather(
        replay.decided_breaches(cut_off),
        replay.stored_cases(),
        replay.store_comparison(),
        replay.notices(),
    )
    verdict = checks.Verdict(store_comparison=comparison)
    checks.check_cases(verdict, ledger, case_records, stored)
    checks.check_notices(
        verdict, checks.expected_notices(case_records), system.smtp.snapshot(),
        list(system.sms.accepted), list(system.sms.repeated), journal, journal_rows,
        stage.supervisor.exits,
    )  # fmt: skip
    checks.check_breaches(verdict, decided, sla_records, case_records, cut_off)
    return verdict
