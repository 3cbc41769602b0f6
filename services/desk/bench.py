"""Benchmark of the desk against a real case service on PostgreSQL, over mutual TLS.

Prints `BENCH <metric> <value> <unit>` lines:
  desk.queue_page_p99_ms   GET /queue?view=tier (the first page of 50, nearest deadline first,
                           rendered) with CASES open cases in the L1 queue, each with a running
                           SLA clock; one specialist asking again and again (QUEUE_PAGES requests
                           after a warm-up, one at a time: the latency one person sees)
  desk.live_update_p99_ms  from a status change (ChangeStatus sent to the case service, as the
                           desk sends a form's) to its `change` event arriving on the case page's
                           event stream (/cases/<id>/live: the case service's WatchCase through
                           the desk); the same for the queue page's stream (/queue/live, fed by
                           WatchQueue) is printed as a comment
Needs PostgreSQL: CASEDESK_BENCH_POSTGRES_{HOST,PORT,USER,PASSWORD,DBNAME} (tools/bench.sh starts
it); no Kafka (the outbox relay and the case timeline's consumer are off).

As in production: the cases are created by `intake` (CreateCases, acting for citizens); the
desk process (`python -m casedesk_desk`'s composition, in a child process, on loopback HTTP)
calls the case service as `desk` with the specialist's access token. The token is minted by a
fake OpenID Connect provider on loopback (casedesk_runtime.testing.identity_provider), which the
case service verifies it against; the desk's session is made in the child directly (no
authorization-code sign-in: the provider serves discovery and keys only). The SLA clocks are
written into the case service's `case_sla` table (application/timeline.py's contract) as the case
timeline records them, so the deadline order joins a clock for every case.
Knobs: CASEDESK_BENCH_DESK_{CASES,QUEUE_PAGES,CHANGES}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import grpc
import httpx
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc
from casedesk.common.v1 import types_pb2
from casedesk_runtime.pki import client_credentials, ensure_pki
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider
from casedesk_vocabulary.moscow import to_micros

CASES = int(os.environ.get("CASEDESK_BENCH_DESK_CASES", "10000"))
QUEUE_PAGES = int(os.environ.get("CASEDESK_BENCH_DESK_QUEUE_PAGES", "300"))
CHANGES = int(os.environ.get("CASEDESK_BENCH_DESK_CHANGES", "200"))
WARM_UP = 20
BATCH = 256  # CreateCases' largest batch
REALM, AUDIENCE = "casedesk", "casedesk-case"
SPECIALIST, TIER = "l1.bench", "L1"
TOKEN_LIFETIME_S = 6 * 3600
PERSON_TOKEN = "x-person-token"
DEADLINE_S = 30.0


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def tls_env(pki: Path, name: str) -> dict[str, str]:
    return {
        "CASEDESK_TLS_CERT_FILE": str(pki / f"{name}.crt"),
        "CASEDESK_TLS_KEY_FILE": str(pki / f"{name}.key"),
        "CASEDESK_TLS_CA_FILE": str(pki / "ca.crt"),
    }


def inherited() -> dict[str, str]:
    """This process's environment without settings of the caller's own that would change how
    the services run (TLS, identity provider, plaintext)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CASEDESK_TLS_", "CASEDESK_OIDC_", "CASEDESK_DESK_", "CASEDESK_CASE_"))
        and k != "CASEDESK_GRPC_INSECURE_DEV"
    }


# -- the case service --------------------------------------------------------------------------


@contextlib.contextmanager
def case_service(env: dict[str, str], pki: Path, log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "casedesk_case"],
            env={**inherited(), **env, **tls_env(pki, "case"), "CASEDESK_GRPC_PORT": str(port),
                 "CASEDESK_LOG_LEVEL": "WARNING", "CASEDESK_RELAY_ENABLED": "false"},
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    address = f"127.0.0.1:{port}"
    try:
        with grpc.secure_channel(address, client_credentials(pki, "intake")) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"case service exited: {log.read_text()[-2000:]}")
                with contextlib.suppress(grpc.RpcError):
                    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the case service did not start within 60 s")
                time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def create_request(n: int) -> pb.CreateCaseRequest:
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
        content=types_pb2.CaseContent(subject=f"Не приходит СМС-код №{n}", description="Жду"),
    )


