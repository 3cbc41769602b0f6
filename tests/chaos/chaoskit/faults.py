"""Each kind of fault, done to the running system; `inject` returns once the fault has ended
(what was taken away is back), not once the system has recovered (`recovery` says that)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from support.endpoints import PostgresServer
from support.kafka_cluster import KafkaCluster
from support.provisioning import Restartable
from support.readiness import wait_for_postgres
from support.system import Casedesk

from .schedule import Fault, Kind
from .supervisor import Supervisor

SMTP_REFUSAL = "451 4.3.2 System not accepting network messages"


@dataclass
class Stage:
    """Everything a fault may act on."""

    cluster: KafkaCluster
    postgres: Restartable
    postgres_server: PostgresServer
    system: Casedesk
    supervisor: Supervisor


@dataclass
class Injected:
    fault: Fault
    started_at: float  # time.time()
    ended_at: float
    detail: str = ""  # e.g. which broker was killed
    recovery_s: float | None = None  # None: not recovered within the schedule's timeout
    milestones: str = ""  # how the recovery went (recovery.py)


async def inject(fault: Fault, stage: Stage) -> Injected:
    started = time.time()
    detail = ""
    if fault.kind is Kind.KILL_SERVICES:
        await stage.supervisor.kill(fault.services, fault.down_s)
    elif fault.kind is Kind.KILL_CASE_LEADER:
        detail = await _kill_case_leader(stage, fault.down_s)
    elif fault.kind is Kind.RESTART_POSTGRES:
        await asyncio.to_thread(stage.postgres.halt)
        await asyncio.sleep(fault.down_s)
        await asyncio.to_thread(stage.postgres.resume)
        await asyncio.to_thread(wait_for_postgres, stage.postgres_server, 120)
    elif fault.kind is Kind.STOP_BROKERS:
        await asyncio.to_thread(stage.cluster.stop_all)
        await asyncio.sleep(fault.down_s)
        await asyncio.to_thread(stage.cluster.start_all)
    elif fault.kind is Kind.REFUSE_SMTP:
        stage.system.smtp.fail_next(10**9, SMTP_REFUSAL)
        await asyncio.sleep(fault.down_s)
        stage.system.smtp.fail_next(0)
    else:
        raise ValueError(f"no such fault: {fault.kind}")
    return Injected(fault, started, time.time(), detail)


async def _kill_case_leader(stage: Stage, down_s: float) -> str:
    """kill -9 of the node leading the most partitions of case.events.v1; back after `down_s`."""
    leaders = await stage.cluster.leaders(stage.system.topics.case)
    node, led = Counter(n for n in leaders.values() if n >= 0).most_common(1)[0]
    stage.cluster.kill(node)
    await asyncio.sleep(down_s)
    await asyncio.to_thread(stage.cluster.start_node, node)
    return f"node {node}, leading {led} of {len(leaders)} partitions"
