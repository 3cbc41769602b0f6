"""Telemetry reaches the collector over TLS: a real OTLP/gRPC collector on loopback, real PKI.

The collector implements the OTLP trace and metrics services and keeps what it receives, so each
test asserts what arrived (or that nothing did), not how the exporter was built.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import metrics, trace
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from casedesk_runtime import pki
from casedesk_runtime.settings import ServiceSettings, SettingsError, load_settings
from casedesk_runtime.telemetry import OtlpFilesError, Telemetry, configure_telemetry

SPAN = "casedesk.test.v1.Echo/Who"
COUNTER = "casedesk_test_calls_total"


@dataclass
class Collector(
    trace_service_pb2_grpc.TraceServiceServicer, metrics_service_pb2_grpc.MetricsServiceServicer
):
    """What an OpenTelemetry collector's OTLP receiver would get, and from whom."""

    port: int = 0
    spans: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _peer(self, context: grpc.ServicerContext) -> None:
        uris = context.auth_context().get("peer_uri", [])
        self.peers.extend(uri.decode() for uri in uris)

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self._peer(context)
            if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
                self.spans += [
                    span.name
                    for resource in request.resource_spans
                    for scope in resource.scope_spans
                    for span in scope.spans
                ]
                return trace_service_pb2.ExportTraceServiceResponse()
            self.metrics += [
                metric.name
                for resource in request.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
            ]
            return metrics_service_pb2.ExportMetricsServiceResponse()


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki")
    pki.ensure_pki(out, ["collector", "case"])
    return out


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the collector's certificate."""
    out = tmp_path_factory.mktemp("other-pki")
    pki.ensure_pki(out, ["collector"])
    return out / pki.CA_CERT


def _serve(credentials: grpc.ServerCredentials | None) -> Iterator[Collector]:
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(collector, server)
    if credentials is None:
        collector.port = server.add_insecure_port("127.0.0.1:0")
    else:
        collector.port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    yield collector
    server.stop(0)


def _server_credentials(pki_dir: Path, *, require_client_auth: bool) -> grpc.ServerCredentials:
    pair = ((pki_dir / "collector.key").read_bytes(), (pki_dir / "collector.crt").read_bytes())
    return grpc.ssl_server_credentials(
        [pair],
        root_certificates=(pki_dir / pki.CA_CERT).read_bytes(),
        require_client_auth=require_client_auth,
    )


@pytest.fixture
def tls_collector(pki_dir: Path) -> Iterator[Collector]:
    yield from _serve(_server_credentials(pki_dir, require_client_auth=False))


@pytest.fixture
def mtls_collector(pki_dir: Path) -> Iterator[Collector]:
    yield from _serve(_server_credentials(pki_dir, require_client_auth=True))