async def create_cases(intake: case_service_pb2_grpc.CaseServiceStub) -> list[str]:
    """CASES cases, batch after batch (so the last batch holds the newest)."""
    case_ids: list[str] = []
    for first in range(0, CASES, BATCH):
        batch = pb.CreateCasesRequest(
            cases=[create_request(n) for n in range(first, min(CASES, first + BATCH))]
        )
        reply = await intake.CreateCases(batch, timeout=DEADLINE_S)
        for result in reply.results:
            if not result.HasField("created"):
                raise RuntimeError(f"a create was refused: {result.refusal.message}")
            case_ids.append(result.created.case_id)
    return case_ids


async def wait_indexed(
    desk: case_service_pb2_grpc.CaseServiceStub, token: str, last: set[str]
) -> None:
    """Until the case index has caught up with the last batch (ListCases reads the index)."""
    deadline = time.monotonic() + 120
    request = pb.ListCasesRequest(page_size=1, open_only=True)
    while time.monotonic() < deadline:
        page = await desk.ListCases(request, metadata=((PERSON_TOKEN, token),), timeout=DEADLINE_S)
        if page.cases and page.cases[0].case_id in last:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("the case index did not catch up within 120 s")


def write_clocks(env: dict[str, str], schema: str, case_ids: list[str]) -> None:
    """A running RESOLUTION clock for every case, due within the next three days, as the case
    timeline records what the SLA service said."""
    now = datetime.now(UTC)
    started, updated = to_micros(now - timedelta(hours=1)), to_micros(now)
    randomly = random.Random(17)
    with psycopg.connect(dsn(env), autocommit=True) as connection:
        deadline = time.monotonic() + 60
        while not _exists(connection, f"{schema}.case_sla"):  # the case index creates it
            if time.monotonic() > deadline:
                raise RuntimeError(f"{schema}.case_sla was not created within 60 s")
            time.sleep(0.2)
        with (
            connection.cursor() as cursor,
            cursor.copy(
                f"COPY {schema}.case_sla (case_id, target, state, due_us, started_us, updated_us) "
                "FROM STDIN"
            ) as copy,
        ):
            for case_id in case_ids:
                due = to_micros(now + timedelta(minutes=randomly.randint(30, 3 * 24 * 60)))
                copy.write_row((case_id, "RESOLUTION", "running", due, started, updated))


def _exists(connection: psycopg.Connection, table: str) -> bool:
    found = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    return found is not None and found[0] is not None


# -- the desk, in a child process --------------------------------------------------------------


