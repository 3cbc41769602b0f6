"""Benchmark of the case service on PostgreSQL, through gRPC, with the outbox relay running.

Prints `BENCH <metric> <value> <unit>` lines:
  case.creates_per_s_postgres         CreateCase calls per second (concurrent grpc.aio clients)
  case.status_changes_per_s_postgres  ChangeStatus calls per second
  case.p99_ms_postgres                99th percentile latency at RATE commands/s offered (paced,
                                      open loop: creates, then status changes; measured from each
                                      call's scheduled start, so a stalled server is not hidden)
  case.rebuild_1000_events_ms         rebuilding a 1,000-event case from the store (median)
Needs PostgreSQL and Kafka: CASEDESK_BENCH_POSTGRES_{HOST,PORT,USER,PASSWORD,DBNAME} and
CASEDESK_BENCH_KAFKA (tools/bench.sh starts both). Bounded: a fixed number of calls, each with a
deadline. Must (DESIGN.md): >= 500 commands/s with p99 <= 50 ms, rebuild <= 1 ms.
Throughput is measured closed loop with IN_FLIGHT calls at a time, where latency is only
IN_FLIGHT / throughput by construction (printed as a comment, not as the p99).
Knobs: CASEDESK_BENCH_CASE_{CREATES,CHANGES,IN_FLIGHT,RATE,PACED};
CASEDESK_BENCH_CASE_EXTRA="K=V,K=V" adds service settings (e.g. CASEDESK_RELAY_ENABLED=false
to see the relay's share).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk_runtime.topics import ensure_topics

# The benchmark's clients speak plaintext: the services run with the explicit development setting
# (mutual TLS is measured separately, see the issue notes).
PLAINTEXT = {"CASEDESK_GRPC_INSECURE_DEV": "true"}


CREATES = int(os.environ.get("CASEDESK_BENCH_CASE_CREATES", "4000"))
CHANGES = int(os.environ.get("CASEDESK_BENCH_CASE_CHANGES", "4000"))
IN_FLIGHT = int(os.environ.get("CASEDESK_BENCH_CASE_IN_FLIGHT", "24"))
CHANNELS = 4
RATE = float(os.environ.get("CASEDESK_BENCH_CASE_RATE", "500"))
PACED = int(os.environ.get("CASEDESK_BENCH_CASE_PACED", "3000"))
DEADLINE_S = 5.0
EXTRA = dict(
    v.split("=", 1) for v in os.environ.get("CASEDESK_BENCH_CASE_EXTRA", "").split(",") if v
)


def postgres_env() -> dict[str, str]:
    return {
        "POSTGRES_HOST": os.environ.get("CASEDESK_BENCH_POSTGRES_HOST", "127.0.0.1"),
        "POSTGRES_PORT": os.environ.get("CASEDESK_BENCH_POSTGRES_PORT", "5432"),
        "POSTGRES_USER": os.environ.get("CASEDESK_BENCH_POSTGRES_USER", "casedesk"),
        "POSTGRES_PASSWORD": os.environ.get("CASEDESK_BENCH_POSTGRES_PASSWORD", "casedesk"),
        "POSTGRES_DBNAME": os.environ.get("CASEDESK_BENCH_POSTGRES_DBNAME", "casedesk"),
    }


def dsn(env: dict[str, str]) -> str:
    return (
        f"host={env['POSTGRES_HOST']} port={env['POSTGRES_PORT']} user={env['POSTGRES_USER']} "
        f"password={env['POSTGRES_PASSWORD']} dbname={env['POSTGRES_DBNAME']}"
    )


def actor(kind: int, name: str) -> pb.CommandContext:
    return pb.CommandContext(
        idempotency_key=str(uuid.uuid4()),
        actor=types_pb2.Actor(kind=kind, id=name),  # type: ignore[arg-type]
    )


def create_request(n: int) -> pb.CreateCaseRequest:
    return pb.CreateCaseRequest(
        context=actor(types_pb2.Actor.SYSTEM, "bench"),
        channel=types_pb2.PORTAL_CHAT,
        type=types_pb2.TECHNICAL,
        category=(types_pb2.REGISTRATION_SIGN_IN, types_pb2.TECHNICAL_FAULT)[n % 2],
        citizen=types_pb2.Citizen(account_login=f"citizen-{n}", mobile_phone="+79160000000"),
        content=types_pb2.CaseContent(subject="Не приходит СМС-код", description="Жду код"),
    )


async def drive(calls: list, stubs: list) -> tuple[float, list[float]]:  # type: ignore[type-arg]
    """Run `calls` (functions of a stub returning an awaitable) IN_FLIGHT at a time."""
    latencies: list[float] = []
    queue = iter(enumerate(calls))

    async def worker() -> None:
        for n, call in queue:
            started = time.perf_counter()
            await call(stubs[n % len(stubs)])
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return time.perf_counter() - began, latencies


async def paced(calls: list, stubs: list) -> list[float]:  # type: ignore[type-arg]
    """Start call n at n / RATE seconds (open loop); latency from that scheduled instant."""
    latencies: list[float] = []

    async def one(n: int, call, scheduled: float) -> None:  # type: ignore[no-untyped-def]
        await call(stubs[n % len(stubs)])
        latencies.append((time.perf_counter() - scheduled) * 1000)

    begin = time.perf_counter()
    tasks = []
    for n, call in enumerate(calls):
        scheduled = begin + n / RATE
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n, call, scheduled)))
    await asyncio.gather(*tasks)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_grpc(address: str, pid: int) -> None:
    channels = [grpc.aio.insecure_channel(address) for _ in range(CHANNELS)]
    stubs = [case_service_pb2_grpc.CaseServiceStub(c) for c in channels]
    try:
        warm = [
            lambda s, n=n: s.CreateCase(create_request(n), timeout=DEADLINE_S) for n in range(300)
        ]
        await drive(warm, stubs)
        case_ids: list[str] = []
        cpu_before = cpu_seconds(pid)

        async def create(stub: case_service_pb2_grpc.CaseServiceStub, n: int) -> None:
            view = await stub.CreateCase(create_request(n), timeout=DEADLINE_S)
            case_ids.append(view.case_id)

        elapsed, create_ms = await drive(
            [lambda s, n=n: create(s, n) for n in range(CREATES)], stubs
        )
        print(f"BENCH case.creates_per_s_postgres {CREATES / elapsed:.0f} ops/s", flush=True)

        # Each case moves IN_PROGRESS <-> WAITING_FOR_CITIZEN; one call per case at a time.
        rounds = max(1, CHANGES // len(case_ids))
        actions = [pb.TAKE_IN_WORK] + [pb.ASK_CLARIFICATION, pb.TAKE_IN_WORK] * rounds
        specialist = types_pb2.Actor.SPECIALIST

        async def walk(stub: case_service_pb2_grpc.CaseServiceStub, case_id: str) -> None:
            for action in actions[: rounds + 1]:
                request = pb.ChangeStatusRequest(
                    context=actor(specialist, "l1-001"),
                    case_id=case_id,
                    action=action,  # type: ignore[arg-type]
                )
                await stub.ChangeStatus(request, timeout=DEADLINE_S)

        changes = len(case_ids) * (rounds + 1)
        per_call: list[float] = []
        began = time.perf_counter()

        async def timed_walk(stub: case_service_pb2_grpc.CaseServiceStub, case_id: str) -> None:
            for action in actions[: rounds + 1]:
                request = pb.ChangeStatusRequest(
                    context=actor(specialist, "l1-001"),
                    case_id=case_id,
                    action=action,  # type: ignore[arg-type]
                )
                started = time.perf_counter()
                await stub.ChangeStatus(request, timeout=DEADLINE_S)
                per_call.append((time.perf_counter() - started) * 1000)

        await drive([lambda s, c=c: timed_walk(s, c) for c in case_ids], stubs)
        elapsed = time.perf_counter() - began
        print(f"BENCH case.status_changes_per_s_postgres {changes / elapsed:.0f} ops/s", flush=True)
        commands = len(create_ms) + len(per_call)
        cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / commands
        saturated = create_ms + per_call

        # Latency at the required rate: new cases, then one status change per walked case.
        creates = [
            lambda s, n=n: s.CreateCase(create_request(n), timeout=DEADLINE_S)
            for n in range(10**6, 10**6 + PACED // 2)
        ]
        changes = [
            lambda s, c=c: s.ChangeStatus(
                pb.ChangeStatusRequest(
                    context=actor(specialist, "l1-001"), case_id=c, action=pb.TAKE_IN_WORK
                ),
                timeout=DEADLINE_S,
            )
            for c in case_ids[: PACED - PACED // 2]
            if rounds % 2 == 1  # the walk left these cases WAITING_FOR_CITIZEN
        ]
        creates_at_rate = await paced(creates, stubs)
        changes_at_rate = await paced(changes, stubs)
        at_rate = creates_at_rate + changes_at_rate
        print(f"BENCH case.p99_ms_postgres {percentile(at_rate, 0.99):.1f} ms", flush=True)
        print(
            f"# at {RATE:.0f}/s offered: p50 {percentile(at_rate, 0.5):.1f} ms over "
            f"{len(at_rate)} commands (p99 creates {percentile(creates_at_rate, 0.99):.1f} ms, "
            f"status changes {percentile(changes_at_rate, 0.99):.1f} ms); "
            f"at saturation ({IN_FLIGHT} in flight): p50 "
            f"{statistics.median(saturated):.1f} ms, p99 {percentile(saturated, 0.99):.1f} ms; "
            f"server CPU {cpu_ms:.2f} ms per command",
            file=sys.stderr,
        )
    finally:
        for channel in channels:
            await channel.close()


def measure_rebuild(env: dict[str, str]) -> None:
    from casedesk_case.application import CommandMeta
    from casedesk_case.domain.values import (
        Actor,
        ActorKind,
        CaseContent,
        CaseType,
        Category,
        Channel,
        Citizen,
        EventContext,
        Status,
    )  # fmt: skip
    from casedesk_case.testing import CaseApplication

    writer = CaseApplication(env=env)
    context = EventContext(Actor(ActorKind.SPECIALIST, "l1-001"), "bench", "bench")
    meta = CommandMeta(context)
    view = writer.create_case(
        channel=Channel.EMAIL, case_type=CaseType.CONSULTATION, category=Category.OTHER,
        citizen=Citizen(account_login="long-case"), content=CaseContent(subject="Долгое дело"),
        meta=meta,
    )  # fmt: skip
    case_id = view.case_id
    status = Status.IN_PROGRESS
    writer.change_status(case_id, to_status=status, reason="", meta=meta)
    # A long conversation: comments and clarification rounds until 1,000 events.
    while writer.get_case(case_id).version < 1000:
        version = writer.get_case(case_id).version
        if version % 4 == 0:
            status = (
                Status.WAITING_FOR_CITIZEN if status is Status.IN_PROGRESS else Status.IN_PROGRESS
            )
            writer.change_status(case_id, to_status=status, reason="уточнение", meta=meta)
        else:
            writer.add_comment(
                case_id, body=f"Ответ специалиста №{version}", public=True, meta=meta
            )
    writer.close()
    # No aggregate cache: every get rebuilds from the latest snapshot and the events after it.
    reader = CaseApplication(env={**env, "AGGREGATE_CACHE_MAXSIZE": ""})
    target = uuid.UUID(case_id)
    for _ in range(20):
        reader.repository.get(target)
    timings = []
    for _ in range(300):
        started = time.perf_counter()
        case = reader.repository.get(target)
        timings.append((time.perf_counter() - started) * 1000)
    assert case.version >= 1000
    print(f"BENCH case.rebuild_1000_events_ms {statistics.median(timings):.3f} ms", flush=True)
    reader.close()


def start_service(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "casedesk_case"],
            env={**os.environ, **env, "CASEDESK_GRPC_PORT": str(port),
                 "CASEDESK_LOG_LEVEL": "WARNING", **PLAINTEXT},
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"case service exited: {log.read_text()[-2000:]}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return process
            except grpc.RpcError:
                time.sleep(0.2)
    process.kill()
    raise RuntimeError("case service did not start within 30 s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    base = postgres_env()
    kafka = os.environ.get("CASEDESK_BENCH_KAFKA", "127.0.0.1:9092")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn(base), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    env = {**base, "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_SCHEMA": schema}
    asyncio.run(ensure_topics(kafka))
    log = Path(tempfile.mkdtemp(prefix="case-bench-")) / "case.log"
    service_env = {
        **env,
        "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "POSTGRES_POOL_SIZE": "10",
        **EXTRA,
    }
    process = start_service(service_env, port := free_port(), log)
    try:
        asyncio.run(measure_grpc(f"127.0.0.1:{port}", process.pid))
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    try:
        measure_rebuild(env)
    finally:
        with psycopg.connect(dsn(base), autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
