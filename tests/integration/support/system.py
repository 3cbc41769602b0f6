"""The whole of Casedesk for one test module: five service processes wired as in production.

`start_casedesk()` provisions a private copy of every topic, starts a real SMTP server and an HTTP
SMS gateway on 127.0.0.1, then the case service (on its own PostgreSQL schema), intake, sla,
escalation and notify, each with its local store in a temporary directory.

As in production: every gRPC connection is mutual TLS with a certificate per service from a
development CA of the system's own (`Casedesk.channel()` calls a service as `frontend`, `desk` or
`operator`), and on a secured broker (`SecureKafka`) every service authenticates as its own SCRAM
principal, granted the topic ownership rule on the private topics and its own consumer group
(`casedesk_runtime.kafka_access`). A `PlainKafka` broker runs the same system over PLAINTEXT.

`services` starts only some of them (the case service always), `settings` adds or overrides a
service's variables. Each service serves Prometheus' `/metrics` on a free port of its own
(`Casedesk.metrics_address(name)`).
`read_topic()` reads a topic back, keeping only the records of the cases a test follows.

Why private topics: sla, escalation and notify start from the beginning of their input topics
when their store is empty (the design: the store, not a consumer group, remembers the position).
On the session's shared `case.events.v1` they would replay every other module's cases first; on
their own copy they see only what this system's case service publishes. The copies carry a unique
prefix, `e2e-<run>.case.events.v1` and so on, the naming of `casedesk-replay --topic-prefix`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import grpc
import psycopg
from aiokafka import AIOKafkaConsumer

from casedesk_escalation.testing.policies import packaged_without_cooldown
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_runtime import kafka_access
from casedesk_runtime.grpc_tracing import client_interceptors
from casedesk_runtime.pki import client_credentials, ensure_pki
from casedesk_runtime.testing.identity_provider import FakeIdentityProvider
from casedesk_runtime.topics import TOPICS, TopicSpec, ensure_topics

from .people import FreshTokens, Keycloak, case_oidc_env, person_tokens
from .provisioning import PlainKafka, SecureKafka
from .services import ServiceLauncher, ServiceProcess, free_ports

SLA_POLICY = "test-seconds"  # chat: first response 4 s, resolution 8 s, wall clock
MESSAGE_ID_DOMAIN = "notify.casedesk.e2e"
PORTAL_BASE_URL = "https://portal.e2e/cases"
SMS_TOKEN = "e2e-sms-gateway-token"
SERVICES = ("case", "intake", "sla", "escalation", "notify")
CITIZEN_AUDIENCE = "casedesk-intake"
# Who else holds a certificate: a channel frontend, the specialists' desk, an operator's tools.
CALLERS = ("frontend", "desk", "operator")
Kafka = PlainKafka | SecureKafka


@dataclass(frozen=True)
class SystemTopics:
    """The catalogue's topics under a prefix ending in a dot, as `--topic-prefix` takes it."""

    prefix: str

    @classmethod
    def private(cls, run: str) -> SystemTopics:
        return cls(f"e2e-{run}.")

    @property
    def case(self) -> str:
        return self.prefix + "case.events.v1"

    @property
    def sla(self) -> str:
        return self.prefix + "sla.events.v1"

    @property
    def notification(self) -> str:
        return self.prefix + "notification.events.v1"

    @property
    def decisions(self) -> str:
        return self.prefix + "escalation.decisions.v1"

    def specs(self) -> tuple[TopicSpec, ...]:
        """Every topic of the catalogue (partitions, retention, dead-letter topics), prefixed."""
        return tuple(
            TopicSpec(self.prefix + spec.name, spec.partitions, spec.retention_ms)
            for spec in TOPICS
        )