def serve_desk(env: dict[str, str], token: str, expires_at: float, reply: Connection) -> None:
    """The desk as `python -m casedesk_desk` composes it, with one specialist signed in."""
    os.environ.clear()
    os.environ.update(env)
    import uvicorn

    from casedesk_desk.__main__ import compose_parts
    from casedesk_desk.domain.sessions import Person, Tokens
    from casedesk_desk.settings import DeskSettings
    from casedesk_runtime.logs import configure_logging
    from casedesk_runtime.settings import load_settings

    settings = load_settings(DeskSettings)
    configure_logging(settings.service_name, "WARNING")

    async def serve() -> None:
        # Composed on the serving loop, as `serve` in __main__ does: the gRPC channels belong to
        # the loop they are made on.
        composed = compose_parts(settings)
        session = composed.sessions.new()
        session.person = Person(SPECIALIST, "Бенчмарк Б.", TIER, frozenset({"specialist"}))
        session.tokens = Tokens(token, expires_at, None, "bench")
        reply.send(session.session_id)
        config = uvicorn.Config(
            composed.app,
            host=settings.desk_http_host,
            port=settings.desk_http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        await uvicorn.Server(config).serve()

    asyncio.run(serve())


@contextlib.contextmanager
def desk_process(env: dict[str, str], token: str) -> Iterator[tuple[str, str]]:
    """The desk's URL and the signed-in specialist's session id, until the block ends."""
    port = free_port()
    env = {**env, "CASEDESK_DESK_HTTP_PORT": str(port),
           "CASEDESK_DESK_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    spawn = multiprocessing.get_context("spawn")
    receive, send = spawn.Pipe(duplex=False)
    process = spawn.Process(
        target=serve_desk, args=(env, token, time.time() + TOKEN_LIFETIME_S, send), daemon=True
    )
    process.start()
    try:
        if not receive.poll(60):
            raise RuntimeError("the desk did not start within 60 s")
        session_id = receive.recv()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline or not process.is_alive():
                raise RuntimeError("the desk did not answer within 30 s")
            time.sleep(0.1)
        yield url, session_id
    finally:
        process.terminate()
        process.join(10)


# -- measurements -------------------------------------------------------------------------------


async def queue_page_ms(http: httpx.AsyncClient) -> list[float]:
    timings = []
    for n in range(WARM_UP + QUEUE_PAGES):
        started = time.perf_counter()
        reply = await http.get("/queue?view=tier")
        elapsed = (time.perf_counter() - started) * 1000
        if reply.status_code != 200 or reply.text.count("<tr class=") != 50:
            raise RuntimeError(f"the queue page is not a full page: {reply.status_code}")
        if n >= WARM_UP:
            timings.append(elapsed)
    return timings


@dataclass
class Stream:
    """One event stream of the desk, read into arrival times."""

    arrivals: list[tuple[float, str, dict[str, object]]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self, http: httpx.AsyncClient, path: str) -> None:
        async with http.stream("GET", path, timeout=None) as reply:
            name, data = "", ""
            async for line in reply.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = line.removeprefix("data: ")
                elif not line and name:
                    payload = json.loads(data) if data.strip() else {}
                    self.arrivals.append((time.perf_counter(), name, payload))
                    self.wake.set()
                    name, data = "", ""

    def has(self, name: str) -> bool:
        return any(got == name for _, got, _ in self.arrivals)

    async def first_after(self, since: float, name: str, check: object = None) -> float:
        while True:
            for at, got, payload in self.arrivals:
                if at >= since and got == name and (check is None or check(payload)):  # type: ignore[operator]
                    return at
            self.wake.clear()
            await asyncio.wait_for(self.wake.wait(), DEADLINE_S)


async def live_update_ms(
    http: httpx.AsyncClient, desk: case_service_pb2_grpc.CaseServiceStub, token: str, case_id: str
) -> tuple[list[float], list[float]]:
    """Status changes of one case, one at a time; from each ChangeStatus sent to its event on
    the case page's stream and on the queue page's stream."""
    case_page, queue_page = Stream(), Stream()
    readers = [
        asyncio.create_task(case_page.read(http, f"/cases/{case_id}/live")),
        asyncio.create_task(queue_page.read(http, "/queue/live?view=tier")),
    ]
    metadata = ((PERSON_TOKEN, token),)
    actions = [pb.TAKE_IN_WORK, pb.ASK_CLARIFICATION]
    case_ms: list[float] = []
    queue_ms: list[float] = []

    async def change(n: int) -> tuple[float, int]:
        started = time.perf_counter()
        view = await desk.ChangeStatus(
            pb.ChangeStatusRequest(
                context=pb.CommandContext(idempotency_key=str(uuid.uuid4())),
                case_id=case_id, action=actions[n % 2],  # type: ignore[arg-type]
            ),
            metadata=metadata, timeout=DEADLINE_S,
        )  # fmt: skip
        return started, view.version

    def of_case(payload: dict[str, object]) -> bool:
        return payload.get("case_id") == case_id

    try:
        # Both streams start "from now" at the case service a moment after the desk answers:
        # change the case until each has shown a change, then measure.
        n = 0
        while not (case_page.has("change") and queue_page.has("row")):
            if n == 50:
                raise RuntimeError("the desk's streams showed no change after 50 status changes")
            await change(n)
            n += 1
            await asyncio.sleep(0.2)
        for i in range(WARM_UP + CHANGES):
            started, version = await change(n + i)
            arrived = await case_page.first_after(
                started, "change", lambda p, v=version: p.get("version") == v
            )
            in_queue = await queue_page.first_after(started, "row", of_case)
            if i >= WARM_UP:
                case_ms.append((arrived - started) * 1000)
                queue_ms.append((in_queue - started) * 1000)
            await asyncio.sleep(0.02)
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return case_ms, queue_ms


async def measure(
    case_address: str, pki: Path, token: str, schema: str, desk_env: dict[str, str]
) -> None:
    def channel(name: str) -> grpc.aio.Channel:
        return grpc.aio.secure_channel(case_address, client_credentials(pki, name))

    async with channel("intake") as intake_channel, channel("desk") as desk_channel:
        intake = case_service_pb2_grpc.CaseServiceStub(intake_channel)
        desk = case_service_pb2_grpc.CaseServiceStub(desk_channel)
        began = time.perf_counter()
        case_ids = await create_cases(intake)
        await wait_indexed(desk, token, set(case_ids[-BATCH:]))
        await asyncio.to_thread(write_clocks, postgres_env(), schema, case_ids)
        print(
            f"# {len(case_ids)} open cases created and indexed, clocks written in "
            f"{time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        with desk_process(desk_env, token) as (url, session_id):
            async with httpx.AsyncClient(
                base_url=url, cookies={"desk_session": session_id}, timeout=DEADLINE_S,
                trust_env=False,
            ) as http:  # fmt: skip
                pages = await queue_page_ms(http)
                print(f"BENCH desk.queue_page_p99_ms {percentile(pages, 0.99):.1f} ms", flush=True)
                case_ms, queue_ms = await live_update_ms(http, desk, token, case_ids[0])
                print(
                    f"BENCH desk.live_update_p99_ms {percentile(case_ms, 0.99):.1f} ms", flush=True
                )
        print(
            f"# queue page over {len(pages)} requests: p50 {percentile(pages, 0.5):.1f} ms; "
            f"live update over {len(case_ms)} status changes: case page p50 "
            f"{percentile(case_ms, 0.5):.1f} ms, queue page p50 {percentile(queue_ms, 0.5):.1f} "
            f"ms, p99 {percentile(queue_ms, 0.99):.1f} ms",
            file=sys.stderr,
        )


def main() -> int:
    base = postgres_env()
    schema = f"bench_desk_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn(base), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        logs = Path(tempfile.mkdtemp(prefix="desk-bench-"))
        with (
            tempfile.TemporaryDirectory(prefix="desk-bench-pki-") as pki_dir,
            FakeIdentityProvider(realm=REALM, audience=AUDIENCE) as identity_provider,
        ):
            pki = Path(pki_dir)
            ensure_pki(pki, ["case", "intake", "desk"])
            token = identity_provider.mint_specialist(
                SPECIALIST, tier=TIER, expires_in=TOKEN_LIFETIME_S
            )
            oidc = {
                "CASEDESK_OIDC_ISSUER": identity_provider.issuer,
                "CASEDESK_OIDC_AUDIENCE": AUDIENCE,
            }
            case_env = {
                **base, **oidc, "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_SCHEMA": schema, "POSTGRES_POOL_SIZE": "10",
            }  # fmt: skip
            with case_service(case_env, pki, logs / "case.log") as address:
                desk_env = {
                    **inherited(), **oidc, **tls_env(pki, "desk"),
                    "CASEDESK_CASE_ADDRESS": address, "CASEDESK_DESK_COOKIE_SECURE": "false",
                    "CASEDESK_LOG_LEVEL": "WARNING",
                }  # fmt: skip
                asyncio.run(measure(address, pki, token, schema, desk_env))
    finally:
        with psycopg.connect(dsn(base), autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
