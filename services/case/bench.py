"""Benchmark of the case service on PostgreSQL, through gRPC, with the outbox relay running.

Prints `BENCH <metric> <value> <unit>` lines, over mutual TLS (the production configuration):
  case.creates_per_s_postgres         CreateCase calls per second (concurrent grpc.aio clients)
  case.status_changes_per_s_postgres  ChangeStatus calls per second
  case.p99_ms_postgres                99th percentile latency at RATE commands/s offered (paced,
                                      open loop: creates, then status changes; measured from each
                                      call's scheduled start, so a stalled server is not hidden)
then the same three with the suffix `_plaintext` (the same workload over plaintext gRPC), and
  case.tls_cost_cpu_pct               the case service's CPU per command over TLS, in % more than
                                      over plaintext (closed-loop phases, both runs of this process)
then, with personal data sealed (CASEDESK_SEAL_PERSONAL_DATA, issue #18; mutual TLS too), the
same three with the suffix `_sealed` (the same workload, the p99 at the same RATE), and
  case.sealing_cost_cpu_pct           the case service's CPU per command sealed, in % more than
                                      unsealed (both over TLS; closed-loop phases, as above)
  case.key_service_cpu_ms_per_command the key service's CPU per command of the sealed service
  case.p99_ms_at_scaled_rate_sealed   the sealed service's case.p99_ms_at_scaled_rate (below)
  case.capacity_to_scaled_rate_sealed and its case.capacity_to_scaled_rate: the musts, sealed
  case.rebuild_1000_events_ms         rebuilding a 1,000-event case from the store (median)
Needs PostgreSQL and Kafka: CASEDESK_BENCH_POSTGRES_{HOST,PORT,USER,PASSWORD,DBNAME} and
CASEDESK_BENCH_KAFKA (tools/bench.sh starts both). Bounded: a fixed number of calls, each with a
deadline. Must (DESIGN.md): >= 500 commands/s with p99 <= 50 ms, rebuild <= 1 ms.
Throughput is measured closed loop with IN_FLIGHT calls at a time, where latency is only
IN_FLIGHT / throughput by construction (printed as a comment, not as the p99).
Each paced phase (at RATE, and at the scaled rate below) starts once the machine is quiet again
(casedesk_runtime.testing.calibration.settle): what the closed-loop phase just before left to do
(the index projector and the outbox relay catching up, PostgreSQL's writes) or another service's
round over its capacity (the sealed one's on a slower machine) is not drained inside the paced
phase's latencies. The waits are on each service's comment line.

Who calls, as in production (README "People"): the cases are created by `intake`, acting for
the citizen (CITIZEN <login>, as intake names him); the status changes come from the `desk`,
acting for a signed-in specialist whose access token travels with every call as metadata
`x-person-token` (one L3 token, since an L3 specialist works every tier, minted once and sent
with each call as the desk would for the same person; valid for TOKEN_LIFETIME_S). The token is
issued by a fake OpenID Connect provider this bench starts on loopback
(casedesk_runtime.testing.identity_provider: discovery and JWKS over real HTTP), and both case
services verify it against it (CASEDESK_OIDC_ISSUER/AUDIENCE): the verification of the token on
every status change (signature, issuer, audience, expiry) is real production cost and is included
in the status-change figures, the CPU per command and the p99; the key set is fetched once, during
the warm-up. The plaintext service verifies the same token on the same calls (a call with a
person token acts for that person there too), so the TLS cost below is TLS's alone.

TLS against plaintext. Two case services run side by side, one with mutual TLS (certificates of
a development PKI made in a temporary directory: the bench calls as `intake` to create cases and
as `desk` to change statuses, the identities the access table lets do each), one with
CASEDESK_GRPC_INSECURE_DEV, each on its own schema. The workload is split into ROUNDS rounds per
transport, taken in the order plaintext, TLS, TLS, plaintext, ... so that drift in the machine's
speed (a shared machine) falls on both alike; throughputs are the median of the rounds,
percentiles are over every paced call of the transport's rounds (as many as one run had before).
Each service is called over one channel per calling identity (intake's and the desk's: two HTTP/2
connections, over either transport; see measure_grpc), made and warmed up before the first round
and reused throughout, as services reuse theirs: the TLS handshakes are not in the figures (the
bench checks that no connection was made during the rounds).

Sealed against unsealed. A third case service, over mutual TLS as the TLS one and with
CASEDESK_SEAL_PERSONAL_DATA=true, on its own schema, takes part in the same rounds (plaintext,
TLS, sealed, sealed, TLS, plaintext, ...: the TLS service is the unsealed reference). It fetches
its data keys from a key service this bench starts (`python -m casedesk_keyservice`, as deployed
with a Secret-file KEK: the KEK and the index key made in the temporary directory, `keys`'s
certificate of the same PKI, the access table letting `case` call GetCurrentKey; the key store a
SQLite file there, one commit with fsync per new key as deployed, or with
CASEDESK_BENCH_CASE_KEY_STORE=postgresql a schema of the bench's PostgreSQL, as replicas share it),
with the default key cache (CASEDESK_KEYS_CACHE_TTL_S, _MAX). Every case is a different citizen's
(the warm-up's numbered apart from the rounds'), so each create needs a new data key: a cache
miss and one GetCurrentKey call that makes and stores the key, the worst case for sealing (a
citizen's second case finds his key cached or stored). The status changes open the reply's
sealed fields with the key cached at the create (GetKey only once the TTL has passed). The key
service's CPU counts in the sealed service's path; a comment line gives the cases created, the
distinct citizens and the keys the key service handed out, by RPC (its metrics). The best case
follows as a comment line: after the rounds, CREATES creates per service closed loop all for one
citizen (his key cached after the first), on the TLS and the sealed service in rounds T S S T:
creates/s and the service's CPU per create of both.
Relative to the machine (casedesk_runtime.testing.calibration; TLS):
  case.machine_grpc_unary_rps         the yardstick: a bare gRPC call's rate on this machine,
                                      measured right before this bench starts anything (or
                                      pinned by CASEDESK_BENCH_MACHINE_GRPC_RPS)
  case.creates_per_grpc_call          creates/s over it
  case.scaled_rate                    0.075 x the yardstick (500/s at 6,700 calls/s)
  case.p99_ms_at_scaled_rate          p99 of creates offered at that rate (must: <= 50 ms)
  case.capacity_to_scaled_rate        creates/s at saturation over the scaled rate (must: >= 2)
  case.path_cpu_ms_per_command        CPU of every process on the path per command
  case.cpu_ms_per_command.<p>         per process: case_service, postgresql, kafka, load_generator
Worker processes (CASEDESK_WORKERS, casedesk_runtime.workers), over TLS:
  case.creates_per_s_postgres_workers_1  creates/s of the service with one worker process
  case.creates_per_s_postgres_workers_2  the same with two, sharing the port
  case.workers_2_speedup                 the second over the first
Two more services (one and two workers, each on its own schema) side by side, in rounds taken in
the order 1, 2, 2, 1, ...; WORKERS_IN_FLIGHT creates at a time over CONNECTIONS_PER_WORKER
connections per worker. The kernel hands each new connection to one worker (SO_REUSEPORT), at
random; the bench keeps connections until every worker holds as many (it sees whose each one is in
/proc), as a service's many callers even out on average, so that the figure is the workers' and
not the luck of a few connections.
Knobs: CASEDESK_BENCH_CASE_{CREATES,CHANGES,PACED} (per transport, split over the rounds),
CASEDESK_BENCH_CASE_WARM_UP (creates, then as many status changes, per service first),
CASEDESK_BENCH_CASE_{IN_FLIGHT,RATE,ROUNDS}, CASEDESK_BENCH_CASE_WORKERS_{CREATES,IN_FLIGHT},
CASEDESK_BENCH_CASE_SEALED=0 (no sealed service, no key service: the run is a third shorter);
CASEDESK_BENCH_CASE_EXTRA="K=V,K=V" adds service settings (e.g. CASEDESK_RELAY_ENABLED=false
to see the relay's share).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import grpc
import psycopg

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk_keyservice.testing.process import KeyService, running_key_service, wait_healthy
from casedesk_runtime.event_loop import run_on
from casedesk_runtime.oidc_grpc import PERSON_TOKEN_KEY
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

# The plaintext run: the service's explicit development setting, every call allowed.
PLAINTEXT = {"CASEDESK_GRPC_INSECURE_DEV": "true"}
# Who calls in the TLS run (access.py): intake creates the cases, acting for citizens; the desk
# changes their status, acting for the specialist whose token comes with each call.
CREATOR, DESK = "intake", "desk"
SERVICE = "case service"  # the process whose CPU per command is the service's cost
KEY_SERVICE = "key service"  # the sealed service's key service (services/keys)
# The person behind the desk's calls: an L3 specialist works cases of every tier (person_rules).
SPECIALIST, SPECIALIST_TIER = "l3.sidorova", "L3"
# The identity provider's realm and the audience the case service requires (README "People").
REALM, AUDIENCE = "casedesk", "casedesk-case"
# The desk sends the signed-in person's token unchanged with each call; the bench's one token
# must outlive the whole run (Keycloak's 5 minutes would need the desk's refresh, not measured).
TOKEN_LIFETIME_S = 6 * 3600


CREATES = int(os.environ.get("CASEDESK_BENCH_CASE_CREATES", "4000"))
CHANGES = int(os.environ.get("CASEDESK_BENCH_CASE_CHANGES", "4000"))
IN_FLIGHT = int(os.environ.get("CASEDESK_BENCH_CASE_IN_FLIGHT", "24"))
RATE = float(os.environ.get("CASEDESK_BENCH_CASE_RATE", "500"))
PACED = int(os.environ.get("CASEDESK_BENCH_CASE_PACED", "3000"))
ROUNDS = max(1, int(os.environ.get("CASEDESK_BENCH_CASE_ROUNDS", "2")))
DEADLINE_S = 5.0
# The sealed service (CASEDESK_SEAL_PERSONAL_DATA) and its key service in the rounds; 0: left out.
SEALED = os.environ.get("CASEDESK_BENCH_CASE_SEALED", "1") not in ("0", "false", "")
# Its key store: `sqlite` (a file in the temporary directory, one pod's) or `postgresql` (a schema
# of the bench's PostgreSQL, as replicas share it).
KEY_STORE = os.environ.get("CASEDESK_BENCH_CASE_KEY_STORE", "sqlite")
# Citizens of the warm-up: numbered apart from the rounds' (0 ..., 10**6 ..., 5 * 10**6 ...), so
# that no citizen of the sealed service's measured creates has had a key made before.
WARM_UP_FIRST = 9 * 10**6
# As many creates (then as many status changes) per service before the rounds: a service that
# has run for a while, its schema's tables analysed by autovacuum and its caches filled. With 300
# the TLS service measured 599 creates/s and a p99 at 500/s of 109 ms; with 2,000, in the next
# run, 772 and 14 ms: the rounds measured a cold start. In commands, not seconds, so that a
# slower machine warms up as far.
WARM_UP_CREATES = int(os.environ.get("CASEDESK_BENCH_CASE_WARM_UP", "2000"))
# The one citizen of the sealed comparison's repeated-citizen creates (measure_repeated).
REPEATED_CITIZEN = 8 * 10**6
WORKER_COUNTS = (1, 2)
WORKERS_CREATES = int(os.environ.get("CASEDESK_BENCH_CASE_WORKERS_CREATES", "3000"))
WORKERS_IN_FLIGHT = int(os.environ.get("CASEDESK_BENCH_CASE_WORKERS_IN_FLIGHT", "48"))
CONNECTIONS_PER_WORKER = 4
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


def create_request(n: int) -> pb.CreateCaseRequest:
    """A portal citizen's case as intake relays it: intake names the citizen as the actor."""
    login = f"citizen-{n}"
    return pb.CreateCaseRequest(
        context=pb.CommandContext(
            idempotency_key=str(uuid.uuid4()),
            actor=types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id=login),
        ),
        channel=types_pb2.PORTAL_CHAT,
        type=types_pb2.TECHNICAL,
        category=(types_pb2.REGISTRATION_SIGN_IN, types_pb2.TECHNICAL_FAULT)[n % 2],
        citizen=types_pb2.Citizen(account_login=login, mobile_phone="+79160000000"),
        content=types_pb2.CaseContent(subject="Не приходит СМС-код", description="Жду код"),
    )