@dataclass(frozen=True)
class Frontend:
    """The portal chat widget as intake knows it: a bearer token allowed PORTAL_CHAT only, and
    the portal's sign-in vouching for the citizen it acts for.

    The portal's identity provider here is the runtime's fake issuer (real HTTP, real RS256
    signatures): these tests make up a new citizen for every case, thousands in the outage test,
    which Keycloak's realm does not hold. tests/integration/test_intake_citizens.py checks
    citizens' tokens from the real Keycloak."""

    name: str
    token: str
    portal: FakeIdentityProvider

    def entry(self) -> dict[str, object]:
        digest = hashlib.sha256(self.token.encode()).hexdigest()
        return {"name": self.name, "token_sha256": digest, "channels": ["PORTAL_CHAT"]}

    def acting_for(self, login: str) -> tuple[tuple[str, str], ...]:
        citizen = self.portal.mint_citizen(login, expires_in=3600)
        return (("authorization", f"Bearer {self.token}"), ("x-citizen-token", citizen))


@dataclass
class Casedesk:
    kafka: Kafka
    topics: SystemTopics
    pki: Path  # ca.crt and <name>.crt/.key for every service and caller
    keycloak: Keycloak  # the people's identity provider the case service trusts
    frontend: Frontend
    processes: dict[str, ServiceProcess]
    sinks: tuple[SmtpSink, SmsSink] | None  # notify's receivers, when it runs
    case_store_env: dict[str, str]  # the case service's event store, for tools that read it

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    def channel(
        self,
        service: str,
        caller: str = "frontend",
        person: str | None = None,
        options: Sequence[tuple[str, object]] = (),
    ) -> grpc.aio.Channel:
        """A mutual-TLS channel to `service`, presenting `caller`'s certificate; with `person`
        (a development user of Keycloak's `casedesk` realm) every call carries that person's
        access token, as the desk's calls do. `options`: gRPC channel arguments."""
        credentials = client_credentials(self.pki, caller)
        interceptors = list(client_interceptors())
        if person is not None:
            interceptors += person_tokens(FreshTokens(self.keycloak, person))
        return grpc.aio.secure_channel(
            self.service(service).address, credentials, list(options), interceptors=interceptors
        )

    def metrics_address(self, name: str) -> str:
        """host:port of the service's Prometheus endpoint (`/metrics`, plain HTTP)."""
        return f"127.0.0.1:{self.service(name).env['CASEDESK_METRICS_PORT']}"

    def service(self, name: str) -> ServiceProcess:
        if name not in self.processes:
            raise LookupError(f"{name} was not started: add it to start_casedesk(services=...)")
        return self.processes[name]

    @property
    def case(self) -> ServiceProcess:
        return self.service("case")

    @property
    def intake(self) -> ServiceProcess:
        return self.service("intake")

    @property
    def sla(self) -> ServiceProcess:
        return self.service("sla")

    @property
    def escalation(self) -> ServiceProcess:
        return self.service("escalation")

    @property
    def notify(self) -> ServiceProcess:
        return self.service("notify")

    @property
    def smtp(self) -> SmtpSink:
        return self._receivers()[0]

    @property
    def sms(self) -> SmsSink:
        return self._receivers()[1]

    def _receivers(self) -> tuple[SmtpSink, SmsSink]:
        if self.sinks is None:
            raise LookupError("notify was not started, so neither were its SMTP and SMS sinks")
        return self.sinks


@dataclass(frozen=True)
class _Wiring:
    broker: Kafka
    topics: SystemTopics
    run: str
    directory: Path
    # A free port per service for /metrics: the default (the gRPC port + 1000) could be any
    # process's on a shared machine, and a taken one only costs a warning, not a failed start.
    metrics_ports: Mapping[str, int]

    @property
    def pki(self) -> Path:
        return self.directory / "pki"

    def group(self, service: str) -> str:
        return f"{service}-e2e-{self.run}"

    def common(self, name: str) -> dict[str, str]:
        """What every service process gets: its certificate, a short shutdown grace and the port
        of its metrics endpoint."""
        return {
            "CASEDESK_TLS_CERT_FILE": str(self.pki / f"{name}.crt"),
            "CASEDESK_TLS_KEY_FILE": str(self.pki / f"{name}.key"),
            "CASEDESK_TLS_CA_FILE": str(self.pki / "ca.crt"),
            "CASEDESK_SHUTDOWN_GRACE_S": "1",
            "CASEDESK_METRICS_PORT": str(self.metrics_ports[name]),
        }

    def kafka(self, service: str, **variables: str) -> dict[str, str]:
        return {**self.common(service), **self.broker.service_env(service), **variables}

    def store(self, name: str) -> str:
        return str(self.directory / name)