@pytest.fixture
def plaintext_collector() -> Iterator[Collector]:
    yield from _serve(None)


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    # The process-wide providers stay the test session's own; each test uses the ones returned.
    monkeypatch.setattr(trace, "set_tracer_provider", lambda provider: None)
    monkeypatch.setattr(metrics, "set_meter_provider", lambda provider: None)
    for name in ("OTEL_TRACES_SAMPLER", "OTEL_EXPORTER_OTLP_INSECURE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("CASEDESK_OTLP_CA_FILE", "CASEDESK_OTLP_INSECURE", "CASEDESK_OTLP_CLIENT_AUTH"):
        monkeypatch.delenv(name, raising=False)
    # A refused handshake is retried until this deadline: keep the failing cases short.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")


def _send(telemetry: Telemetry) -> None:
    """One span and one counter, flushed to the collector (or failing to be), then shut down."""
    with telemetry.tracer_provider.get_tracer("test").start_as_current_span(SPAN):
        pass
    telemetry.meter_provider.get_meter("test").create_counter(COUNTER).add(1)
    telemetry.tracer_provider.force_flush()
    telemetry.meter_provider.force_flush()
    telemetry.shutdown()


def _endpoint(collector: Collector, scheme: str = "") -> str:
    return f"{scheme}127.0.0.1:{collector.port}"


def _client_settings(pki_dir: Path, **otlp: Any) -> ServiceSettings:
    return ServiceSettings(
        tls_cert_file=str(pki_dir / "case.crt"),
        tls_key_file=str(pki_dir / "case.key"),
        tls_ca_file=str(pki_dir / pki.CA_CERT),
        **otlp,
    )


# -- TLS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["", "https://"])
def test_spans_and_metrics_reach_a_collector_signed_by_the_configured_ca(
    tls_collector: Collector, pki_dir: Path, scheme: str
) -> None:
    settings = ServiceSettings(
        otlp_endpoint=_endpoint(tls_collector, scheme), otlp_ca_file=str(pki_dir / pki.CA_CERT)
    )
    _send(configure_telemetry("case", settings=settings))
    assert tls_collector.spans == [SPAN]
    assert COUNTER in tls_collector.metrics
    assert tls_collector.peers == []  # no client certificate unless asked for


def test_a_collector_the_ca_did_not_sign_receives_nothing(
    tls_collector: Collector, other_ca: Path
) -> None:
    settings = ServiceSettings(otlp_endpoint=_endpoint(tls_collector), otlp_ca_file=str(other_ca))
    _send(configure_telemetry("case", settings=settings))
    assert tls_collector.spans == [] and tls_collector.metrics == []


def test_without_a_ca_the_system_roots_decide_and_refuse_a_private_ca(
    tls_collector: Collector,
) -> None:
    # TLS, not plaintext and not "trust anything": the development CA is in no system store.
    _send(
        configure_telemetry(
            "case", settings=ServiceSettings(otlp_endpoint=_endpoint(tls_collector))
        )
    )
    assert tls_collector.spans == [] and tls_collector.metrics == []


def test_the_process_certificate_is_presented_when_client_auth_is_on(
    mtls_collector: Collector, pki_dir: Path
) -> None:
    ca = str(pki_dir / pki.CA_CERT)
    anonymous = _client_settings(pki_dir, otlp_endpoint=_endpoint(mtls_collector), otlp_ca_file=ca)
    _send(configure_telemetry("case", settings=anonymous))
    assert mtls_collector.spans == []  # the collector wants a client certificate

    presenting = anonymous.model_copy(update={"otlp_client_auth": True})
    _send(configure_telemetry("case", settings=presenting))
    assert mtls_collector.spans == [SPAN]
    assert set(mtls_collector.peers) == {"spiffe://casedesk/case"}


# -- plaintext only when asked ----------------------------------------------------------------


def test_plaintext_collector_only_with_the_insecure_setting(
    plaintext_collector: Collector,
) -> None:
    endpoint = _endpoint(plaintext_collector)
    _send(configure_telemetry("case", settings=ServiceSettings(otlp_endpoint=endpoint)))
    assert plaintext_collector.spans == []

    insecure = ServiceSettings(otlp_endpoint=endpoint, otlp_insecure=True)
    _send(configure_telemetry("case", settings=insecure))
    assert plaintext_collector.spans == [SPAN]


def test_old_style_call_takes_the_transport_from_the_environment(
    tls_collector: Collector, pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # configure_telemetry(name, endpoint) without settings, as the services called it so far
    monkeypatch.setenv("CASEDESK_OTLP_CA_FILE", str(pki_dir / pki.CA_CERT))
    _send(configure_telemetry("case", _endpoint(tls_collector)))
    assert tls_collector.spans == [SPAN]


def test_http_scheme_is_plaintext_and_needs_the_insecure_setting(
    plaintext_collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEDESK_OTLP_ENDPOINT", _endpoint(plaintext_collector, "http://"))
    with pytest.raises(SettingsError) as refused:
        load_settings(ServiceSettings)
    assert "CASEDESK_OTLP_INSECURE=true" in str(refused.value)
    monkeypatch.setenv("CASEDESK_OTLP_INSECURE", "true")
    settings = load_settings(ServiceSettings)
    _send(configure_telemetry("case", settings=settings))
    assert plaintext_collector.spans == [SPAN]


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"CASEDESK_OTLP_ENDPOINT": "https://otel:4317", "CASEDESK_OTLP_INSECURE": "true"},
            "CASEDESK_OTLP_ENDPOINT is https:// but CASEDESK_OTLP_INSECURE=true",
        ),
        (
            {"CASEDESK_OTLP_CA_FILE": "/etc/ca.crt", "CASEDESK_OTLP_INSECURE": "true"},
            "CASEDESK_OTLP_CA_FILE is set but CASEDESK_OTLP_INSECURE=true",
        ),
        (
            {"CASEDESK_OTLP_CLIENT_AUTH": "true"},
            "CASEDESK_OTLP_CLIENT_AUTH=true presents this process's certificate",
        ),
        ({"CASEDESK_OTLP_INSECURE": "maybe"}, "CASEDESK_OTLP_INSECURE"),
    ],
)
def test_contradictory_settings_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(ServiceSettings)
    assert expected in str(refused.value)


def test_settings_read_the_otlp_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_OTLP_ENDPOINT", "otel.observability:4317")
    monkeypatch.setenv("CASEDESK_OTLP_CA_FILE", "/etc/casedesk/otlp-ca/ca.crt")
    monkeypatch.setenv("CASEDESK_TLS_CERT_FILE", "/t/c.crt")
    monkeypatch.setenv("CASEDESK_TLS_KEY_FILE", "/t/c.key")
    monkeypatch.setenv("CASEDESK_TLS_CA_FILE", "/t/ca.crt")
    monkeypatch.setenv("CASEDESK_OTLP_CLIENT_AUTH", "true")
    settings = load_settings(ServiceSettings)
    assert settings.otlp_ca_file == "/etc/casedesk/otlp-ca/ca.crt"
    assert settings.otlp_client_auth is True and settings.otlp_insecure is False


def test_unusable_ca_file_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    missing = ServiceSettings(otlp_endpoint="otel:4317", otlp_ca_file=str(tmp_path / "none.crt"))
    with pytest.raises(OtlpFilesError, match="CASEDESK_OTLP_CA_FILE: cannot read"):
        configure_telemetry("case", settings=missing)
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("not a certificate")
    with pytest.raises(OtlpFilesError, match=r"CASEDESK_OTLP_CA_FILE: .* holds no PEM certificate"):
        configure_telemetry(
            "case", settings=missing.model_copy(update={"otlp_ca_file": str(garbage)})
        )


def test_without_an_endpoint_nothing_is_exported_whatever_the_transport(
    tls_collector: Collector, pki_dir: Path
) -> None:
    settings = ServiceSettings(otlp_ca_file=str(pki_dir / pki.CA_CERT))
    telemetry = configure_telemetry("case", settings=settings)
    with telemetry.tracer_provider.get_tracer("test").start_as_current_span(SPAN) as span:
        assert not span.is_recording()
    _send(telemetry)
    assert tls_collector.spans == []
