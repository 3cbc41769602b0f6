"""OpenTelemetry traces and metrics for one process.

Off by default: with no OTLP endpoint (and no exporter passed in, as tests do) spans are not
recorded — recording spans nobody exports cost the case service a tenth of its CPU — but every
call still gets a trace id, which reaches logs, the callee and Kafka headers. With an exporter
the SDK's sampler applies (`OTEL_TRACES_SAMPLER`, default: follow the parent, else sample); an
explicit `OTEL_TRACES_SAMPLER` always wins. Metrics are always readable by Prometheus
(metrics_endpoint), and exported over OTLP as well when an endpoint is set.

The collector is reached over TLS (`otlp_credentials`): its certificate is checked against
CASEDESK_OTLP_CA_FILE, or the system's CAs when that is unset, so a collector in the cluster needs
its CA configured and an external one works as is; with CASEDESK_OTLP_CLIENT_AUTH=true the process
also presents its own certificate. Plaintext only with CASEDESK_OTLP_INSECURE=true. Spans name
RPCs and carry case ids, and a collector is often a shared service: they do not travel unencrypted
by default. The CA and the client certificate are read at start; a renewed client certificate
reaches the exporters with the next start (the files of gRPC, unlike these, are followed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler

from casedesk_runtime.collector import watch_collector_pauses
from casedesk_runtime.grpc_tls import configured_files, read_material
from casedesk_runtime.metrics_endpoint import prometheus_reader
from casedesk_runtime.settings import ServiceSettings, SettingsError, load_settings


class OtlpFilesError(SettingsError):
    """CASEDESK_OTLP_CA_FILE (or the certificate presented to the collector) cannot be used."""


@dataclass(frozen=True)
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def configure_telemetry(
    service_name: str,
    otlp_endpoint: str | None = None,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
    *,
    settings: ServiceSettings | None = None,
) -> Telemetry:
    """Install the process's tracer and meter providers.

    Export to a collector when `otlp_endpoint` is given, or `settings.otlp_endpoint` when it is
    not; the transport always comes from `settings` (CASEDESK_OTLP_*), read from the environment
    when no settings are passed.
    """
    endpoint = otlp_endpoint or (settings.otlp_endpoint if settings is not None else None)
    resource = Resource.create({SERVICE_NAME: service_name})
    sampler: Sampler | None = None  # the SDK's, from the environment
    if span_exporter is None and not endpoint and "OTEL_TRACES_SAMPLER" not in os.environ:
        sampler = ParentBased(ALWAYS_OFF)
    tracer_provider = TracerProvider(resource=resource, sampler=sampler)
    readers: list[MetricReader] = [metric_reader] if metric_reader else []
    if span_exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    if endpoint:
        # Imported lazily: the exporter pulls in a gRPC channel nobody needs when export is off.
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        credentials = otlp_credentials(settings or load_settings(ServiceSettings))
        # Both passed explicitly, so neither the endpoint's scheme nor the SDK's own OTEL_EXPORTER_*
        # variables can switch the transport behind the settings' back.
        insecure = credentials is None
        spans = OTLPSpanExporter(endpoint=endpoint, insecure=insecure, credentials=credentials)
        tracer_provider.add_span_processor(BatchSpanProcessor(spans))
        metric_exporter = OTLPMetricExporter(
            endpoint=endpoint, insecure=insecure, credentials=credentials
        )
        readers.append(PeriodicExportingMetricReader(metric_exporter))
    # Prometheus reads the same instruments, at every scrape of the metrics endpoint.
    readers.append(prometheus_reader())
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    watch_collector_pauses(meter_provider)  # every process's latency includes them
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return Telemetry(tracer_provider, meter_provider)


def otlp_credentials(settings: ServiceSettings) -> grpc.ChannelCredentials | None:
    """TLS credentials towards the collector; None (plaintext) only with otlp_insecure."""
    if settings.otlp_insecure:
        return None
    roots = _ca_bundle(Path(settings.otlp_ca_file)) if settings.otlp_ca_file else None
    key = chain = None
    if settings.otlp_client_auth:
        # The same checked pair the process presents to other services.
        files = configured_files(settings)
        if files is None:
            raise OtlpFilesError("CASEDESK_OTLP_CLIENT_AUTH=true needs the CASEDESK_TLS_* files")
        material = read_material(files)
        key, chain = material.key_pem, material.cert_pem
    return grpc.ssl_channel_credentials(
        root_certificates=roots, private_key=key, certificate_chain=chain
    )


def _ca_bundle(path: Path) -> bytes:
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise OtlpFilesError(
            f"CASEDESK_OTLP_CA_FILE: cannot read {path}: {error.strerror}"
        ) from None
    try:
        if not x509.load_pem_x509_certificates(pem):
            raise ValueError
    except ValueError:
        raise OtlpFilesError(f"CASEDESK_OTLP_CA_FILE: {path} holds no PEM certificate") from None
    return pem


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)