@contextlib.asynccontextmanager
async def start_casedesk(
    kafka: Kafka,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    directory: Path,
    *,
    keycloak: Keycloak,
    services: Collection[str] = SERVICES,
    settings: Mapping[str, Mapping[str, str]] | None = None,
    sms_gateway_deduplicates: bool = False,
    replication_factor: int = 1,
) -> AsyncIterator[Casedesk]:
    """Start `services` (all five by default); `settings[name]` overrides a service's variables.

    `keycloak`: the identity provider whose `casedesk` realm signs the specialists' tokens the case
    service verifies. `sms_gateway_deduplicates`: the SMS gateway honours client message ids, as
    notify expects of a production gateway (its `repeated` list shows what notify sent again
    after a timeout). `replication_factor`: of the private topics, for a cluster of brokers
    (support/kafka_cluster.py)."""
    unknown = (set(services) | set(settings or {})) - set(SERVICES)
    if unknown or "case" not in services:
        raise ValueError(f"services must include case and name only {SERVICES}; got {unknown}")
    run = uuid.uuid4().hex[:8]
    metrics_ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    wiring = _Wiring(kafka, SystemTopics.private(run), run, directory, metrics_ports)
    await asyncio.to_thread(ensure_pki, wiring.pki, [*SERVICES, *CALLERS])
    admin = kafka.connection()
    bootstrap = str(admin.pop("bootstrap_servers"))
    await ensure_topics(bootstrap, wiring.topics.specs(), replication_factor, **admin)
    if kafka.secured:
        groups = {name: wiring.group(name) for name in kafka_access.DEFAULT_GROUPS}
        grants = kafka_access.grants(wiring.topics.prefix, groups)
        await kafka_access.apply(grants, **kafka.connection())
    schema = f"case_e2e_{run}"
    await asyncio.to_thread(_sql, postgres_dsn, f"CREATE SCHEMA {schema}")
    (directory / "logs").mkdir()
    launcher = ServiceLauncher(directory / "logs")
    extra = settings or {}
    async with contextlib.AsyncExitStack() as cleanup:
        # Unwound in reverse: services first, then the receivers they send to, then the schema.
        cleanup.push_async_callback(asyncio.to_thread, _sql, postgres_dsn,
                                    f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # fmt: skip
        sinks = None
        if "notify" in services:
            smtp = SmtpSink().start()
            cleanup.callback(smtp.stop)
            sms = await SmsSink(token=SMS_TOKEN, deduplicate=sms_gateway_deduplicates).start()
            cleanup.push_async_callback(sms.stop)
            sinks = (smtp, sms)
        cleanup.push_async_callback(asyncio.to_thread, launcher.stop_all)
        portal = FakeIdentityProvider(realm="portal", audience=CITIZEN_AUDIENCE)
        await cleanup.enter_async_context(portal)
        frontend = Frontend("portal-chat", secrets.token_urlsafe(32), portal)
        case_env = {**_case_env(wiring, postgres_env, schema), **case_oidc_env(keycloak)}
        case = await _start(launcher, "case", case_env, extra)
        names = [name for name in SERVICES if name != "case" and name in services]
        # The others depend on the case service only, so their starts overlap. Every start is
        # awaited, even after one failed, so that none is left running past stop_all().
        started = await asyncio.gather(
            *(
                _start(launcher, name, _env(name, wiring, case, frontend, sinks, keycloak), extra)
                for name in names
            ),
            return_exceptions=True,
        )
        processes = {"case": case}
        for name, outcome in zip(names, started, strict=True):
            if isinstance(outcome, BaseException):
                raise outcome
            processes[name] = outcome
        store_env = {k: v for k, v in case_env.items() if not k.startswith("CASEDESK_")}
        yield Casedesk(
            kafka, wiring.topics, wiring.pki, keycloak, frontend, processes, sinks, store_env
        )


async def _start(
    launcher: ServiceLauncher,
    name: str,
    env: dict[str, str],
    settings: Mapping[str, Mapping[str, str]],
) -> ServiceProcess:
    """Start `casedesk_<name>` with `env`, overridden by the test's `settings` for it."""
    env = {**env, **settings.get(name, {})}
    # From a thread: the SMS gateway shares this event loop and must keep serving meanwhile.
    return await asyncio.to_thread(launcher, f"casedesk_{name}", env, timeout=60.0)


def _sql(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]  # a fixed, generated name


def _env(
    name: str,
    wiring: _Wiring,
    case: ServiceProcess,
    frontend: Frontend,
    sinks: tuple[SmtpSink, SmsSink] | None,
    keycloak: Keycloak,
) -> dict[str, str]:
    if name == "intake":
        return _intake_env(wiring, case, frontend, sinks, keycloak)
    if name == "sla":
        return _sla_env(wiring)
    if name == "escalation":
        return _escalation_env(wiring, case)
    if sinks is None:
        raise AssertionError("notify starts with its SMTP and SMS sinks")
    return _notify_env(wiring, *sinks)


def _case_env(wiring: _Wiring, postgres_env: dict[str, str], schema: str) -> dict[str, str]:
    return wiring.kafka(
        "case",
        **postgres_env,
        PERSISTENCE_MODULE="eventsourcing.postgres",
        POSTGRES_SCHEMA=schema,
        CASEDESK_CASE_EVENTS_TOPIC=wiring.topics.case,
        CASEDESK_FOLLOW_IDLE_S="0.1",
        # The case timeline follows this system's SLA and notification topics, in its own group.
        CASEDESK_SLA_EVENTS_TOPIC=wiring.topics.sla,
        CASEDESK_NOTIFICATION_EVENTS_TOPIC=wiring.topics.notification,
        CASEDESK_CASE_TIMELINE_GROUP=wiring.group("case"),
    )


def _intake_env(
    wiring: _Wiring,
    case: ServiceProcess,
    frontend: Frontend,
    sinks: tuple[SmtpSink, SmsSink] | None,
    keycloak: Keycloak,
) -> dict[str, str]:
    # One-time codes go to citizens through the same SMTP server and SMS gateway as notify's.
    senders = {}
    if sinks is not None:
        smtp, sms = sinks
        senders = {
            "CASEDESK_SMTP_HOST": "127.0.0.1",
            "CASEDESK_SMTP_PORT": str(smtp.port),
            "CASEDESK_SMS_GATEWAY_URL": sms.url,
            "CASEDESK_SMS_GATEWAY_TOKEN": SMS_TOKEN,
        }
    return {
        **wiring.common("intake"),
        **senders,
        # Citizens as the portal vouches for them; operators of phone/MFC frontends by their
        # staff token from Keycloak (the case service's audience, as the realm issues it).
        "CASEDESK_CITIZEN_OIDC_ISSUER": frontend.portal.issuer,
        "CASEDESK_CITIZEN_OIDC_AUDIENCE": CITIZEN_AUDIENCE,
        **case_oidc_env(keycloak),
        "CASEDESK_CASE_ADDRESS": case.address,
        "CASEDESK_DATA_DIR": wiring.store("intake"),
        "CASEDESK_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CASEDESK_FRONTENDS": json.dumps([frontend.entry()]),
        # The acknowledgement promises the deadlines the sla service enforces.
        "CASEDESK_DEADLINE_POLICY_VERSION": SLA_POLICY,
    }


def _sla_env(wiring: _Wiring) -> dict[str, str]:
    return wiring.kafka(
        "sla",
        CASEDESK_SLA_POLICY_VERSION=SLA_POLICY,
        CASEDESK_SLA_DB_PATH=wiring.store("sla.sqlite3"),
        CASEDESK_CASE_EVENTS_TOPIC=wiring.topics.case,
        CASEDESK_SLA_EVENTS_TOPIC=wiring.topics.sla,
        CASEDESK_SLA_CONSUMER_GROUP=wiring.group("sla"),
    )


def _escalation_env(wiring: _Wiring, case: ServiceProcess) -> dict[str, str]:
    # test-seconds breaches come 4 s apart: the production 30-minute cooldown would hold L3 back.
    policy = packaged_without_cooldown(wiring.directory)
    return wiring.kafka(
        "escalation",
        CASEDESK_CASE_ADDRESS=case.address,
        CASEDESK_ESCALATION_POLICY_FILE=str(policy),
        CASEDESK_ESCALATION_SQLITE_PATH=wiring.store("escalation.sqlite"),
        CASEDESK_ESCALATION_CONSUMER_GROUP=wiring.group("escalation"),
        CASEDESK_CASE_EVENTS_TOPIC=wiring.topics.case,
        CASEDESK_SLA_EVENTS_TOPIC=wiring.topics.sla,
        CASEDESK_ESCALATION_DECISIONS_TOPIC=wiring.topics.decisions,
    )


def _notify_env(wiring: _Wiring, smtp: SmtpSink, sms: SmsSink) -> dict[str, str]:
    return wiring.kafka(
        "notify",
        CASEDESK_CONSUMER_GROUP=wiring.group("notify"),
        CASEDESK_CASE_EVENTS_TOPIC=wiring.topics.case,
        CASEDESK_NOTIFICATION_EVENTS_TOPIC=wiring.topics.notification,
        CASEDESK_ESCALATION_DECISIONS_TOPIC=wiring.topics.decisions,  # refusals explained
        CASEDESK_STORE_PATH=wiring.store("notify.sqlite3"),
        CASEDESK_SMTP_HOST="127.0.0.1",
        CASEDESK_SMTP_PORT=str(smtp.port),
        CASEDESK_MESSAGE_ID_DOMAIN=MESSAGE_ID_DOMAIN,
        CASEDESK_SMS_GATEWAY_URL=sms.url,
        CASEDESK_SMS_GATEWAY_TOKEN=SMS_TOKEN,
        CASEDESK_PORTAL_BASE_URL=PORTAL_BASE_URL,
        CASEDESK_DEADLINE_POLICY_VERSION=SLA_POLICY,
        CASEDESK_RETRY_BASE_S="0.05",
        CASEDESK_RETRY_MAX_S="0.5",
    )


class _Meta(Protocol):
    case_id: str


class _Event(Protocol):
    @property
    def meta(self) -> _Meta: ...


E = TypeVar("E", bound=_Event)


@dataclass(frozen=True)
class Record(Generic[E]):
    event: E
    headers: dict[str, bytes]

    def trace_id(self) -> str | None:
        """The trace id of the record's W3C `traceparent` header, if it has one."""
        parent = self.headers.get("traceparent")
        return parent.decode().split("-")[1] if parent else None


async def read_topic(
    kafka: Kafka,
    topic: str,
    decode: Callable[[bytes], E],
    case_ids: Collection[str],
    until: Callable[[list[Record[E]]], bool],
    timeout_s: float = 30.0,
    settle_s: float = 0.0,
) -> list[Record[E]]:
    """Records of `case_ids` in topic order (one case stays in one partition) once `until` holds.

    With `settle_s`, reading goes on that long after the condition first held, so that anything
    published twice or too many times has the chance to show up. Raises AssertionError with what
    was read when the condition does not hold within `timeout_s`.
    """
    consumer = AIOKafkaConsumer(
        topic, **kafka.connection(), auto_offset_reset="earliest",
        group_id=f"e2e-reader-{uuid.uuid4()}", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    found: list[Record[E]] = []
    deadline = time.monotonic() + timeout_s
    settled_at: float | None = None
    try:
        while settled_at is None or time.monotonic() < settled_at:
            if settled_at is None and until(found):
                settled_at = time.monotonic() + settle_s
                continue
            if settled_at is None and time.monotonic() > deadline:
                seen = [type(r.event).__name__ + ":" + str(r.event).replace("\n", " ")[:160]
                        for r in found]  # fmt: skip
                raise AssertionError(f"{topic}: condition not met in {timeout_s}s; read {seen}")
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for raw in records:
                    event = decode(raw.value or b"")
                    if event.meta.case_id in case_ids:
                        found.append(Record(event, dict(raw.headers or ())))
    finally:
        await consumer.stop()
    return found


async def until_true(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)