def change_request(case_id: str, action: int) -> pb.ChangeStatusRequest:
    """A status change as the desk sends it: no actor, the person token says who acts."""
    return pb.ChangeStatusRequest(
        context=pb.CommandContext(idempotency_key=str(uuid.uuid4())),
        case_id=case_id,
        action=action,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Callers:
    """The two callers of one case service: intake (creates) and the desk, which sends the
    specialist's token with each of its calls."""

    intake: case_service_pb2_grpc.CaseServiceStub
    desk: case_service_pb2_grpc.CaseServiceStub
    person_token: str
    citizens: list[int] = field(default_factory=list)  # the citizen of each case created

    def create(self, n: int) -> Awaitable[pb.CaseView]:
        self.citizens.append(n)
        return self.intake.CreateCase(create_request(n), timeout=DEADLINE_S)

    def change(self, case_id: str, action: int) -> Awaitable[pb.CaseView]:
        return self.desk.ChangeStatus(
            change_request(case_id, action),
            metadata=((PERSON_TOKEN_KEY, self.person_token),),
            timeout=DEADLINE_S,
        )


Call = Callable[[], Awaitable[object]]


async def drive(calls: list[Call], in_flight: int = IN_FLIGHT) -> tuple[float, list[float]]:
    """Run `calls` `in_flight` at a time."""
    latencies: list[float] = []
    queue = iter(calls)

    async def worker() -> None:
        for call in queue:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.perf_counter() - began, latencies


async def paced(calls: list[Call], rate: float = RATE) -> list[float]:
    """Start call n at n / rate seconds (open loop); latency from that scheduled instant."""
    latencies: list[float] = []

    async def one(call: Call, scheduled: float) -> None:
        await call()
        latencies.append((time.perf_counter() - scheduled) * 1000)

    begin = time.perf_counter()
    tasks = []
    for n, call in enumerate(calls):
        scheduled = begin + n / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(call, scheduled)))
    await asyncio.gather(*tasks)
    return latencies


