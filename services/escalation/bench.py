"""Benchmark of escalation: breaches and citizen requests on Kafka -> decisions journaled.

Runs the service as a real process (`python -m casedesk_escalation`) against the Kafka broker named
by CASEDESK_BENCH_KAFKA (tools/bench.sh starts one) and a stand-in CaseService on a real gRPC port
in this process. A backlog of CASES cases is produced first, each with a first-response breach
(accepted, Escalate L1 -> L2), a resolution breach (accepted, L2 -> L3) and a citizen request
(rejected: never above L3), so two of every three decisions cross gRPC before they are committed
as settled. The topics are private to the run (six partitions each, like production ones).

Prints, from the first to the last decision on escalation.decisions.v1:
  BENCH escalation.decisions_per_s <n> 1/s            SQLite store (the embedded default)
  BENCH escalation.decisions_per_s_postgres <n> 1/s   when CASEDESK_BENCH_POSTGRES_* are set
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_escalation.testing import events
from casedesk_escalation.testing.case_standin import StandInCaseService, serve_standin
from casedesk_escalation.testing.journal import read_decisions
from casedesk_escalation.testing.policies import packaged_without_cooldown
from casedesk_escalation.wire import Topics
from casedesk_runtime.events import from_timestamp
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_runtime.topics import TopicSpec, ensure_topics
from casedesk_vocabulary.enums import Channel, EscalationReason
from casedesk_vocabulary.topics import CASE_EVENTS, ESCALATION_DECISIONS, SLA_EVENTS

# The benchmark's clients speak plaintext: the services run with the explicit development setting
# (mutual TLS is measured separately, see the issue notes).
PLAINTEXT = {"CASEDESK_GRPC_INSECURE_DEV": "true"}


CASES = int(os.environ.get("CASEDESK_BENCH_ESCALATION_CASES", "3000"))


async def produce_backlog(bootstrap: str, topics: Topics, case_ids: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    now = datetime.now(UTC)
    try:
        deliveries = []
        for case_id in case_ids:
            case = CaseStream(case_id, channel=Channel.PHONE, at=now)
            created = case.created()
            late = case.escalation_requested(
                reason=EscalationReason.NO_ANSWER_IN_TIME, request_id="late"
            )
            for topic, value in (
                (topics.case, created.SerializeToString()),
                (topics.sla, events.breached(case_id, sla_pb2.FIRST_RESPONSE, 1, now, 4)),
                (topics.sla, events.breached(case_id, sla_pb2.RESOLUTION, 2, now + timedelta(1))),
                (topics.case, late.SerializeToString()),
            ):
                deliveries.append(await producer.send(topic, value, key=case_id.encode()))
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def run_once(bootstrap: str, backend: str, postgres: dict[str, str], scratch: Path) -> float:
    group = f"escalation-bench-{uuid.uuid4().hex[:8]}"
    topics = Topics(
        f"{CASE_EVENTS}.{group}", f"{SLA_EVENTS}.{group}", f"{ESCALATION_DECISIONS}.{group}"
    )
    specs = [TopicSpec(name) for name in (topics.case, topics.sla, topics.decisions)]
    specs += [TopicSpec(f"{name}.dlq.escalation", partitions=1) for name in topics.consumed]
    await ensure_topics(bootstrap, tuple(specs))
    policy = packaged_without_cooldown(scratch, version=f"bench-{group}")
    env = {
        **postgres,
        "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CASEDESK_ESCALATION_STORE": backend,
        "CASEDESK_ESCALATION_SQLITE_PATH": str(scratch / f"{group}.sqlite"),
        "CASEDESK_ESCALATION_CONSUMER_GROUP": group,
        "CASEDESK_ESCALATION_POLICY_FILE": str(policy),
        "CASEDESK_CASE_EVENTS_TOPIC": topics.case,
        "CASEDESK_SLA_EVENTS_TOPIC": topics.sla,
        "CASEDESK_ESCALATION_DECISIONS_TOPIC": topics.decisions,
        "CASEDESK_LOG_LEVEL": "INFO",
    }
    servicer = StandInCaseService()
    server, address = await serve_standin(servicer)
    env["CASEDESK_CASE_ADDRESS"] = address
    case_ids = [f"bench-{uuid.uuid4()}" for _ in range(CASES)]
    await produce_backlog(bootstrap, topics, case_ids)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "casedesk_escalation",
        env={**os.environ, **env, "CASEDESK_GRPC_PORT": "0", **PLAINTEXT},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        expected = 3 * len(case_ids)
        decisions = await read_decisions(
            bootstrap, topics.decisions, set(case_ids), lambda ds: len(ds) >= expected, 600
        )
        last_read = time.time()
    finally:
        process.terminate()
        await process.wait()
        await server.stop(0)
    first = min(from_timestamp(d.meta.occurred_at).timestamp() for d in decisions)
    accepted = sum(d.accepted for d in decisions)
    if accepted != 2 * len(case_ids) or len(servicer.applied) != accepted:
        raise SystemExit(f"bench: {accepted} accepted, {len(servicer.applied)} applied")
    return len(decisions) / (last_read - first)


async def main() -> None:
    bootstrap = os.environ.get("CASEDESK_BENCH_KAFKA", "127.0.0.1:9092")
    with tempfile.TemporaryDirectory(prefix="escalation-bench-") as scratch:
        rate = await run_once(bootstrap, "sqlite", {}, Path(scratch))
        print(f"BENCH escalation.decisions_per_s {rate:.0f} 1/s", flush=True)
        if os.environ.get("CASEDESK_BENCH_POSTGRES_HOST"):
            postgres = {
                f"POSTGRES_{name}": os.environ[f"CASEDESK_BENCH_POSTGRES_{name}"]
                for name in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME")
            }
            rate = await run_once(bootstrap, "postgres", postgres, Path(scratch))
            print(f"BENCH escalation.decisions_per_s_postgres {rate:.0f} 1/s", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
