"""Kafka with safe defaults for every service.

Producers are idempotent with acks=all (a retried send never duplicates nor reorders within a
partition). Consumers never auto-commit: FastStream subscribers made with `durable_subscriber`
acknowledge only after the handler returned, raw aiokafka consumers commit themselves after the
effect is durable. The W3C trace context travels in record headers.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry import context as otel_context
from opentelemetry import propagate

from casedesk_runtime.settings import ServiceSettings

Headers = list[tuple[str, bytes]]


def connection_config(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments shared by aiokafka producers, consumers and admin clients."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        config["ssl_context"] = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        config["sasl_plain_password"] = settings.kafka_sasl_password
    return config


def producer_config(settings: ServiceSettings, client_id: str) -> dict[str, Any]:
    return {
        **connection_config(settings),
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
    }


def consumer_config(settings: ServiceSettings, group_id: str) -> dict[str, Any]:
    return {
        **connection_config(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
    }


def make_broker(settings: ServiceSettings, client_id: str) -> KafkaBroker:
    connection = connection_config(settings)
    broker_kwargs: dict[str, Any] = {"bootstrap_servers": connection.pop("bootstrap_servers")}
    if connection.get("security_protocol") != "PLAINTEXT":
        from faststream.security import SASLPlaintext, SASLScram256, SASLScram512

        mechanisms = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        if settings.kafka_sasl_mechanism:
            broker_kwargs["security"] = mechanisms[settings.kafka_sasl_mechanism](
                username=settings.kafka_sasl_username or "",
                password=settings.kafka_sasl_password or "",
                ssl_context=connection.get("ssl_context"),
            )
        else:
            from faststream.security import BaseSecurity

            broker_kwargs["security"] = BaseSecurity(ssl_context=connection.get("ssl_context"))
    return KafkaBroker(
        **broker_kwargs,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        middlewares=[KafkaTelemetryMiddleware()],
    )


def durable_subscriber(broker: KafkaBroker, *topics: str, group_id: str) -> Any:
    """A subscriber that commits an offset only after its handler succeeded."""
    return broker.subscriber(
        *topics, group_id=group_id, ack_policy=AckPolicy.NACK_ON_ERROR, auto_offset_reset="earliest"
    )


def trace_headers() -> Headers:
    """The current trace context as Kafka record headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(key, value.encode()) for key, value in carrier.items()]


def extract_trace_context(headers: Iterable[tuple[str, bytes]] | None) -> otel_context.Context:
    carrier = {key: value.decode(errors="replace") for key, value in headers or ()}
    return propagate.extract(carrier)


def dlq_topic(topic: str, consumer: str) -> str:
    return f"{topic}.dlq.{consumer}"


async def dead_letter(
    producer: Any, topic: str, consumer: str, record: Any, error: BaseException | str
) -> None:
    """Park a poisoned record on `<topic>.dlq.<consumer>` with where it came from and why.

    `producer` is an started aiokafka producer; the original key, value and headers are kept so
    the record can be re-driven unchanged after a fix.
    """
    reason = {
        "source_topic": record.topic,
        "source_partition": record.partition,
        "source_offset": record.offset,
        "consumer": consumer,
        "error": str(error)[:1000],
        "error_type": type(error).__name__ if isinstance(error, BaseException) else "error",
    }
    headers = [*(record.headers or ()), ("casedesk-dlq", json.dumps(reason).encode())]
    await producer.send_and_wait(
        dlq_topic(topic, consumer), value=record.value, key=record.key, headers=headers
    )