def cpu_seconds(pid: int) -> float:
    """CPU a process (with its children: PostgreSQL's backends) has used so far; this process,
    the load generator, without the services it started."""
    return calibration.cpu_seconds(pid, tree=pid != os.getpid())


# Each channel gets a connection of its own, over either transport: without this, gRPC's global
# subchannel pool would let two plaintext channels to one address share one connection, whereas
# two TLS channels (different certificates) cannot.
CHANNEL_OPTIONS = (("grpc.use_local_subchannel_pool", 1),)


@dataclass(frozen=True)
class Transport:
    """How the bench reaches one of the two case services: mutual TLS or plaintext."""

    name: str  # "tls" or "plaintext", as printed in the comments
    suffix: str  # appended to the metric names: the TLS figures keep the names they always had
    service_env: dict[str, str]
    # Per calling identity (CREATOR, DESK): its certificate and the CA. Empty: plaintext.
    credentials: dict[str, grpc.ChannelCredentials]

    def channel(self, address: str, identity: str) -> grpc.aio.Channel:
        if not self.credentials:
            return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        return grpc.aio.secure_channel(address, self.credentials[identity], CHANNEL_OPTIONS)


def transports(pki: Path) -> tuple[Transport, Transport]:
    """(TLS, plaintext), with a development PKI made in `pki`: the service presents `case`'s
    certificate, the bench CREATOR's or DESK's."""
    ensure_pki(pki, ["case", CREATOR, DESK, "keys"])
    tls_env = {
        "CASEDESK_TLS_CERT_FILE": str(pki / "case.crt"),
        "CASEDESK_TLS_KEY_FILE": str(pki / "case.key"),
        "CASEDESK_TLS_CA_FILE": str(pki / "ca.crt"),
    }
    credentials = {
        identity: grpc.ssl_channel_credentials(
            root_certificates=(pki / "ca.crt").read_bytes(),
            private_key=(pki / f"{identity}.key").read_bytes(),
            certificate_chain=(pki / f"{identity}.crt").read_bytes(),
        )
        for identity in (CREATOR, DESK)
    }
    return (
        Transport("tls", "", tls_env, credentials),
        Transport("plaintext", "_plaintext", PLAINTEXT, {}),
    )


