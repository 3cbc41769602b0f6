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
Two stacks (case service + intake, each on its own schema) run side by side, one per transport
(three with the sealed one, below); the cases are split into ROUNDS rounds per transport, taken
in the order plaintext, TLS, TLS, plaintext, ... (every saturation round, then every paced
round) so that drift in a shared machine's speed falls on both alike. Each paced round starts
once the machine is quiet again (casedesk_runtime.testing.calibration.settle: what the round
before left to drain, a saturation's or a paced round's over its stack's capacity, is done; the
waits are on the `cases/s by round` comment line). Throughputs are the median of the rounds,
percentiles are over every paced case of the transport's rounds (as many as one run had before).
Every connection (bench -> intake, intake -> case service, the sealed stack's to the key service)
is made during the warm-up and reused throughout, as in production: the TLS handshakes are not in
the figures (the bench checks that no connection was made during the rounds).

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
Sealed against unsealed (issue #18). A third stack, intake and the case service both with
CASEDESK_SEAL_PERSONAL_DATA=true and mutual TLS as the TLS stack, on its own schema, takes part in
the same rounds (plaintext, TLS, sealed, sealed, TLS, plaintext, ...: the TLS stack is the
unsealed reference) and in the paced phase at the scaled rate. Both its services get their data
keys from a key service this bench starts (casedesk_keyservice.testing.process: `python -m
casedesk_keyservice` with a Secret-file KEK, the KEK and the index key made in the temporary
directory, the key store a SQLite file there, `keys`'s certificate of the same PKI; its access
table lets `intake` and `case` fetch keys), with the default key caches. Every case is a
different citizen's (the warm-up's numbered apart from the rounds'), so each needs a new data key:
a cache miss and a key made and stored by the key service, the worst case for sealing (a
citizen's next case finds his key cached or stored). The case service asks for it to seal the
case, intake for what it seals of its own (intake's README "Sealed personal data"; these
submissions carry no attachments). The key service's CPU counts in the sealed stack's path; a
comment line gives the keys it handed out, by RPC and by caller. The same four
lines as above with the suffix `_sealed`, the figures relative to the machine below with
`_sealed` (but for the scaled rate itself), `intake.cpu_ms_per_case_sealed.key_service`, and
  intake.sealing_cost_cpu_pct    the path's CPU per case (every process, the key service
                                 included) sealed, in % more than over TLS unsealed
CASEDESK_BENCH_INTAKE_SEALED=0 leaves the sealed stack and the key service out.
Relative to the machine (casedesk_runtime.testing.calibration; TLS stack):
  intake.machine_grpc_unary_rps  the yardstick: a bare gRPC call's rate on this machine, measured
                                 right before this bench starts anything (or pinned by
                                 CASEDESK_BENCH_MACHINE_GRPC_RPS)
  intake.cases_per_grpc_call     cases/s over it
  intake.scaled_rate             0.075 x the yardstick (500/s at 6,700 calls/s)
  intake.p99_ms_at_scaled_rate   p99 submit-to-Kafka at that rate (must: <= 100 ms)
  intake.capacity_to_scaled_rate saturation throughput over the scaled rate (must: >= 2)
  intake.path_cpu_ms_per_case    CPU of every process on the path per case (saturation phases)
  intake.cpu_ms_per_case.<p>     the same per process: intake, case_service, postgresql, kafka,
                                 load_generator (this process, with its Kafka consumer)
Worker processes (CASEDESK_WORKERS, casedesk_runtime.workers), over TLS:
  intake.cases_per_s_workers_1   cases/s end to end with one worker process in intake and one in
                                 the case service
  intake.cases_per_s_workers_2   the same with two in each, sharing each service's port
  intake.workers_2_speedup       the second over the first
Two more stacks (one and two workers, each on its own schema) side by side, in saturation rounds
taken in the order 1, 2, 2, 1, ..., WORKERS_IN_FLIGHT cases at a time over CONNECTIONS_PER_WORKER
connections per intake worker. The kernel hands each new connection to one worker (SO_REUSEPORT),
at random: the bench keeps connections until every intake worker holds as many (it sees whose
each one is in /proc), as a frontend's many connections even out; and each intake worker holds
one connection to the case service, so an intake whose two connections landed on one case worker
is started again (up to WORKERS_STARTS times; the comment says how they fell).
Knobs: CASEDESK_BENCH_INTAKE_{CASES,PACED_CASES} (per stack, split over the rounds),
CASEDESK_BENCH_INTAKE_WARM_UP (cases per stack before the rounds, at saturation),
CASEDESK_BENCH_INTAKE_{RATE,IN_FLIGHT,ROUNDS,SEALED}, CASEDESK_BENCH_INTAKE_WORKERS_{CASES,
IN_FLIGHT} (CASES 0: no workers phase).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import quote

import grpc
import psycopg
from aiokafka import AIOKafkaConsumer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk.intake.v1 import intake_service_pb2_grpc as intake_grpc
from casedesk_keyservice.testing.process import KeyService, running_key_service
from casedesk_runtime.collector import tune_garbage_collector
from casedesk_runtime.event_loop import run_on
from casedesk_runtime.oidc_grpc import CITIZEN_TOKEN_KEY
from casedesk_runtime.pki import ensure_pki
from casedesk_runtime.testing import calibration
from casedesk_runtime.testing.calibration import (
    infrastructure_pids,
    machine_grpc_unary_rps,
    machine_ticks,
    percentile,
    scaled_rate,
    settle,
)
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider
from casedesk_runtime.testing.sockets import (
    connections_by_worker,
    free_port,
    listeners,
)
from casedesk_runtime.testing.sockets import established_peers as established
from casedesk_runtime.topics import ensure_topics
from casedesk_vocabulary.topics import CASE_EVENTS

# The plaintext run: the services' explicit development setting, every call allowed.
PLAINTEXT = {"CASEDESK_GRPC_INSECURE_DEV": "true"}
# Identities of the TLS run: intake serves frontends (its access table), the case service lets
# intake create cases (its own).
FRONTEND, INTAKE, CASE = "frontend", "intake", "case"
# The sealed stack's key service: its certificate's name and the process's in the CPU figures.
KEYS, KEY_SERVICE = "keys", "key service"
# The portal's sign-in whose tokens prove citizens, and the audience intake requires (README).
CITIZEN_REALM, CITIZEN_AUDIENCE = "portal", "casedesk-intake"
# Every token is minted before the run and must outlive it (the portal's own are short-lived and
# refreshed by the frontend, which is not what is measured here).
TOKEN_LIFETIME_S = 6 * 3600


WORKER_COUNTS = (1, 2)
WORKERS_CASES = int(os.environ.get("CASEDESK_BENCH_INTAKE_WORKERS_CASES", "2000"))
WORKERS_IN_FLIGHT = int(os.environ.get("CASEDESK_BENCH_INTAKE_WORKERS_IN_FLIGHT", "64"))
CONNECTIONS_PER_WORKER = 4
WORKERS_STARTS = 4
SATURATION_CASES = int(os.environ.get("CASEDESK_BENCH_INTAKE_CASES", "3000"))
PACED_CASES = int(os.environ.get("CASEDESK_BENCH_INTAKE_PACED_CASES", "5000"))
RATE = float(os.environ.get("CASEDESK_BENCH_INTAKE_RATE", "500"))
IN_FLIGHT = int(os.environ.get("CASEDESK_BENCH_INTAKE_IN_FLIGHT", "32"))
ROUNDS = max(1, int(os.environ.get("CASEDESK_BENCH_INTAKE_ROUNDS", "2")))
TOKEN = "bench-" + uuid.uuid4().hex
# The sealed stack (CASEDESK_SEAL_PERSONAL_DATA) and its key service in the rounds; 0: left out.
SEALED = os.environ.get("CASEDESK_BENCH_INTAKE_SEALED", "1") not in ("0", "false", "")
DEADLINE_S = 60.0
# Submissions are numbered, each by a citizen of its own (login(n)): the warm-up's, then each
# round's saturation and paced cases (the same numbers on both stacks).
# The warm-up brings each stack to the state a running service is in: its schema's tables hold
# rows and have been analysed by autovacuum (empty, unanalysed tables get other plans), its
# processes' caches and connections are filled. With 50 cases the first saturation round ran at
# 60-80 % of the second's rate (361 and 437, 281 and 427 cases/s) and PostgreSQL spent twice the
# CPU per case: the figures were a cold start's, not the service's. Counted in cases, not
# seconds, so that a slower machine warms up as far.
WARM_UP_CASES = int(os.environ.get("CASEDESK_BENCH_INTAKE_WARM_UP", "2000"))
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
    """The paced cases at the machine's scaled rate (TLS and sealed stacks): as many seconds'
    worth as the fixed rate's paced cases take."""
    first = 9 * 10**6
    return range(first, first + max(1, PACED_CASES // ROUNDS))


def workers_numbers(workers: int, round_number: int) -> range:
    """The saturation cases of the workers phase, for the stack of `workers` workers."""
    first = 20 * 10**6 + workers * 10**6 + round_number * 100_000
    return range(first, first + max(1, WORKERS_CASES // ROUNDS))


def every_number() -> Iterator[int]:
    yield from range(WARM_UP_CASES)
    for round_number in range(ROUNDS):
        yield from saturation_numbers(round_number)
        yield from paced_numbers(round_number)
        if WORKERS_CASES:
            for workers in WORKER_COUNTS:
                yield from workers_numbers(workers, round_number)
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


@dataclass(frozen=True)
class Transport:
    """How the bench and the services talk to each other: mutual TLS or plaintext."""

    name: str  # "tls" or "plaintext", as printed in the comments
    suffix: str  # appended to the metric names: the TLS figures keep the names they always had
    pki: Path | None  # the development PKI; None for plaintext
    credentials: grpc.ChannelCredentials | None  # the bench's (frontend's) certificate and the CA
    # The sealed stack's: both services seal personal data with the key service's data keys.
    sealing: dict[str, str] = field(default_factory=dict)

    def service_env(self, identity: str) -> dict[str, str]:
        """The settings that make a service speak this transport as `identity`."""
        if self.pki is None:
            return PLAINTEXT
        return {
            "CASEDESK_TLS_CERT_FILE": str(self.pki / f"{identity}.crt"),
            "CASEDESK_TLS_KEY_FILE": str(self.pki / f"{identity}.key"),
            "CASEDESK_TLS_CA_FILE": str(self.pki / "ca.crt"),
            **self.sealing,
        }

    def channel(self, address: str, own_connection: bool = False) -> grpc.aio.Channel:
        """`own_connection`: never shared with another channel to the same address (gRPC's
        global subchannel pool would give channels alike one connection)."""
        options = [("grpc.use_local_subchannel_pool", 1)] if own_connection else None
        if self.credentials is None:
            return grpc.aio.insecure_channel(address, options=options)
        return grpc.aio.secure_channel(address, self.credentials, options=options)


def transports(pki: Path) -> tuple[Transport, Transport]:
    """(TLS, plaintext), with a development PKI made in `pki`."""
    ensure_pki(pki, [CASE, INTAKE, FRONTEND, KEYS])
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.crt").read_bytes(),
        private_key=(pki / f"{FRONTEND}.key").read_bytes(),
        certificate_chain=(pki / f"{FRONTEND}.crt").read_bytes(),
    )
    return (
        Transport("tls", "", pki, credentials),
        Transport("plaintext", "_plaintext", None, None),
    )


def sealed_transport(tls: Transport, key_service: KeyService) -> Transport:
    """The TLS transport, its services sealing personal data with `key_service`'s data keys."""
    return dataclasses.replace(
        tls, name="sealed", suffix="_sealed", sealing=key_service.sealing_env()
    )


def inherited_environment() -> dict[str, str]:
    """This process's environment without any TLS, plaintext, identity-provider or sealing
    setting of the caller's own: each service runs exactly as its transport says, trusts only the
    bench's identity provider and seals only when its transport says so."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("CASEDESK_TLS_", "CASEDESK_OIDC_", "CASEDESK_CITIZEN_OIDC_", "CASEDESK_KEYS_")
        )
        and k
        not in (
            "CASEDESK_GRPC_INSECURE_DEV",
            "CASEDESK_SEAL_PERSONAL_DATA",
            "CASEDESK_KEY_SERVICE_ADDRESS",
        )
    }


@contextlib.contextmanager
def services(
    specs: list[tuple[str, dict[str, str], Transport]], log_dir: Path, label: str = ""
) -> Iterator[list[tuple[str, int]]]:
    """`python -m module` for each (module, env, transport), all started at once, each on a free
    port, until every one is SERVING with all its workers (CASEDESK_WORKERS in env); yields their
    addresses and pids (a supervisor's with several workers), in order."""
    started = []
    try:
        for module, env, transport in specs:
            port = free_port()
            log = (log_dir / f"{module}-{transport.name}{label}.log").open("ab")
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
        for (module, env, _), (_, transport, address, process, log) in zip(
            specs, started, strict=True
        ):
            # Workers start one after another; every one listens before the bench begins.
            workers = int(env.get("CASEDESK_WORKERS", "1"))
            deadline = time.monotonic() + 60 * workers
            port = int(address.rsplit(":", 1)[1])
            while not _serving(address, transport) or len(listeners(port)) < workers:
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


class Turns:
    """The stubs of several connections taken in turn, used as one stub."""

    def __init__(self, stubs: list[intake_grpc.IntakeServiceStub]) -> None:
        self._next = itertools.cycle(stubs).__next__

    def SubmitCase(self, *args: Any, **kwargs: Any) -> Any:
        return self._next().SubmitCase(*args, **kwargs)


Stub: TypeAlias = "intake_grpc.IntakeServiceStub | Turns"


async def submit_all(
    stub: Stub,
    numbers: range,
    citizen_tokens: dict[int, str],
    rate: float | None,
    in_flight: int = IN_FLIGHT,
) -> tuple[dict[str, float], list[float]]:
    """Submit the cases `numbers` (paced at `rate`/s, or `in_flight` at a time), each with its
    citizen's token: case id -> sent at, and the seconds each call took until intake
    acknowledged.

    Paced calls count from the moment they were due, not from when the client got round to them
    (an open loop: a client that falls behind must not hide the wait from the figures)."""
    sent: dict[str, float] = {}
    acknowledged: list[float] = []
    frontend = ("authorization", f"Bearer {TOKEN}")
    limit = asyncio.Semaphore(in_flight if rate is None else 10 * in_flight)

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


@dataclass(frozen=True)
class Stack:
    """A case service and the intake in front of it, over one transport."""

    transport: Transport
    intake_address: str
    case_address: str
    pids: dict[str, int]
    key_service_address: str | None = None  # the sealed stack's


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
    machine_busy: list[float] = field(default_factory=list)  # share of every core, per round
    settled_s: list[float] = field(default_factory=list)  # waits for quiet before paced rounds

    def cpu_ms_per_case(self, name: str | None = None) -> float:
        """One process's CPU per case, or the services' (intake and the case service) together."""
        spent = self.cpu_s[name] if name else sum(self.cpu_s[s] for s in SERVICES)
        return spent * 1000 / self.cases

    def path_cpu_ms_per_case(self) -> float:
        """Every process on the path: the services, PostgreSQL, Kafka and the load generator."""
        return sum(self.cpu_s.values()) * 1000 / self.cases


async def saturate(
    stub: Stub,
    pids: dict[str, int],
    arrivals: KafkaArrivals,
    figures: Figures,
    numbers: range,
    citizen_tokens: dict[int, str],
    in_flight: int = IN_FLIGHT,
) -> None:
    """One stack's share of the saturation cases, `in_flight` at a time, until all are on
    Kafka."""
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    machine_before = machine_ticks()
    begin = time.perf_counter()
    sent, _ = await submit_all(stub, numbers, citizen_tokens, None, in_flight)
    await arrivals.wait_for(list(sent))
    done = [arrivals.arrived[c] for c in sent if c in arrivals.arrived]
    figures.cases_per_s.append(len(done) / (max(done) - begin))
    for name, pid in pids.items():
        figures.cpu_s[name] = figures.cpu_s.get(name, 0.0) + cpu_seconds(pid) - cpu_before[name]
    busy, spent = (a - b for a, b in zip(machine_ticks(), machine_before, strict=True))
    figures.machine_busy.append(busy / spent)
    figures.cases += len(sent)
    figures.missing += len(sent) - len(done)


async def pace(
    stub: Stub,
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
            for service, address in (
                ("intake", s.intake_address),
                ("case", s.case_address),
                ("key service", s.key_service_address),
            )
            if address is not None
        }
        connected = {link: established(port) for link, port in ports.items()}
        # Every saturation round, then every paced one. Each paced round starts on a quiet
        # machine (`settle`): the stacks share it and the database, and a round at or over a
        # stack's capacity (the sealed one's at 500/s on a slower machine) leaves a backlog that
        # would otherwise be drained inside the next stack's paced round, in its latencies.
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
        for number, stack in order:
            name = stack.transport.name
            figures[name].settled_s.append(await settle())
            await pace(stubs[name], arrivals, figures[name], paced_numbers(number), citizen_tokens)
        # The load scaled to this machine, on the production configuration (TLS), then sealed.
        for name in ("tls", "sealed"):
            if name in stubs:
                figures[name].settled_s.append(await settle())
                await pace(
                    stubs[name], arrivals, figures[name], scaled_numbers(), citizen_tokens, scaled
                )
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
    waits = ", ".join(f"{w:.1f}" for w in figures.settled_s)
    print(
        f"# {transport.name}: cases/s by round: {rounds}; the machine quiet again before each "
        f"paced round after {waits} s",
        file=sys.stderr,
    )


def report_machine(transport: Transport, found: Figures, machine_rps: float, scaled: float) -> None:
    """The figures relative to this machine (calibration.py): they carry over to another one.
    The TLS stack's without a suffix and with the scaled rate itself, the sealed one's with."""
    suffix = transport.suffix
    cases_per_s = statistics.median(found.cases_per_s)
    print(f"BENCH intake.cases_per_grpc_call{suffix} {cases_per_s / machine_rps:.3f} ratio")
    if not suffix:
        print(f"BENCH intake.scaled_rate {scaled:.0f} cases/s")
    p99_scaled = percentile(found.scaled_latencies_ms, 0.99)
    print(f"BENCH intake.p99_ms_at_scaled_rate{suffix} {p99_scaled:.1f} ms")
    print(f"BENCH intake.capacity_to_scaled_rate{suffix} {cases_per_s / scaled:.2f} ratio")
    print(f"BENCH intake.path_cpu_ms_per_case{suffix} {found.path_cpu_ms_per_case():.2f} ms")
    for name in found.cpu_s:
        key = name.lower().replace(" ", "_")
        print(f"BENCH intake.cpu_ms_per_case{suffix}.{key} {found.cpu_ms_per_case(name):.3f} ms")


def compared(
    figures: Figures,
    reference: Figures,
    whole: float,
    what: str,
    cpu: str = "CPU",
    more: str = "",
) -> str:
    """A comment line: `figures` against `reference` of this same run (throughput, p99 at RATE,
    CPU per case: `whole`, then each process, then `more` inside the same parentheses)."""
    per_process = ", ".join(
        f"{name} x{figures.cpu_ms_per_case(name) / reference.cpu_ms_per_case(name):.2f}"
        for name in reference.cpu_s
    )
    throughput = statistics.median(figures.cases_per_s) / statistics.median(reference.cases_per_s)
    p99 = percentile(figures.latencies_ms, 0.99) / percentile(reference.latencies_ms, 0.99)
    return (
        f"# {what}: cases/s x{throughput:.2f}, p99 at {RATE:.0f}/s x{p99:.2f}, "
        f"{cpu} per case x{whole:.2f} ({per_process}{more})"
    )


def report_sealing(tls: Figures, sealed: Figures, handed_out: dict[str, dict[str, float]]) -> None:
    """What sealing costs, from the TLS and the sealed stack's figures of this same run: the
    whole path's CPU per case, the key service's included (it runs only for sealing)."""
    path_ratio = sealed.path_cpu_ms_per_case() / tls.path_cpu_ms_per_case()
    print(f"BENCH intake.sealing_cost_cpu_pct {(path_ratio - 1) * 100:.1f} %")
    key_ms = sealed.cpu_ms_per_case(KEY_SERVICE)
    more = f"; the key service {key_ms:.2f} ms more"
    print(compared(sealed, tls, path_ratio, "sealed/TLS", "path CPU", more), file=sys.stderr)
    by = "; ".join(
        f"by {label}: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(counts.items()))
        for label, counts in handed_out.items()
    )
    print(
        f"# sealed: every case a new citizen's; keys handed out by the key service, warm-up "
        f"included ({WARM_UP_CASES} cases), {by}",
        file=sys.stderr,
    )


def report_cost(tls: Figures, plaintext: Figures) -> None:
    """What TLS costs, from the two transports' figures of this same run."""
    cpu_ratio = tls.cpu_ms_per_case() / plaintext.cpu_ms_per_case()
    print(f"BENCH intake.tls_cost_cpu_pct {(cpu_ratio - 1) * 100:.1f} %")
    print(compared(tls, plaintext, cpu_ratio, "TLS/plaintext"), file=sys.stderr)
    note = f"# latencies at {RATE:.0f} cases/s paced; throughput with {IN_FLIGHT} in flight"
    print(note, file=sys.stderr)


@dataclass(frozen=True)
class Stores:
    """What every stack's services are configured with, but for their own schema."""

    database: dict[str, str]  # POSTGRES_* of the case service's event store
    dsn: str  # the same database for intake
    bootstrap: str
    citizen_issuer: str
    logs: Path

    def case_env(self, schema: str) -> dict[str, str]:
        return {
            **self.database,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_SCHEMA": schema,
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
        }

    def intake_env(self, case_address: str, schema: str) -> dict[str, str]:
        frontend = {
            "name": "bench",
            "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
            "channels": ["PERSONAL_ACCOUNT"],
        }
        in_flight = max(IN_FLIGHT, WORKERS_IN_FLIGHT)
        return {
            "CASEDESK_CASE_ADDRESS": case_address,
            "CASEDESK_DATABASE_URL": f"{self.dsn}?options=" + quote(f"-csearch_path={schema}"),
            "CASEDESK_DATA_DIR": str(self.logs / f"intake-{schema}"),
            "CASEDESK_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CASEDESK_FRONTENDS": json.dumps([frontend]),
            "CASEDESK_FRONTEND_RATE_PER_S": "100000",
            "CASEDESK_FRONTEND_BURST": "100000",
            # A paced run that falls behind has up to 10 x IN_FLIGHT calls in progress
            # (submit_all): measured, not refused by the edge's cap.
            "CASEDESK_FRONTEND_MAX_CONCURRENT_CALLS": str(10 * in_flight),
            "CASEDESK_CITIZEN_OIDC_ISSUER": self.citizen_issuer,
            "CASEDESK_CITIZEN_OIDC_AUDIENCE": CITIZEN_AUDIENCE,
        }


async def balanced_channels(
    transport: Transport, address: str, supervisor: int, workers: int
) -> list[grpc.aio.Channel]:
    """CONNECTIONS_PER_WORKER connections to each intake worker: new ones are made until every
    worker holds as many, the surplus closed (module docstring)."""
    port = int(address.rsplit(":", 1)[1])
    kept: list[grpc.aio.Channel] = []
    held: dict[int, int] = {}
    for _ in range(50 * workers * CONNECTIONS_PER_WORKER):
        before = connections_by_worker(supervisor, port)
        channel = transport.channel(address, own_connection=True)
        await asyncio.wait_for(channel.channel_ready(), 10)
        after = connections_by_worker(supervisor, port)
        (owner,) = [pid for pid, inodes in after.items() if inodes - before.get(pid, set())]
        if held.get(owner, 0) < CONNECTIONS_PER_WORKER:
            held[owner] = held.get(owner, 0) + 1
            kept.append(channel)
            if len(kept) == workers * CONNECTIONS_PER_WORKER:
                return kept
        else:
            await channel.close()
    raise RuntimeError(f"connections never spread over the {workers} intake workers: {held}")


@dataclass(frozen=True)
class WorkersStack:
    workers: int
    stub: Turns
    pids: dict[str, int]
    spread: list[int]  # intake's connections held by each case worker
    starts: int  # intakes started to get that spread


async def start_workers_stack(
    workers: int,
    tls: Transport,
    stores: Stores,
    schema: str,
    citizen_tokens: dict[int, str],
    running: contextlib.AsyncExitStack,
) -> WorkersStack:
    """A case service and an intake with `workers` workers each, warmed up; intake started again
    while its workers' connections to the case service share a case worker (module docstring)."""
    label = f"-workers-{workers}"
    case_env = {**stores.case_env(schema), "CASEDESK_WORKERS": str(workers)}
    ((case_address, case_pid),) = running.enter_context(
        services([("casedesk_case", case_env, tls)], stores.logs, label)
    )
    case_port = int(case_address.rsplit(":", 1)[1])
    intake_env = {**stores.intake_env(case_address, schema), "CASEDESK_WORKERS": str(workers)}
    for starts in range(1, WORKERS_STARTS + 1):
        async with contextlib.AsyncExitStack() as attempt:
            ((intake_address, intake_pid),) = attempt.enter_context(
                services([("casedesk_intake", intake_env, tls)], stores.logs, label)
            )
            channels = await balanced_channels(tls, intake_address, intake_pid, workers)
            for channel in channels:
                attempt.push_async_callback(channel.close)
            stub = Turns([intake_grpc.IntakeServiceStub(c) for c in channels])
            # Every intake worker connects to the case service; handshakes, keys, caches.
            await submit_all(stub, range(WARM_UP_CASES), citizen_tokens, None, WORKERS_IN_FLIGHT)
            spread = sorted(len(c) for c in connections_by_worker(case_pid, case_port).values())
            if min(spread) or starts == WORKERS_STARTS:
                await running.enter_async_context(attempt.pop_all())
                pids = {
                    "intake": intake_pid,
                    "case service": case_pid,
                    **infrastructure_pids(),
                    "load generator": os.getpid(),
                }
                return WorkersStack(workers, stub, pids, spread, starts)
    raise AssertionError("unreachable: the last start is always kept")


async def measure_workers(
    tls: Transport, stores: Stores, schemas: dict[str, str], citizen_tokens: dict[int, str]
) -> tuple[dict[int, Figures], list[WorkersStack]]:
    """The workers phase: both stacks started, then ROUNDS saturation rounds on each, in the
    order 1, 2, 2, 1, ..."""
    figures = {workers: Figures() for workers in WORKER_COUNTS}
    async with contextlib.AsyncExitStack() as running:
        stacks = [
            await start_workers_stack(
                w, tls, stores, schemas[f"workers_{w}"], citizen_tokens, running
            )
            for w in WORKER_COUNTS
        ]
        arrivals = KafkaArrivals(stores.bootstrap)
        await arrivals.start()
        running.push_async_callback(arrivals.stop)
        for number in range(ROUNDS):
            for stack in stacks if number % 2 == 0 else stacks[::-1]:
                numbers = workers_numbers(stack.workers, number)
                found = figures[stack.workers]
                await saturate(
                    stack.stub, stack.pids, arrivals, found, numbers, citizen_tokens,
                    WORKERS_IN_FLIGHT,
                )  # fmt: skip
    return figures, stacks


def report_workers(figures: dict[int, Figures], stacks: list[WorkersStack]) -> None:
    throughput = {w: statistics.median(f.cases_per_s) for w, f in figures.items()}
    for workers in WORKER_COUNTS:
        print(f"BENCH intake.cases_per_s_workers_{workers} {throughput[workers]:.0f} cases/s")
    print(f"BENCH intake.workers_2_speedup {throughput[2] / throughput[1]:.2f} ratio")
    for stack in stacks:
        found = figures[stack.workers]
        rounds = ", ".join(f"{r:.0f}" for r in found.cases_per_s)
        busy = ", ".join(f"{b:.0%}" for b in found.machine_busy)
        cpu = ", ".join(f"{n} {found.cpu_ms_per_case(n):.2f}" for n in found.cpu_s)
        spread = "/".join(str(n) for n in stack.spread)
        print(
            f"# workers {stack.workers}: cases/s by round {rounds}; CPU ms per case: {cpu}; the "
            f"machine's {os.cpu_count()} cores busy {busy} (by round: a second worker helps only "
            f"where cores are left); intake's connections per case worker {spread} "
            f"(intake started {stack.starts}x); {WORKERS_IN_FLIGHT} in flight over "
            f"{CONNECTIONS_PER_WORKER * stack.workers} connections",
            file=sys.stderr,
        )
        if found.missing:
            print(
                f"# workers {stack.workers}: {found.missing} cases never reached Kafka",
                file=sys.stderr,
            )


def main() -> int:
    bootstrap = os.environ.get("CASEDESK_BENCH_KAFKA", "127.0.0.1:9092")
    machine_rps = machine_grpc_unary_rps("intake")  # before anything of ours runs
    scaled = scaled_rate(machine_rps)
    database = postgres_env()
    # One schema per stack: they never share a store, an outbox or idempotency records.
    stack_names = ["tls", "plaintext"] + (["sealed"] if SEALED else [])
    if WORKERS_CASES:
        stack_names += [f"workers_{w}" for w in WORKER_COUNTS]
    schemas = {name: f"bench_intake_{uuid.uuid4().hex[:10]}" for name in stack_names}
    dsn = (
        f"postgresql://{quote(database['POSTGRES_USER'])}:{quote(database['POSTGRES_PASSWORD'])}"
        f"@{database['POSTGRES_HOST']}:{database['POSTGRES_PORT']}/{database['POSTGRES_DBNAME']}"
    )
    with psycopg.connect(dsn, autocommit=True) as connection:
        for schema in schemas.values():
            connection.execute(f"CREATE SCHEMA {schema}")
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
            stores = Stores(database, dsn, bootstrap, portal.issuer, logs)
            with contextlib.ExitStack() as running:
                order = [plaintext, tls]  # the first round is plaintext's
                key_service = None
                if SEALED:  # its key store a SQLite file, as one pod's (one fsync per commit)
                    keys_dir = logs / "keys"
                    store, log = str(keys_dir / "keys.sqlite"), logs / "keys.log"
                    key_service = running.enter_context(
                        running_key_service(logs / "pki", keys_dir, store, log, caller=INTAKE)
                    )
                    order.append(sealed_transport(tls, key_service))
                case_specs = [
                    ("casedesk_case", stores.case_env(schemas[transport.name]), transport)
                    for transport in order
                ]
                cases = running.enter_context(services(case_specs, logs))
                intake_specs = [
                    (
                        "casedesk_intake",
                        stores.intake_env(case_address, schemas[transport.name]),
                        transport,
                    )
                    for transport, (case_address, _) in zip(order, cases, strict=True)
                ]
                intakes = running.enter_context(services(intake_specs, logs))
                stacks = []
                for transport, (case_address, case_pid), (intake_address, intake_pid) in zip(
                    order, cases, intakes, strict=True
                ):
                    sealing = key_service if transport.sealing else None
                    helpers = {KEY_SERVICE: sealing.pid} if sealing else {}
                    pids = {
                        "intake": intake_pid,
                        "case service": case_pid,
                        **helpers,
                        **infrastructure_pids(),
                        "load generator": os.getpid(),
                    }
                    address = sealing.address if sealing else None
                    stacks.append(Stack(transport, intake_address, case_address, pids, address))
                # The load generator runs on the services' own event loop (uvloop): the machine's
                # cores it takes from the path are fewer (a frontend runs elsewhere in production).
                figures = run_on("uvloop", measure(stacks, bootstrap, citizen_tokens, scaled))
                handed_out = {}
                if key_service is not None:
                    handed_out = {by: key_service.handed_out(by) for by in ("rpc", "caller")}
            workers = None
            if WORKERS_CASES:  # once the two stacks above have stopped
                workers = run_on("uvloop", measure_workers(tls, stores, schemas, citizen_tokens))
        report(tls, figures[tls.name])  # TLS on is the production configuration
        report(plaintext, figures[plaintext.name])
        report_cost(figures[tls.name], figures[plaintext.name])
        report_machine(tls, figures[tls.name], machine_rps, scaled)
        if SEALED:
            sealed = order[-1]
            report(sealed, figures[sealed.name])
            report_machine(sealed, figures[sealed.name], machine_rps, scaled)
            report_sealing(figures[tls.name], figures[sealed.name], handed_out)
        if workers is not None:
            report_workers(*workers)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            for schema in schemas.values():
                connection.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
