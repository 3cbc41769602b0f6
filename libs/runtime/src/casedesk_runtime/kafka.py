"""Kafka with safe defaults for every service.

Producers are idempotent with acks=all (a retried send never duplicates nor reorders within a
partition) and are driven through `casedesk_runtime.publishing.Publisher`, which replaces a
producer whose send failed instead of retrying through it. Consumers never auto-commit: FastStream
subscribers made with `durable_subscriber` acknowledge only after the handler returned, raw
aiokafka consumers commit themselves after the effect is durable; made with `measured_consumer`,
their lag per partition is a metric (consumer_lag). The W3C trace context travels in record
headers.

Timeouts, chosen together (aiokafka's own defaults are 40 s requests, 100 ms retry backoff and
idempotent batches retried without end):
- REQUEST_TIMEOUT_MS, 15 s: how long one request may wait for its answer, and how long the
  leader may wait for the in-sync replicas before answering a produce request. Long enough for a
  loaded cluster, short enough that a broker that went away is noticed within seconds.
- DELIVERY_TIMEOUT_S, 30 s: a batch handed to a producer that is not wholly acknowledged in
  this time fails; the Publisher then discards the producer and re-sends with a fresh one. Twice
  the request timeout, so one lost request and its retry fit (Kafka's rule delivery.timeout.ms >=
  linger.ms + request.timeout.ms).
- RETRY_BACKOFF_MS, 500 ms: between a client's retries and metadata refreshes while a broker is
  away (at 100 ms the clients spin, logging two errors per attempt).
- METADATA_MAX_AGE_MS, 60 s: metadata is refreshed at least this often, so partitions and
  leaders that moved without an error to tell are found within a minute.
The Publisher's own backoff between fresh producers (publishing.BACKOFF_S) grows to 10 s, so
publishing resumes within about 10 s of a broker's return after an outage of any length.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry import context as otel_context
from opentelemetry import propagate

from casedesk_runtime.consumer_lag import LAG_EVERY_S, ConsumerLag
from casedesk_runtime.settings import ServiceSettings

Headers = list[tuple[str, bytes]]

REQUEST_TIMEOUT_MS = 15_000
DELIVERY_TIMEOUT_S = 30.0
RETRY_BACKOFF_MS = 500
METADATA_MAX_AGE_MS = 60_000


def connection_config(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments shared by aiokafka producers, consumers and admin clients."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": REQUEST_TIMEOUT_MS,
        "retry_backoff_ms": RETRY_BACKOFF_MS,
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
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


class MeasuredConsumer(AIOKafkaConsumer):  # type: ignore[misc]
    """An aiokafka consumer whose lag is measured while it runs (consumer_lag)."""

    def __init__(
        self, *topics: str, group_id: str, lag_every_s: float = LAG_EVERY_S, **config: Any
    ):
        super().__init__(*topics, group_id=group_id, **config)
        self.lag = ConsumerLag(self, group_id, lag_every_s)
        self._measuring: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await super().start()
        self._measuring = asyncio.create_task(self.lag.run(), name="kafka-consumer-lag")

    async def stop(self) -> None:
        if self._measuring is not None:
            self._measuring.cancel()
            await asyncio.gather(self._measuring, return_exceptions=True)
            self._measuring = None
        self.lag.close()
        await super().stop()


def measured_consumer(
    settings: ServiceSettings, group_id: str, client_id: str, **options: Any
) -> MeasuredConsumer:
    """A consumer with `consumer_config` (and aiokafka `options`), its lag measured (see above)."""
    return MeasuredConsumer(**consumer_config(settings, group_id), client_id=client_id, **options)


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


async def stop_consumer(consumer: Any) -> None:
    """`consumer.stop()`, tolerating what aiokafka 0.14 lets escape while the broker is away.

    Its fetcher cancels a fetch that is sleeping out its retry backoff and re-raises that
    CancelledError from stop(); ignored unless the calling task itself is being cancelled.
    """
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