def sealed_transport(tls: Transport, key_service: KeyService) -> Transport:
    """The TLS transport to a service sealing personal data with keys from `key_service`; the
    same callers."""
    sealing = key_service.sealing_env()
    return Transport("sealed", "_sealed", {**tls.service_env, **sealing}, tls.credentials)


@dataclass
class Figures:
    """One transport's measurements, accumulated over its rounds."""

    creates_per_s: list[float] = field(default_factory=list)
    changes_per_s: list[float] = field(default_factory=list)
    saturated_ms: list[float] = field(default_factory=list)  # closed-loop calls
    creates_at_rate_ms: list[float] = field(default_factory=list)
    changes_at_rate_ms: list[float] = field(default_factory=list)
    # CPU per process (the case service, PostgreSQL, Kafka, the load generator) over the
    # closed-loop phases.
    cpu_s: dict[str, float] = field(default_factory=dict)
    commands: int = 0  # the closed-loop commands that CPU was spent on
    creates: int = 0  # of which creates
    scaled_ms: list[float] = field(default_factory=list)  # creates at the machine's scaled rate
    settled_s: list[float] = field(default_factory=list)  # waits for quiet before paced phases

    def at_rate_ms(self) -> list[float]:
        return self.creates_at_rate_ms + self.changes_at_rate_ms

    def cpu_ms_per_command(self, name: str = SERVICE) -> float:
        return self.cpu_s[name] * 1000 / self.commands

    def path_cpu_ms_per_command(self) -> float:
        return sum(self.cpu_s.values()) * 1000 / self.commands


