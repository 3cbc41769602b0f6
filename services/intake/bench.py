"""End-to-end benchmark: cases submitted through intake until their Created event is on Kafka.

Runs the case service (PostgreSQL event store, outbox relay to Kafka) and intake (idempotency
records on PostgreSQL) as processes, submits cases over gRPC like a frontend and consumes
case.events.v1 to time each case from the frontend's call to its event on Kafka.

Prints `BENCH <metric> <value> <unit>` lines:
  intake.cases_per_s   cases per second end to end, IN_FLIGHT frontend calls at a time
  intake.p99_ms        99th percentile of submit-to-Kafka latency at RATE cases/s (paced, each
                       case timed from the moment it was due)
  intake.p50_ms        median of the same
  intake.acknowledgement_p99_ms  99th percentile of the SubmitCase call itself at RATE cases/s
Needs CASEDESK_BENCH_POSTGRES_{HOST,PORT,USER,PASSWORD,DBNAME} and CASEDESK_BENCH_KAFKA
(tools/bench.sh starts both). Bounded: fixed case counts, every wait has a deadline.
Must (DESIGN.md): 500 cases/s with p99 <= 100 ms.

These are the figures over mutual TLS, the production configuration: the bench calls intake with
the `frontend` certificate (and its bearer token), intake calls the case service with its own
certificate, from a development PKI made in a temporary directory. The same four lines with the
suffix `_plaintext` are the same workload over plaintext gRPC (CASEDESK_GRPC_INSECURE_DEV), and
  intake.tls_cost_cpu_pct        intake's and the case service's CPU per case over TLS, in % more
                                 than over plaintext (saturation phases, both runs of this process)
Two stacks (case service + intake, each on its own schema) run side by side, one per transport;
the cases are split into ROUNDS rounds per transport, taken in the order plaintext, TLS, TLS,
plaintext, ... (every saturation round, SETTLE_S, every paced round) so that drift in a shared
machine's speed falls on both alike. Throughputs are the median of the rounds, percentiles are
over every paced case of the transport's rounds (as many as one run had before). Every
connection (bench -> intake, intake -> case service) is made during the warm-up and reused
throughout, as in production: the TLS handshakes are not in the figures (the bench checks that
no connection was made during the rounds).

The citizens are who the portal says, as in production (intake's README "Who the citizen is"):
the cases are PERSONAL_ACCOUNT submissions, each carrying the signed-in citizen's portal token as
metadata `x-citizen-token` (beside the frontend's bearer token) and no `citizen.account_login`
(intake takes the login from the token). The tokens come from a fake OpenID Connect provider this
bench starts on loopback (casedesk_runtime.testing.identity_provider: realm `portal`, discovery and
JWKS over real HTTP), one per citizen login used, all minted before anything is timed and valid
for TOKEN_LIFETIME_S; both intakes verify them against it (CASEDESK_CITIZEN_OIDC_ISSUER/AUDIENCE).
The verification of each call's token (signature, issuer, audience, expiry) is real production
cost and is included in every figure (throughput, latencies, CPU per case); the key set is
fetched once, during the warm-up. Both transports verify alike, so the TLS cost is TLS's alone.
Relative to the machine (casedesk_runtime.testing.calibration; TLS stack):
  intake.cases_per_grpc_call     cases/s over a bare gRPC call's rate on this machine
                                 (machine.grpc_unary_rps, measured first or given by bench.sh)
  intake.scaled_rate             0.075 x machine.grpc_unary_rps (500/s at 6,700 calls/s)
  intake.p99_ms_at_scaled_rate   p99 submit-to-Kafka at that rate (must: <= 100 ms)
  intake.capacity_to_scaled_rate saturation throughput over the scaled rate (must: >= 2)
  intake.path_cpu_ms_per_case    CPU of every process on the path per case (saturation phases)
  intake.cpu_ms_per_case.<p>     the same per process: intake, case_service, postgresql, kafka,
                                 load_generator (this process, with its Kafka consumer)
Knobs: CASEDESK_BENCH_INTAKE_{CASES,PACED_CASES} (per transport, split over the rounds),
CASEDESK_BENCH_INTAKE_{RATE,IN_FLIGHT,ROUNDS}.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import grpc
import psycopg
from aiokafka import AIOKafkaConsumer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_runtime.collector import tune_garbage_collector
from casedesk_runtime.oidc_grpc import CITIZEN_TOKEN_KEY
from casedesk_runtime.pki import ensure_pki
from casedesk_runtime.testing import calibration
from casedesk_runtime.testing.calibration import (
    infrastructure_pids,
    machine_grpc_unary_rps,
    scaled_rate,
)
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider
from casedesk_runtime.topics import ensure_topics
from casedesk_vocabulary.topics import CASE_EVENTS

# The plaintext run: the services' explicit development setting, every call allowed.
PLAINTEXT = {"CASEDESK_GRPC_INSECURE_DEV": "true"}
# Identities of the TLS run: intake serves frontends (its access table), the case service lets
# intake create cases (its own).
FRONTEND, INTAKE, CASE = "frontend", "intake", "case"
# The portal's sign-in whose tokens prove citizens, and the audience intake requires (README).
CITIZEN_REALM, CITIZEN_AUDIENCE = "portal", "casedesk-intake"
# Every token is minted before the run and must outlive it (the portal's own are short-lived and
# refreshed by the frontend, which is not what is measured here).
TOKEN_LIFETIME_S = 6 * 3600


SATURATION_CASES = int(os.environ.get("CASEDESK_BENCH_INTAKE_CASES", "3000"))
PACED_CASES = int(os.environ.get("CASEDESK_BENCH_INTAKE_PACED_CASES", "5000"))
RATE = float(os.environ.get("CASEDESK_BENCH_INTAKE_RATE", "500"))
IN_FLIGHT = int(os.environ.get("CASEDESK_BENCH_INTAKE_IN_FLIGHT", "32"))
ROUNDS = max(1, int(os.environ.get("CASEDESK_BENCH_INTAKE_ROUNDS", "2")))
TOKEN = "bench-" + uuid.uuid4().hex
DEADLINE_S = 60.0
# Between the saturation run and the paced one: the paced run measures the service at RATE, not
# its recovery from the overload just before (followers' backlogs, the database's autovacuum).
SETTLE_S = 2.0
# Submissions are numbered, each by a citizen of its own (login(n)): the warm-up's, then each
# round's saturation and paced cases (the same numbers on both stacks).
WARM_UP_CASES = 50
# The processes whose CPU is the services' (the TLS cost compares these); the others on the path
# (PostgreSQL, Kafka, this load generator) are reported beside them.
SERVICES = ("intake", "case service")


def saturation_numbers(round_number: int) -> range:
    first = 100 + round_number * 100_000
    return range(first, first + max(1, SATURATION_CASES // ROUNDS))


def paced_numbers(round_number: int) -> range:
    first = 10**6 + round_number * 100_000
    return range(first, first + max(1, PACED_CASES // ROUNDS))


def scaled_numbers() -> range:
    """The paced cases at the machine's scaled rate (TLS stack only): as many seconds' worth as
    the fixed rate's paced cases take."""
    first = 9 * 10**6
    return range(first, first + max(1, PACED_CASES // ROUNDS))


def every_number() -> Iterator[int]:
    yield from range(WARM_UP_CASES)
    for round_number in range(ROUNDS):
        yield from saturation_numbers(round_number)
        yield from paced_numbers(round_number)
    yield from scaled_numbers()


def login(n: int) -> str:
    return f"bench-citizen-{n}"


def postgres_env() -> dict[str, str]:
    get = os.environ.get
    return {
        "POSTGRES_HOST": get("CASEDESK_BENCH_POSTGRES_HOST", "127.0.0.1"),
        "POSTGRES_PORT": get("CASEDESK_BENCH_POSTGRES_PORT", "5432"),
        "POSTGRES_USER": get("CASEDESK_BENCH_POSTGRES_USER", "casedesk"),
        "POSTGRES_PASSWORD": get("CASEDESK_BENCH_POSTGRES_PASSWORD", "casedesk"),
        "POSTGRES_DBNAME": get("CASEDESK_BENCH_POSTGRES_DBNAME", "casedesk"),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Transport:
    """How the bench and the services talk to each other: mutual TLS or plaintext."""

    name: str  # "tls" or "plaintext", as printed in the comments
    suffix: str  # appended to the metric names: the TLS figures keep the names they always had
    pki: Path | None  # the development PKI; None for plaintext
    credentials: grpc.ChannelCredentials | None  # the bench's (frontend's) certificate and the CA

    def service_env(self, identity: str) -> dict[str, str]:
        """The settings that make a service speak this transport as `identity`."""
        if self.pki is None:
            return PLAINTEXT
        return {
            "CASEDESK_TLS_CERT_FILE": str(self.pki / f"{identity}.crt"),
            "CASEDESK_TLS_KEY_FILE": str(self.pki / f"{identity}.key"),
            "CASEDESK_TLS_CA_FILE": str(self.pki / "ca.crt"),
        }

    def channel(self, address: str) -> grpc.aio.Channel:
        if self.credentials is None:
            return grpc.aio.insecure_channel(address)
        return grpc.aio.secure_channel(address, self.credentials)


def transports(pki: Path) -> tuple[Transport, Transport]:
    """(TLS, plaintext), with a development PKI made in `pki`."""
    ensure_pki(pki, [CASE, INTAKE, FRONTEND])
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.crt").read_bytes(),
        private_key=(pki / f"{FRONTEND}.key").read_bytes(),
        certificate_chain=(pki / f"{FRONTEND}.crt").read_bytes(),
    )
    return (
        Transport("tls", "", pki, credentials),
        Transport("plaintext", "_plaintext", None, None),
    )


def inherited_environment() -> dict[str, str]:
    """This process's environment without any TLS, plaintext or identity-provider setting of the
    caller's own: each service runs exactly as its transport says and trusts only the bench's
    identity provider."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CASEDESK_TLS_", "CASEDESK_OIDC_", "CASEDESK_CITIZEN_OIDC_"))
        and k != "CASEDESK_GRPC_INSECURE_DEV"
    }


@contextlib.contextmanager
def services(
    specs: list[tuple[str, dict[str, str], Transport]], log_dir: Path
) -> Iterator[list[tuple[str, int]]]:
    """`python -m module` for each (module, env, transport), all started at once, each on a free
    port, until every one is SERVING; yields their addresses and pids, in order."""
    started = []
    try:
        for module, env, transport in specs:
            port = free_port()
            log = (log_dir / f"{module}-{transport.name}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", module],
                env={
                    **inherited_environment(),
                    **env,
                    "CASEDESK_GRPC_PORT": str(port),
                    "CASEDESK_LOG_LEVEL": "WARNING",
                    **transport.service_env(module.removeprefix("casedesk_")),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            started.append((module, transport, f"127.0.0.1:{port}", process, log))
        deadline = time.monotonic() + 60
        for module, transport, address, process, log in started:
            while not _serving(address, transport):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{module} ({transport.name}) did not start; see {log.name}")
                time.sleep(0.2)
        yield [(address, process.pid) for _, _, address, process, _ in started]
    finally:
        for *_, process, _ in started:
            process.terminate()
        for *_, process, log in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def _serving(address: str, transport: Transport) -> bool:
    if transport.credentials is None:
        channel = grpc.insecure_channel(address)
    else:  # health is open to any caller that completed the TLS handshake
        channel = grpc.secure_channel(address, transport.credentials)
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def established(port: int) -> set[str]:
    """The peers of the established TCP connections to local `port` (Linux /proc/net)."""
    peers = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    peers.add(fields[2])
    return peers


def cpu_seconds(pid: int) -> float:
    """CPU a process (with its children: PostgreSQL's backends) has used so far; this process,
    the load generator, without the services it started."""
    return calibration.cpu_seconds(pid, tree=pid != os.getpid())


def submission(n: int) -> intake_pb2.SubmitCaseRequest:
    """Citizen n's case; his login is not in it: intake takes it from his token."""
    return intake_pb2.SubmitCaseRequest(
        idempotency_key=str(uuid.uuid4()),
        channel=types_pb2.PERSONAL_ACCOUNT,
        citizen=types_pb2.Citizen(
            full_name="Иванов Иван Иванович",
            snils="112-233-445 95",
            mobile_phone="+79123456789",
        ),
        content=types_pb2.CaseContent(
            subject="Не приходит СМС-код", description="Код подтверждения приходит с задержкой"
        ),
        provenance=types_pb2.Provenance(
            personal_account=types_pb2.PersonalAccountOrigin(form_id="feedback")
        ),
    )


class KafkaArrivals:
    """Arrival time of each case's Created event on case.events.v1."""

    def __init__(self, bootstrap: str) -> None:
        self.arrived: dict[str, float] = {}
        self._consumer = AIOKafkaConsumer(
            CASE_EVENTS, bootstrap_servers=bootstrap, auto_offset_reset="latest"
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)  # fix the start before any case is sent
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            for records in (await self._consumer.getmany(timeout_ms=100)).values():
                now = time.perf_counter()
                for record in records:
                    event = events_pb2.CaseEvent.FromString(record.value)
                    if event.WhichOneof("payload") == "created":
                        self.arrived.setdefault(event.meta.case_id, now)

    async def wait_for(self, case_ids: list[str]) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while any(c not in self.arrived for c in case_ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


async def submit_all(
    stub: intake_grpc.IntakeServiceStub,
    numbers: range,
    citizen_tokens: dict[int, str],
    rate: float | None,
) -> tuple[dict[str, float], list[float]]:
    """Submit the cases `numbers` (paced at `rate`/s, or IN_FLIGHT at a time), each with its
    citizen's token: case id -> sent at, and the seconds each call took until intake
    acknowledged.

    Paced calls count from the moment they were due, not from when the client got round to them
    (an open loop: a client that falls behind must not hide the wait from the figures)."""
    sent: dict[str, float] = {}
    acknowledged: list[float] = []
    frontend = ("authorization", f"Bearer {TOKEN}")
    limit = asyncio.Semaphore(IN_FLIGHT if rate is None else 10 * IN_FLIGHT)

    async def one(n: int, due: float | None) -> None:
        metadata = (frontend, (CITIZEN_TOKEN_KEY, citizen_tokens[n]))
        async with limit:
            started = due if due is not None else time.perf_counter()
            reply = await stub.SubmitCase(submission(n), metadata=metadata, timeout=DEADLINE_S)
            sent[reply.case_id] = started
            acknowledged.append(time.perf_counter() - started)

    begin = time.perf_counter()
    tasks = []
    for i, n in enumerate(numbers):
        due = None
        if rate is not None:
            due = begin + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    return sent, acknowledged


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(frozen=True)
class Stack:
    """A case service and the intake in front of it, over one transport."""

    transport: Transport
    intake_address: str
    case_address: str
    pids: dict[str, int]


@dataclass
class Figures:
    """One transport's measurements, accumulated over its rounds."""

    cases_per_s: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)  # paced, submit to Kafka
    acknowledged_ms: list[float] = field(default_factory=list)  # paced, the SubmitCase call
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process, saturation phases
    cases: int = 0  # the saturation cases that CPU was spent on
    missing: int = 0
    scaled_latencies_ms: list[float] = field(default_factory=list)  # paced at the scaled rate

    def cpu_ms_per_case(self, name: str | None = None) -> float:
        """One process's CPU per case, or the services' (intake and the case service) together."""
        spent = self.cpu_s[name] if name else sum(self.cpu_s[s] for s in SERVICES)
        return spent * 1000 / self.cases

    def path_cpu_ms_per_case(self) -> float:
        """Every process on the path: the services, PostgreSQL, Kafka and the load generator."""
        return sum(self.cpu_s.values()) * 1000 / self.cases


async def saturate(
    stub: intake_grpc.IntakeServiceStub,
    pids: dict[str, int],
    arrivals: KafkaArrivals,
    figures: Figures,
    numbers: range,
    citizen_tokens: dict[int, str],
) -> None:
    """One stack's share of the saturation cases, IN_FLIGHT at a time, until all are on Kafka."""
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    begin = time.perf_counter()
    sent, _ = await submit_all(stub, numbers, citizen_tokens, None)
    await arrivals.wait_for(list(sent))
    done = [arrivals.arrived[c] for c in sent if c in arrivals.arrived]
    figures.cases_per_s.append(len(done) / (max(done) - begin))
    for name, pid in pids.items():
        figures.cpu_s[name] = figures.cpu_s.get(name, 0.0) + cpu_seconds(pid) - cpu_before[name]
    figures.cases += len(sent)
    figures.missing += len(sent) - len(done)


async def pace(
    stub: intake_grpc.IntakeServiceStub,
    arrivals: KafkaArrivals,
    figures: Figures,
    numbers: range,
    citizen_tokens: dict[int, str],
    rate: float = RATE,
) -> None:
    """One stack's share of the paced cases, at `rate`/s, until all are on Kafka (at RATE the
    figures' main latencies, at another rate the scaled ones)."""
    paced, acknowledged = await submit_all(stub, numbers, citizen_tokens, rate)
    await arrivals.wait_for(list(paced))
    latencies = [
        (arrivals.arrived[c] - t) * 1000 for c, t in paced.items() if c in arrivals.arrived
    ]
    if rate == RATE:
        figures.latencies_ms += latencies
        figures.acknowledged_ms += [a * 1000 for a in acknowledged]
    else:
        figures.scaled_latencies_ms += latencies
    figures.missing += len(paced) - len(latencies)


async def measure(
    stacks: list[Stack], bootstrap: str, citizen_tokens: dict[int, str], scaled: float
) -> dict[str, Figures]:
    """Warm each stack up, then ROUNDS rounds on each, in the order A B B A A B ...
    `citizen_tokens`: each case number's citizen's token (every_number)."""
    arrivals = KafkaArrivals(bootstrap)
    await arrivals.start()
    channels = {s.transport.name: s.transport.channel(s.intake_address) for s in stacks}
    figures = {s.transport.name: Figures() for s in stacks}
    try:
        stubs = {name: intake_grpc.IntakeServiceStub(c) for name, c in channels.items()}
        for stub in stubs.values():
            # Warm-up: connections (and their handshakes), the portal's keys, caches.
            await submit_all(stub, range(WARM_UP_CASES), citizen_tokens, None)
        # This client's own collector pauses would be counted as the services' latency.
        tune_garbage_collector()
        ports = {
            f"{s.transport.name} {service}": int(address.rsplit(":", 1)[1])
            for s in stacks
            for service, address in (("intake", s.intake_address), ("case", s.case_address))
        }
        connected = {link: established(port) for link, port in ports.items()}
        # Every saturation round, then every paced one: one SETTLE_S between the two, as in a
        # single run, since the stacks share the machine and the database.
        order = [
            (number, stack)
            for number in range(ROUNDS)
            for stack in (stacks if number % 2 == 0 else stacks[::-1])
        ]
        for number, stack in order:
            name = stack.transport.name
            await saturate(
                stubs[name],
                stack.pids,
                arrivals,
                figures[name],
                saturation_numbers(number),
                citizen_tokens,
            )
        await asyncio.sleep(SETTLE_S)
        for number, stack in order:
            name = stack.transport.name
            await pace(stubs[name], arrivals, figures[name], paced_numbers(number), citizen_tokens)
        # The load scaled to this machine, on the production configuration (TLS) only.
        await asyncio.sleep(SETTLE_S)
        await pace(stubs["tls"], arrivals, figures["tls"], scaled_numbers(), citizen_tokens, scaled)
        for link, port in ports.items():
            new = established(port) - connected[link]
            if new:
                print(
                    f"# {link}: {len(new)} connection(s) made during the rounds: their "
                    "handshakes are in the figures",
                    file=sys.stderr,
                )
            else:
                print(
                    f"# {link}: {len(connected[link])} connection(s), made before the rounds, "
                    "carried every call",
                    file=sys.stderr,
                )
    finally:
        for channel in channels.values():
            await channel.close()
        await arrivals.stop()
    return figures


def report(transport: Transport, figures: Figures) -> None:
    suffix, latencies = transport.suffix, figures.latencies_ms
    if figures.missing:
        print(
            f"# {transport.name}: {figures.missing} cases never reached Kafka within "
            f"{DEADLINE_S:.0f} s",
            file=sys.stderr,
        )
    print(f"BENCH intake.cases_per_s{suffix} {statistics.median(figures.cases_per_s):.0f} cases/s")
    print(f"BENCH intake.p99_ms{suffix} {percentile(latencies, 0.99):.1f} ms")
    print(f"BENCH intake.p50_ms{suffix} {percentile(latencies, 0.50):.1f} ms")
    ack_p99 = percentile(figures.acknowledged_ms, 0.99)
    print(f"BENCH intake.acknowledgement_p99_ms{suffix} {ack_p99:.1f} ms")
    for name in figures.cpu_s:
        per_case = figures.cpu_ms_per_case(name)
        print(f"# {transport.name}: {name}: {per_case:.2f} ms of CPU per case", file=sys.stderr)
    rounds = ", ".join(f"{r:.0f}" for r in figures.cases_per_s)
    print(f"# {transport.name}: cases/s by round: {rounds}", file=sys.stderr)


def report_machine(tls: Figures, machine_rps: float, scaled: float) -> None:
    """The figures relative to this machine (calibration.py): they carry over to another one."""
    cases_per_s = statistics.median(tls.cases_per_s)
    print(f"BENCH intake.cases_per_grpc_call {cases_per_s / machine_rps:.3f} ratio")
    print(f"BENCH intake.scaled_rate {scaled:.0f} cases/s")
    print(f"BENCH intake.p99_ms_at_scaled_rate {percentile(tls.scaled_latencies_ms, 0.99):.1f} ms")
    print(f"BENCH intake.capacity_to_scaled_rate {cases_per_s / scaled:.2f} ratio")
    print(f"BENCH intake.path_cpu_ms_per_case {tls.path_cpu_ms_per_case():.2f} ms")
    for name in tls.cpu_s:
        key = name.lower().replace(" ", "_")
        print(f"BENCH intake.cpu_ms_per_case.{key} {tls.cpu_ms_per_case(name):.3f} ms")


def report_cost(tls: Figures, plaintext: Figures) -> None:
    """What TLS costs, from the two transports' figures of this same run."""
    cpu_ratio = tls.cpu_ms_per_case() / plaintext.cpu_ms_per_case()
    print(f"BENCH intake.tls_cost_cpu_pct {(cpu_ratio - 1) * 100:.1f} %")
    per_process = ", ".join(
        f"{name} x{tls.cpu_ms_per_case(name) / plaintext.cpu_ms_per_case(name):.2f}"
        for name in tls.cpu_s
    )
    throughput = statistics.median(tls.cases_per_s) / statistics.median(plaintext.cases_per_s)
    p99 = percentile(tls.latencies_ms, 0.99) / percentile(plaintext.latencies_ms, 0.99)
    print(
        f"# TLS/plaintext: cases/s x{throughput:.2f}, p99 at {RATE:.0f}/s x{p99:.2f}, "
        f"CPU per case x{cpu_ratio:.2f} ({per_process})",
        file=sys.stderr,
    )
    note = f"# latencies at {RATE:.0f} cases/s paced; throughput with {IN_FLIGHT} in flight"
    print(note, file=sys.stderr)


def main() -> int:
    bootstrap = os.environ.get("CASEDESK_BENCH_KAFKA", "127.0.0.1:9092")
    machine_rps = machine_grpc_unary_rps()  # before anything of ours runs
    scaled = scaled_rate(machine_rps)
    database = postgres_env()
    # One schema per stack: the two never share a store, an outbox or idempotency records.
    schemas = {name: f"bench_intake_{uuid.uuid4().hex[:10]}" for name in ("tls", "plaintext")}
    dsn = (
        f"postgresql://{quote(database['POSTGRES_USER'])}:{quote(database['POSTGRES_PASSWORD'])}"
        f"@{database['POSTGRES_HOST']}:{database['POSTGRES_PORT']}/{database['POSTGRES_DBNAME']}"
    )
    with psycopg.connect(dsn, autocommit=True) as connection:
        for schema in schemas.values():
            connection.execute(f"CREATE SCHEMA {schema}")
    frontend = {
        "name": "bench",
        "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
        "channels": ["PERSONAL_ACCOUNT"],
    }
    try:
        asyncio.run(ensure_topics(bootstrap))
        with (
            tempfile.TemporaryDirectory(prefix="casedesk-intake-bench-") as scratch,
            FakeIdentityProvider(realm=CITIZEN_REALM, audience=CITIZEN_AUDIENCE) as portal,
        ):
            logs = Path(scratch)
            # One token per citizen, all minted now: signing is the portal's work, not intake's.
            citizen_tokens = {
                n: portal.mint_citizen(login(n), expires_in=TOKEN_LIFETIME_S)
                for n in every_number()
            }
            tls, plaintext = transports(logs / "pki")
            order = (plaintext, tls)  # the first round is plaintext's
            case_specs = [
                (
                    "casedesk_case",
                    {
                        **database,
                        "PERSISTENCE_MODULE": "eventsourcing.postgres",
                        "POSTGRES_SCHEMA": schemas[transport.name],
                        "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    },
                    transport,
                )
                for transport in order
            ]
            with services(case_specs, logs) as cases:
                intake_specs = [
                    (
                        "casedesk_intake",
                        {
                            "CASEDESK_CASE_ADDRESS": case_address,
                            "CASEDESK_DATABASE_URL": f"{dsn}?options="
                            + quote(f"-csearch_path={schemas[transport.name]}"),
                            "CASEDESK_DATA_DIR": str(logs / f"intake-{transport.name}"),
                            "CASEDESK_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                            "CASEDESK_FRONTENDS": json.dumps([frontend]),
                            "CASEDESK_FRONTEND_RATE_PER_S": "100000",
                            "CASEDESK_FRONTEND_BURST": "100000",
                            # A paced run that falls behind has up to 10 x IN_FLIGHT calls in
                            # progress (submit_all): measured, not refused by the edge's cap.
                            "CASEDESK_FRONTEND_MAX_CONCURRENT_CALLS": str(10 * IN_FLIGHT),
                            "CASEDESK_CITIZEN_OIDC_ISSUER": portal.issuer,
                            "CASEDESK_CITIZEN_OIDC_AUDIENCE": CITIZEN_AUDIENCE,
                        },
                        transport,
                    )
                    for transport, (case_address, _) in zip(order, cases, strict=True)
                ]
                with services(intake_specs, logs) as intakes:
                    stacks = [
                        Stack(
                            transport,
                            intake_address,
                            case_address,
                            {
                                "intake": intake_pid,
                                "case service": case_pid,
                                **infrastructure_pids(),
                                "load generator": os.getpid(),
                            },
                        )
                        for transport, (case_address, case_pid), (
                            intake_address,
                            intake_pid,
                        ) in zip(order, cases, intakes, strict=True)
                    ]
                    figures = asyncio.run(measure(stacks, bootstrap, citizen_tokens, scaled))
        report(tls, figures[tls.name])  # TLS on is the production configuration
        report(plaintext, figures[plaintext.name])
        report_cost(figures[tls.name], figures[plaintext.name])
        report_machine(figures[tls.name], machine_rps, scaled)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            for schema in schemas.values():
                connection.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
