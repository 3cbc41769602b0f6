"""The shared runtime on real parts: a service process, a real gRPC client, a real Kafka broker."""

from __future__ import annotations

import asyncio
import pathlib
import uuid

import grpc
import pytest
from aiokafka import AIOKafkaConsumer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from casedesk_runtime.grpc_client import insecure_channel
from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.kafka import make_broker
from casedesk_runtime.settings import ServiceSettings
from casedesk_runtime.topics import TOPICS, ensure_topics

pytestmark = pytest.mark.integration
PROBE_DIR = pathlib.Path(__file__).parent / "probe"


async def _consume_one(bootstrap: str, topic: str):
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4()}",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()


def _traceparent_trace_id(record) -> str:
    headers = dict(record.headers)
    return headers["traceparent"].decode().split("-")[1]


async def test_topic_provisioning_is_idempotent(kafka_bootstrap: str) -> None:
    await ensure_topics(kafka_bootstrap)
    assert await ensure_topics(kafka_bootstrap) == []
    record_topics = {t.name for t in TOPICS}
    assert {"case.events.v1", "sla.events.v1", "notification.events.v1"} <= record_topics


async def test_service_process_serves_health_and_carries_trace_into_kafka(
    kafka_bootstrap: str, services, span_exporter: InMemorySpanExporter
) -> None:
    topic = f"probe.{uuid.uuid4().hex[:8]}"
    probe = services(
        "probe_service",
        {
            "PYTHONPATH": str(PROBE_DIR),
            "CASEDESK_PROBE_TOPIC": topic,
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        },
    )
    async with insecure_channel(probe.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with trace.get_tracer("frontend").start_as_current_span("frontend request") as span:
            answer = await channel.unary_unary("/casedesk.probe.v1.Probe/Publish")(b"hello")
    assert answer == b"published"
    record = await _consume_one(kafka_bootstrap, topic)
    assert record.value == b"hello"
    # The probe process continued the caller's trace and wrote it into the record's headers.
    assert _traceparent_trace_id(record) == format(span.get_span_context().trace_id, "032x")


async def test_one_trace_spans_grpc_call_and_kafka_message(
    kafka_bootstrap: str, span_exporter: InMemorySpanExporter
) -> None:
    topic = f"probe.{uuid.uuid4().hex[:8]}"
    settings = ServiceSettings(
        grpc_port=0, kafka_bootstrap_servers=kafka_bootstrap, grpc_insecure_dev=True
    )
    broker = make_broker(settings, client_id="probe-in-process")
    received: asyncio.Queue = asyncio.Queue()

    @broker.subscriber(topic, group_id=f"g-{uuid.uuid4()}", auto_offset_reset="earliest")
    async def on_message(body: bytes) -> None:
        received.put_nowait(trace.get_current_span().get_span_context().trace_id)

    async def publish(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await broker.publish(request, topic, key=b"k")
        return b"ok"

    handler = grpc.method_handlers_generic_handler(
        "casedesk.probe.v1.Probe", {"Publish": grpc.unary_unary_rpc_method_handler(publish)}
    )
    server = GrpcServer(
        settings,
        [
            (
                lambda _s, srv: srv.add_generic_rpc_handlers((handler,)),
                None,
                "casedesk.probe.v1.Probe",
            )
        ],
    )
    await broker.start()
    await server.start()
    span_exporter.clear()
    try:
        async with insecure_channel(f"127.0.0.1:{server.port}") as channel:
            await channel.unary_unary("/casedesk.probe.v1.Probe/Publish")(b"payload")
        consumer_trace_id = await asyncio.wait_for(received.get(), timeout=30)
    finally:
        await server.stop(0)
        await broker.stop()
    spans = span_exporter.get_finished_spans()
    grpc_spans = [s for s in spans if s.kind in (trace.SpanKind.CLIENT, trace.SpanKind.SERVER)]
    kafka_spans = [s for s in spans if s.kind in (trace.SpanKind.PRODUCER, trace.SpanKind.CONSUMER)]
    assert grpc_spans and kafka_spans
    trace_ids = {s.context.trace_id for s in grpc_spans + kafka_spans}
    assert trace_ids == {consumer_trace_id}