async def measure_round(
    callers: Callers, pids: dict[str, int], figures: Figures, first: int
) -> None:
    """One round on one service: its share of the creates and status changes closed loop, then
    its share of the paced commands. `first` numbers this round's cases."""
    creates_n, changes_n, paced_n = (max(2, n // ROUNDS) for n in (CREATES, CHANGES, PACED))
    case_ids: list[str] = []
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}

    async def create(n: int) -> None:
        view = await callers.create(n)
        case_ids.append(view.case_id)

    elapsed, create_ms = await drive([partial(create, n) for n in range(first, first + creates_n)])
    figures.creates_per_s.append(creates_n / elapsed)

    # Each case moves IN_PROGRESS <-> WAITING_FOR_CITIZEN; one call per case at a time.
    laps = max(1, changes_n // len(case_ids))
    actions = [pb.TAKE_IN_WORK] + [pb.ASK_CLARIFICATION, pb.TAKE_IN_WORK] * laps
    changes = len(case_ids) * (laps + 1)
    per_call: list[float] = []
    began = time.perf_counter()

    async def timed_walk(case_id: str) -> None:
        for action in actions[: laps + 1]:
            started = time.perf_counter()
            await callers.change(case_id, action)
            per_call.append((time.perf_counter() - started) * 1000)

    await drive([partial(timed_walk, c) for c in case_ids])
    elapsed = time.perf_counter() - began
    figures.changes_per_s.append(changes / elapsed)
    for name, pid in pids.items():
        figures.cpu_s[name] = figures.cpu_s.get(name, 0.0) + cpu_seconds(pid) - cpu_before[name]
    figures.commands += len(create_ms) + len(per_call)
    figures.creates += len(create_ms)
    figures.saturated_ms += create_ms + per_call

    # Latency at the required rate: new cases, then one status change per walked case.
    creates: list[Call] = [
        partial(callers.create, n) for n in range(10**6 + first, 10**6 + first + paced_n // 2)
    ]
    paced_changes: list[Call] = [
        partial(callers.change, c, pb.TAKE_IN_WORK)
        for c in case_ids[: paced_n - paced_n // 2]
        if laps % 2 == 1  # the walk left these cases WAITING_FOR_CITIZEN
    ]
    figures.settled_s.append(await settle())  # the saturation's backlog drained first
    figures.creates_at_rate_ms += await paced(creates)
    figures.changes_at_rate_ms += await paced(paced_changes)


async def warm_up(callers: Callers) -> None:
    """Connect both channels (the handshakes happen here), let the service fetch the identity
    provider's keys (on the first token) and warm its caches: WARM_UP_CREATES cases created,
    then taken in work by the desk."""
    views: list[pb.CaseView] = []

    async def create(n: int) -> None:
        views.append(await callers.create(n))

    await drive([partial(create, n) for n in range(WARM_UP_FIRST, WARM_UP_FIRST + WARM_UP_CREATES)])
    await drive([partial(callers.change, v.case_id, pb.TAKE_IN_WORK) for v in views])


@dataclass
class Measured:
    """What measure_grpc found."""

    figures: dict[str, Figures]
    citizens: dict[str, list[int]]  # by transport, the citizen of each case created
    handed_out: dict[str, float]  # by the key service over the rounds, by RPC
    # TLS and sealed, a repeated citizen's creates: (creates/s, the service's CPU ms per create)
    repeated: dict[str, tuple[float, float]]


async def measure_repeated(
    targets: list[tuple[Transport, str, int]], callers: dict[str, Callers]
) -> dict[str, tuple[float, float]]:
    """Creates closed loop, all for one citizen (his key cached after the first), on the TLS and
    the sealed service, CREATES / ROUNDS per round, in the order T S S T ..."""
    chosen = [(t.name, pid) for t, _, pid in targets if t.name in ("tls", "sealed")]
    rates: dict[str, list[float]] = {name: [] for name, _ in chosen}
    cpu: dict[str, float] = dict.fromkeys(rates, 0.0)
    per_round = max(2, CREATES // ROUNDS)
    for number in range(ROUNDS):
        for name, pid in chosen if number % 2 == 0 else chosen[::-1]:
            stub = callers[name].intake
            calls: list[Call] = [
                partial(stub.CreateCase, create_request(REPEATED_CITIZEN), timeout=DEADLINE_S)
                for _ in range(per_round)
            ]
            before = cpu_seconds(pid)
            elapsed, _ = await drive(calls)
            cpu[name] += cpu_seconds(pid) - before
            rates[name].append(per_round / elapsed)
    creates = per_round * ROUNDS
    return {n: (statistics.median(rates[n]), cpu[n] * 1000 / creates) for n in rates}


async def measure_grpc(
    targets: list[tuple[Transport, str, int]],
    person_token: str,
    scaled: float,
    helpers: dict[str, dict[str, int]] | None = None,
    key_service: KeyService | None = None,
) -> Measured:
    """Warm each (transport, address, service pid) up, then ROUNDS rounds on each, in the order
    A B C C B A A B C ... so that a machine slowing down or speeding up weighs on all alike.
    `helpers`: by transport, further processes of its own whose CPU counts (the key service).
    With a sealed service, then a repeated citizen's creates (measure_repeated).

    One channel, hence one HTTP/2 connection, per calling identity and service (intake's for
    creates, the desk's for status changes), as a service holds one per peer; the same two over
    plaintext (CHANNEL_OPTIONS), so the two transports stay alike.
    """
    callers: dict[str, Callers] = {}
    channels: list[grpc.aio.Channel] = []
    figures = {transport.name: Figures() for transport, _, _ in targets}
    try:
        for transport, address, _ in targets:
            stubs = {}
            for identity in (CREATOR, DESK):
                channels.append(channel := transport.channel(address, identity))
                stubs[identity] = case_service_pb2_grpc.CaseServiceStub(channel)
            callers[transport.name] = Callers(stubs[CREATOR], stubs[DESK], person_token)
            await warm_up(callers[transport.name])
        ports = {t.name: int(address.rsplit(":", 1)[1]) for t, address, _ in targets}
        connected = {name: established(port) for name, port in ports.items()}
        for number in range(ROUNDS):
            for transport, _, pid in targets if number % 2 == 0 else targets[::-1]:
                name = transport.name
                pids = {
                    SERVICE: pid,
                    **(helpers or {}).get(name, {}),
                    **infrastructure_pids(),
                    "load generator": os.getpid(),
                }
                await measure_round(callers[name], pids, figures[name], first=number * 100_000)
        # Creates at the load scaled to this machine, on the production configuration (TLS), and
        # sealed (new citizens: each create a new key).
        for name in ("tls", "sealed") if "sealed" in callers else ("tls",):
            scaled_creates: list[Call] = [
                partial(callers[name].create, n)
                for n in range(5 * 10**6, 5 * 10**6 + max(2, PACED // ROUNDS))
            ]
            figures[name].settled_s.append(await settle())
            figures[name].scaled_ms = await paced(scaled_creates, scaled)
        handed_out, repeated = {}, {}
        if key_service is not None:
            handed_out = key_service.handed_out()
            repeated = await measure_repeated(targets, callers)
        for name, port in ports.items():
            new = established(port) - connected[name]
            if new:
                print(
                    f"# {name}: {len(new)} connection(s) made during the rounds: their "
                    "handshakes are in the figures",
                    file=sys.stderr,
                )
            else:
                print(
                    f"# {name}: {len(connected[name])} connection(s), made before the rounds, "
                    "carried every call",
                    file=sys.stderr,
                )
    finally:
        for channel in channels:
            await channel.close()
    citizens = {name: c.citizens for name, c in callers.items()}
    return Measured(figures, citizens, handed_out, repeated)


def report(transport: Transport, figures: Figures) -> None:
    suffix = transport.suffix
    creates_per_s = statistics.median(figures.creates_per_s)
    changes_per_s = statistics.median(figures.changes_per_s)
    at_rate, saturated = figures.at_rate_ms(), figures.saturated_ms
    print(f"BENCH case.creates_per_s_postgres{suffix} {creates_per_s:.0f} ops/s", flush=True)
    print(f"BENCH case.status_changes_per_s_postgres{suffix} {changes_per_s:.0f} ops/s", flush=True)
    print(f"BENCH case.p99_ms_postgres{suffix} {percentile(at_rate, 0.99):.1f} ms", flush=True)
    rounds = ", ".join(
        f"{c:.0f}/{s:.0f}"
        for c, s in zip(figures.creates_per_s, figures.changes_per_s, strict=True)
    )
    print(
        f"# {transport.name}: at {RATE:.0f}/s offered: p50 {percentile(at_rate, 0.5):.1f} ms over "
        f"{len(at_rate)} commands (p99 creates {percentile(figures.creates_at_rate_ms, 0.99):.1f} "
        f"ms, status changes {percentile(figures.changes_at_rate_ms, 0.99):.1f} ms); "
        f"at saturation ({IN_FLIGHT} in flight): p50 "
        f"{statistics.median(saturated):.1f} ms, p99 {percentile(saturated, 0.99):.1f} ms; "
        f"server CPU {figures.cpu_ms_per_command():.2f} ms per command; "
        f"creates/status changes per s by round: {rounds}; the machine quiet again before "
        f"each paced phase after {', '.join(f'{w:.1f}' for w in figures.settled_s)} s",
        file=sys.stderr,
    )


def report_machine(tls: Figures, machine_rps: float, scaled: float) -> None:
    """The figures relative to this machine (calibration.py): they carry over to another one."""
    creates_per_s = statistics.median(tls.creates_per_s)
    print(f"BENCH case.creates_per_grpc_call {creates_per_s / machine_rps:.3f} ratio", flush=True)
    print(f"BENCH case.scaled_rate {scaled:.0f} ops/s", flush=True)
    p99 = percentile(tls.scaled_ms, 0.99)
    print(f"BENCH case.p99_ms_at_scaled_rate {p99:.1f} ms", flush=True)
    print(f"BENCH case.capacity_to_scaled_rate {creates_per_s / scaled:.2f} ratio", flush=True)
    print(f"BENCH case.path_cpu_ms_per_command {tls.path_cpu_ms_per_command():.2f} ms")
    for name in tls.cpu_s:
        key = name.lower().replace(" ", "_")
        print(f"BENCH case.cpu_ms_per_command.{key} {tls.cpu_ms_per_command(name):.3f} ms")


def report_cost(tls: Figures, plaintext: Figures) -> None:
    """What TLS costs, from the two transports' figures of this same run."""
    cpu_ratio = tls.cpu_ms_per_command() / plaintext.cpu_ms_per_command()
    print(f"BENCH case.tls_cost_cpu_pct {(cpu_ratio - 1) * 100:.1f} %", flush=True)
    creates = statistics.median(tls.creates_per_s) / statistics.median(plaintext.creates_per_s)
    changes = statistics.median(tls.changes_per_s) / statistics.median(plaintext.changes_per_s)
    p99 = percentile(tls.at_rate_ms(), 0.99) / percentile(plaintext.at_rate_ms(), 0.99)
    print(
        f"# TLS/plaintext: creates/s x{creates:.2f}, status changes/s x{changes:.2f}, "
        f"p99 at {RATE:.0f}/s x{p99:.2f}, service CPU per command x{cpu_ratio:.2f}",
        file=sys.stderr,
    )


def report_sealing(tls: Figures, sealed: Figures, measured: Measured, scaled: float) -> None:
    """What sealing costs, from the TLS and the sealed service's figures of this same run (the
    same callers, the same workload, both over mutual TLS), and the musts relative to the machine
    with sealing on (report_machine's)."""
    p99_scaled = percentile(sealed.scaled_ms, 0.99)
    print(f"BENCH case.p99_ms_at_scaled_rate_sealed {p99_scaled:.1f} ms", flush=True)
    capacity = statistics.median(sealed.creates_per_s) / scaled
    print(f"BENCH case.capacity_to_scaled_rate_sealed {capacity:.2f} ratio", flush=True)
    cpu_ratio = sealed.cpu_ms_per_command() / tls.cpu_ms_per_command()
    print(f"BENCH case.sealing_cost_cpu_pct {(cpu_ratio - 1) * 100:.1f} %", flush=True)
    key_ms = sealed.cpu_ms_per_command(KEY_SERVICE)
    print(f"BENCH case.key_service_cpu_ms_per_command {key_ms:.3f} ms", flush=True)
    creates = statistics.median(sealed.creates_per_s) / statistics.median(tls.creates_per_s)
    changes = statistics.median(sealed.changes_per_s) / statistics.median(tls.changes_per_s)
    p99 = percentile(sealed.at_rate_ms(), 0.99) / percentile(tls.at_rate_ms(), 0.99)
    path = sealed.path_cpu_ms_per_command() / tls.path_cpu_ms_per_command()
    print(
        f"# sealed/TLS: creates/s x{creates:.2f}, status changes/s x{changes:.2f}, "
        f"p99 at {RATE:.0f}/s x{p99:.2f}, service CPU per command x{cpu_ratio:.2f}, CPU of the "
        f"whole path per command x{path:.2f} (the key service's included)",
        file=sys.stderr,
    )
    per_create = sealed.cpu_s[KEY_SERVICE] * 1000 / sealed.creates
    citizens, handed_out = measured.citizens["sealed"], measured.handed_out
    print(
        f"# sealed: key store {KEY_STORE}; {len(citizens)} cases created for "
        f"{len(set(citizens))} distinct citizens "
        "(each a new data key: a key-cache miss); the key service handed out "
        + ", ".join(f"{rpc} {count:.0f}" for rpc, count in sorted(handed_out.items()))
        + f"; its CPU {per_create:.2f} ms per create",
        file=sys.stderr,
    )
    (tls_rate, tls_cpu), (sealed_rate, sealed_cpu) = (
        measured.repeated[n] for n in ("tls", "sealed")
    )
    print(
        f"# one repeated citizen (his key cached): creates/s TLS {tls_rate:.0f}, sealed "
        f"{sealed_rate:.0f} (x{sealed_rate / tls_rate:.2f}); the service's CPU per create TLS "
        f"{tls_cpu:.2f} ms, sealed {sealed_cpu:.2f} ms (x{sealed_cpu / tls_cpu:.2f})",
        file=sys.stderr,
    )


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


async def balanced_channels(
    transport: Transport, address: str, supervisor: int, workers: int
) -> list[grpc.aio.Channel]:
    """CONNECTIONS_PER_WORKER connections (as intake) to each worker: new ones are made until
    every worker holds as many, the surplus closed (module docstring)."""
    port = int(address.rsplit(":", 1)[1])
    kept: list[grpc.aio.Channel] = []
    held: dict[int, int] = {}
    for _ in range(50 * workers * CONNECTIONS_PER_WORKER):
        before = connections_by_worker(supervisor, port)
        channel = transport.channel(address, CREATOR)
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
    raise RuntimeError(f"connections never spread over the {workers} workers: {held}")


@dataclass
class WorkersFigures:
    """One service's creates over the rounds of the workers phase."""

    creates_per_s: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    creates: int = 0
    machine_busy: list[float] = field(default_factory=list)  # share of every core, per round


async def measure_workers(
    targets: list[tuple[int, str, int]], tls: Transport
) -> dict[int, WorkersFigures]:
    """(workers, address, supervisor pid) of each service: warmed up, then ROUNDS rounds of
    creates on each, in the order 1, 2, 2, 1, ..."""
    figures = {workers: WorkersFigures() for workers, _, _ in targets}
    stubs: dict[int, list[case_service_pb2_grpc.CaseServiceStub]] = {}
    channels: list[grpc.aio.Channel] = []
    try:
        for workers, address, pid in targets:
            opened = await balanced_channels(tls, address, pid, workers)
            channels += opened
            stubs[workers] = [case_service_pb2_grpc.CaseServiceStub(c) for c in opened]
            await drive(creates_over(stubs[workers], range(300)), WORKERS_IN_FLIGHT)
        per_round = max(2, WORKERS_CREATES // ROUNDS)
        for number in range(ROUNDS):
            for workers, _, pid in targets if number % 2 == 0 else targets[::-1]:
                first = 10**7 + number * 100_000
                cpu_before, machine_before = cpu_seconds(pid), machine_ticks()
                calls = creates_over(stubs[workers], range(first, first + per_round))
                elapsed, _ = await drive(calls, WORKERS_IN_FLIGHT)
                figures[workers].creates_per_s.append(per_round / elapsed)
                figures[workers].cpu_s += cpu_seconds(pid) - cpu_before
                busy, spent = (a - b for a, b in zip(machine_ticks(), machine_before, strict=True))
                figures[workers].machine_busy.append(busy / spent)
                figures[workers].creates += per_round
    finally:
        for channel in channels:
            await channel.close()
    return figures


def creates_over(stubs: list[case_service_pb2_grpc.CaseServiceStub], numbers: range) -> list[Call]:
    """Creates as intake sends them, the connections taken in turn."""
    turns = itertools.cycle(stubs)
    return [partial(next(turns).CreateCase, create_request(n), timeout=DEADLINE_S) for n in numbers]


def run_workers_phase(
    tls: Transport, service_env: dict[str, str], logs: Path
) -> dict[int, WorkersFigures]:
    """The service with one worker and with two (each on a schema of its own), measured."""
    base = postgres_env()
    schemas = {w: f"bench_workers_{w}_{uuid.uuid4().hex[:8]}" for w in WORKER_COUNTS}
    with psycopg.connect(dsn(base), autocommit=True) as connection:
        for schema in schemas.values():
            connection.execute(f"CREATE SCHEMA {schema}")
    try:
        with contextlib.ExitStack() as services:
            targets = []
            for workers, schema in schemas.items():
                env = {**service_env, "POSTGRES_SCHEMA": schema}
                log = logs / f"case-workers-{workers}.log"
                address, pid = services.enter_context(running_service(tls, env, log, workers))
                targets.append((workers, address, pid))
            figures = run_on("uvloop", measure_workers(targets, tls))
    finally:
        with psycopg.connect(dsn(base), autocommit=True) as connection:
            for schema in schemas.values():
                connection.execute(f"DROP SCHEMA {schema} CASCADE")
    return figures


def report_workers(figures: dict[int, WorkersFigures]) -> None:
    throughput = {w: statistics.median(f.creates_per_s) for w, f in figures.items()}
    for workers in WORKER_COUNTS:
        print(
            f"BENCH case.creates_per_s_postgres_workers_{workers} {throughput[workers]:.0f} ops/s",
            flush=True,
        )
    print(f"BENCH case.workers_2_speedup {throughput[2] / throughput[1]:.2f} ratio", flush=True)
    for workers, found in figures.items():
        rounds = ", ".join(f"{r:.0f}" for r in found.creates_per_s)
        busy = ", ".join(f"{b:.0%}" for b in found.machine_busy)
        print(
            f"# workers {workers}: creates/s by round {rounds}; the service's CPU "
            f"{found.cpu_s * 1000 / found.creates:.2f} ms per create (all its processes); "
            f"{WORKERS_IN_FLIGHT} in flight over {CONNECTIONS_PER_WORKER * workers} connections; "
            f"the machine's {os.cpu_count()} cores busy {busy} (by round: a second worker "
            "helps only where cores are left)",
            file=sys.stderr,
        )


def service_environment(transport: Transport) -> dict[str, str]:
    """This process's environment without any TLS, plaintext, identity-provider or sealing setting
    of the caller's own: each service runs exactly as its transport says, trusts only the bench's
    identity provider and seals only when its transport says so."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CASEDESK_TLS_", "CASEDESK_OIDC_", "CASEDESK_KEYS_"))
        and k
        not in (
            "CASEDESK_GRPC_INSECURE_DEV",
            "CASEDESK_SEAL_PERSONAL_DATA",
            "CASEDESK_KEY_SERVICE_ADDRESS",
        )
    }
    return {**inherited, **transport.service_env}


@contextlib.contextmanager
def running_service(
    transport: Transport, env: dict[str, str], log: Path, workers: int = 1
) -> Iterator[tuple[str, int]]:
    """The case service over `transport` until the block ends: its address and pid (with
    several workers, their supervisor's)."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "casedesk_case"],
            env={**service_environment(transport), **env, "CASEDESK_GRPC_PORT": str(port),
                 "CASEDESK_LOG_LEVEL": "WARNING", "CASEDESK_WORKERS": str(workers)},
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        wait_serving(transport, f"127.0.0.1:{port}", process, log)
        # Workers start one after another: every one listens before the bench begins.
        deadline = time.monotonic() + 30 * workers
        while len(listeners(port)) < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"case service: not all {workers} workers started; see {log}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_serving(
    transport: Transport, address: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    if not transport.credentials:
        channel = grpc.insecure_channel(address)
    else:  # health is open to any caller that completed the TLS handshake
        channel = grpc.secure_channel(address, transport.credentials[CREATOR])
    wait_healthy(channel, f"case service ({transport.name})", process, log)


def key_store_url(env: dict[str, str], schema: str, keys_dir: Path) -> str:
    """Where the key service keeps the data keys (KEY_STORE): its own schema's tables in the
    bench's PostgreSQL, or a SQLite file."""
    if KEY_STORE == "sqlite":
        return str(keys_dir / "keys.sqlite")
    if KEY_STORE != "postgresql":
        raise ValueError(f"CASEDESK_BENCH_CASE_KEY_STORE: sqlite or postgresql, not {KEY_STORE!r}")
    return (
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@{env['POSTGRES_HOST']}:"
        f"{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}?options=-csearch_path%3D{schema}"
    )


def main() -> int:
    base = postgres_env()
    kafka = os.environ.get("CASEDESK_BENCH_KAFKA", "127.0.0.1:9092")
    machine_rps = machine_grpc_unary_rps("case")  # before anything of ours runs
    scaled = scaled_rate(machine_rps)
    # One schema per service: they never share a store, an outbox or a relay ("keys": the key
    # service's store, with KEY_STORE=postgresql).
    names = ("tls", "plaintext", "sealed", "keys") if SEALED else ("tls", "plaintext")
    schemas = {name: f"bench_{uuid.uuid4().hex[:10]}" for name in names}
    with psycopg.connect(dsn(base), autocommit=True) as connection:
        for schema in schemas.values():
            connection.execute(f"CREATE SCHEMA {schema}")
    envs = {
        name: {**base, "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_SCHEMA": schema}
        for name, schema in schemas.items()
    }
    try:
        asyncio.run(ensure_topics(kafka))
        logs = Path(tempfile.mkdtemp(prefix="case-bench-"))
        with (
            tempfile.TemporaryDirectory(prefix="case-bench-pki-") as pki,
            FakeIdentityProvider(realm=REALM, audience=AUDIENCE) as identity_provider,
        ):
            tls, plaintext = transports(Path(pki))
            # Minted before anything is timed; sent unchanged with every status change.
            person_token = identity_provider.mint_specialist(
                SPECIALIST, tier=SPECIALIST_TIER, expires_in=TOKEN_LIFETIME_S
            )
            common_env = {
                "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka,
                "POSTGRES_POOL_SIZE": "10",
                "CASEDESK_OIDC_ISSUER": identity_provider.issuer,
                "CASEDESK_OIDC_AUDIENCE": AUDIENCE,
                **EXTRA,
            }
            with contextlib.ExitStack() as services:
                measured = [plaintext, tls]  # the first round is plaintext's
                helpers: dict[str, dict[str, int]] = {}
                key_service, sealed = None, None
                if SEALED:
                    keys_dir = Path(pki) / "keys"
                    store = key_store_url(base, schemas["keys"], keys_dir)
                    key_service = services.enter_context(
                        running_key_service(Path(pki), keys_dir, store, logs / "keys.log")
                    )
                    sealed = sealed_transport(tls, key_service)
                    measured.append(sealed)
                    helpers[sealed.name] = {KEY_SERVICE: key_service.pid}
                targets = []
                for transport in measured:
                    service_env = {**envs[transport.name], **common_env}
                    log = logs / f"case-{transport.name}.log"
                    address, pid = services.enter_context(
                        running_service(transport, service_env, log)
                    )
                    targets.append((transport, address, pid))
                # The load generator on the services' own event loop (as intake's bench).
                measured_grpc = run_on(
                    "uvloop", measure_grpc(targets, person_token, scaled, helpers, key_service)
                )
                figures = measured_grpc.figures
            workers_figures = None
            if WORKERS_CREATES:  # once the two services above have stopped
                workers_figures = run_workers_phase(tls, {**envs["tls"], **common_env}, logs)
        report(tls, figures[tls.name])  # TLS on is the production configuration
        report(plaintext, figures[plaintext.name])
        report_cost(figures[tls.name], figures[plaintext.name])
        if sealed is not None:
            report(sealed, figures[sealed.name])
            report_sealing(figures[tls.name], figures[sealed.name], measured_grpc, scaled)
        report_machine(figures[tls.name], machine_rps, scaled)
        measure_rebuild(envs["tls"])
        if workers_figures is not None:
            report_workers(workers_figures)
    finally:
        with psycopg.connect(dsn(base), autocommit=True) as connection:
            for schema in schemas.values():
                connection.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
