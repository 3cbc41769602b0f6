"""The sealed start (issue #18) the tests of sealed personal data share: a key service of the
test's own (its KEK in a fresh SoftHSM2 token, its key store on PostgreSQL, an index key), and the
settings of the case service sealing with its keys and of notify opening with them, all over the
mutual TLS of one PKI. (`fresh_schemas`: support.postgres_schemas.)

    with fresh_schemas(postgres_dsn, "case_x", "keys_x") as (case_schema, keys_schema): ...
    keys = start_key_service(services, postgres_dsn, keys_schema, tmp_path,
                             token_label="casedesk-…-it", certificates=["keys", "case", "intake"])
    case = services("casedesk_case", sealing_case_env(keys, postgres_env, case_schema,
                                                      {"CASEDESK_KAFKA_BOOTSTRAP_SERVERS": …}))
    created = await stub.CreateCase(email_case(citizen, correlation_id=…, subject=…, description=…))
    notify = start_notify(services, keys, kafka_bootstrap, group=…, store_path=…, smtp=…, sms=…)
"""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_runtime import pki

from .key_service import softhsm_token_env, tls_env
from .postgres_schemas import in_schema
from .services import ServiceLauncher, ServiceProcess


@dataclass(frozen=True)
class KeyService:
    process: ServiceProcess
    pki_dir: Path  # the PKI of the key service and its callers
    index_key: dict[str, str]  # the setting naming the index key file, for its callers too

    @property
    def address(self) -> str:
        return self.process.address


def start_key_service(
    services: ServiceLauncher,
    postgres_dsn: str,
    schema: str,
    directory: Path,
    *,
    token_label: str,
    certificates: list[str],
    settings: dict[str, str] | None = None,
) -> KeyService:
    """The key service on `schema`, its KEK created in a SoftHSM2 token in `directory`; the PKI
    (`directory`/pki) has a certificate for each of `certificates` (the key service's among them)
    and the index key is `directory`/index.key. `settings` go besides the common ones."""
    pki_dir = directory / "pki"
    pki.ensure_pki(pki_dir, certificates)
    (directory / "index.key").write_text(base64.b64encode(os.urandom(32)).decode())
    index_key = {"CASEDESK_KEYS_INDEX_KEY_FILE": str(directory / "index.key")}
    process = services(
        "casedesk_keyservice",
        {
            **softhsm_token_env(directory / "softhsm", token_label), **tls_env(pki_dir, "keys"),
            **index_key,
            "CASEDESK_KEYS_KEK_CREATE": "true",
            "CASEDESK_KEYS_STORE_URL": in_schema(postgres_dsn, schema),
            "CASEDESK_METRICS_PORT": "0",
            **(settings or {}),
        },
    )  # fmt: skip
    return KeyService(process, pki_dir, index_key)


def sealing_case_env(
    keys: KeyService, postgres_env: dict[str, str], schema: str, settings: dict[str, str]
) -> dict[str, str]:
    """The case service's settings for sealing with the keys of `keys` (its index key too), its
    events on PostgreSQL in `schema`; `settings` go besides (Kafka, or the relay off)."""
    return {
        **postgres_env, **tls_env(keys.pki_dir, "case"), **keys.index_key,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
        "CASEDESK_FOLLOW_IDLE_S": "0.1",
        "CASEDESK_SHUTDOWN_GRACE_S": "1",
        "CASEDESK_METRICS_PORT": "0",
        "CASEDESK_SEAL_PERSONAL_DATA": "true",
        "CASEDESK_KEY_SERVICE_ADDRESS": keys.address,
        **settings,
    }  # fmt: skip


def email_case(
    citizen: types_pb2.Citizen,
    *,
    correlation_id: str,
    subject: str,
    description: str,
    message_id: str = "",
) -> pb.CreateCaseRequest:
    """A citizen's technical e-mail case about signing in, as intake registers it (the system
    actor `intake`): sent from his address, in the thread of `message_id` if given."""
    return pb.CreateCaseRequest(
        context=pb.CommandContext(
            idempotency_key=str(uuid.uuid4()),
            actor=types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="intake"),
            correlation_id=correlation_id,
        ),
        channel=types_pb2.EMAIL,
        type=types_pb2.TECHNICAL,
        category=types_pb2.REGISTRATION_SIGN_IN,
        citizen=citizen,
        content=types_pb2.CaseContent(subject=subject, description=description),
        provenance=types_pb2.Provenance(
            email=types_pb2.EmailOrigin(from_address=citizen.email, message_id=message_id)
        ),
    )


def start_notify(
    services: ServiceLauncher,
    keys: KeyService,
    kafka_bootstrap: str,
    *,
    group: str,
    store_path: Path,
    smtp: SmtpSink,
    sms: SmsSink,
    settings: dict[str, str] | None = None,
) -> ServiceProcess:
    """notify in consumer group `group` with its SQLite store at `store_path`, sending to the
    sinks (every recipient allowed), opening sealed fields with `keys` as notify."""
    return services(
        "casedesk_notify",
        {
            **tls_env(keys.pki_dir, "notify"),
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CASEDESK_CONSUMER_GROUP": group,
            "CASEDESK_STORE_PATH": str(store_path),
            "CASEDESK_SMTP_HOST": "127.0.0.1",
            "CASEDESK_SMTP_PORT": str(smtp.port),
            "CASEDESK_SMS_GATEWAY_URL": sms.url,
            "CASEDESK_SMS_GATEWAY_TOKEN": "sms-token",
            "CASEDESK_RECIPIENT_LIMIT": "0",
            "CASEDESK_METRICS_PORT": "0",
            "CASEDESK_KEY_SERVICE_ADDRESS": keys.address,
            **(settings or {}),
        },
        timeout=60,
    )  # fmt: skip
