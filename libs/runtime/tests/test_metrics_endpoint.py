"""The metrics endpoint: where it listens, what it serves, and how OpenTelemetry names translate."""

from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from casedesk_runtime.grpc_server import GrpcServer
from casedesk_runtime.metrics_endpoint import (
    LATENCY_BUCKETS_S,
    MetricsEndpoint,
    MetricsEndpointError,
    prometheus_reader,
    start_metrics_endpoint,
)
from casedesk_runtime.settings import ServiceSettings, SettingsError, load_settings
from casedesk_runtime.testing.metrics import Scrape


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grpc_port", "metrics_port", "expected"),
    [
        (50052, None, 51052),  # the default: beside the gRPC port
        (50051, 9464, 9464),
        (50052, 0, None),  # 0: no endpoint
        (0, None, None),  # a gRPC port picked at random (tests): no default either
        (65000, None, None),  # the default would not be a port
    ],
)
def test_metrics_port_follows_the_grpc_port_unless_set(
    grpc_port: int, metrics_port: int | None, expected: int | None
) -> None:
    settings = ServiceSettings(grpc_port=grpc_port, metrics_port=metrics_port)
    address = settings.metrics_address()
    assert (address[1] if address else None) == expected


def test_metrics_host_defaults_to_the_grpc_host() -> None:
    assert ServiceSettings(grpc_host="0.0.0.0").metrics_address() == ("0.0.0.0", 51050)
    settings = ServiceSettings(grpc_host="0.0.0.0", metrics_host="127.0.0.1", metrics_port=9464)
    assert settings.metrics_address() == ("127.0.0.1", 9464)


def test_a_bad_metrics_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEDESK_METRICS_PORT", "70000")
    with pytest.raises(SettingsError, match="CASEDESK_METRICS_PORT"):
        load_settings(ServiceSettings)


# -- the endpoint ------------------------------------------------------------------------------


def test_opentelemetry_instruments_are_served_with_prometheus_names() -> None:
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[prometheus_reader(registry)])
    meter = provider.get_meter("casedesk_test")
    meter.create_counter("casedesk.test.things", unit="{thing}").add(2, {"channel": "EMAIL"})
    meter.create_histogram(
        "casedesk.test.waiting", unit="s", explicit_bucket_boundaries_advisory=LATENCY_BUCKETS_S
    ).record(0.003)
    endpoint = MetricsEndpoint("127.0.0.1", 0, registry)
    endpoint.start()
    try:
        assert endpoint.url == f"http://127.0.0.1:{endpoint.port}/metrics"
        scrape = Scrape(_get(endpoint.url))
    finally:
        endpoint.close()
        provider.shutdown()
    types = scrape.family_types()
    assert types["casedesk_test_things"] == "counter"
    assert types["casedesk_test_waiting_seconds"] == "histogram"
    assert scrape.value("casedesk_test_things_total", channel="EMAIL") == 2
    # No instrumentation-scope labels: only what the instrument was given.
    assert scrape.label_sets("casedesk_test_things_total") == [{"channel": "EMAIL"}]
    assert scrape.value("casedesk_test_waiting_seconds_bucket", le="0.0025") == 0
    assert scrape.value("casedesk_test_waiting_seconds_bucket", le="0.005") == 1
    buckets = {s["le"] for s in scrape.label_sets("casedesk_test_waiting_seconds_bucket")}
    assert buckets == {str(bound) for bound in LATENCY_BUCKETS_S} | {"+Inf"}


def test_close_frees_the_port() -> None:
    endpoint = MetricsEndpoint("127.0.0.1", 0, CollectorRegistry())
    port = endpoint.start()
    endpoint.close()
    with pytest.raises(urllib.error.URLError):
        _get(f"http://127.0.0.1:{port}/metrics")
    MetricsEndpoint("127.0.0.1", port, CollectorRegistry()).close()  # never started: nothing to do


def test_a_configured_port_that_is_taken_stops_the_start(taken_port: int) -> None:
    settings = ServiceSettings(metrics_port=taken_port)
    with pytest.raises(MetricsEndpointError, match=f"CASEDESK_METRICS_PORT.*:{taken_port}"):
        start_metrics_endpoint(settings)


def test_a_default_port_that_is_taken_costs_a_warning(
    taken_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ServiceSettings(grpc_port=taken_port - 1000)
    with caplog.at_level(logging.WARNING):
        assert start_metrics_endpoint(settings) is None
    assert "CASEDESK_METRICS_PORT" in caplog.text


def test_metrics_port_zero_means_no_endpoint() -> None:
    assert start_metrics_endpoint(ServiceSettings(grpc_port=50052, metrics_port=0)) is None


async def test_the_grpc_server_serves_the_process_metrics_until_it_stops() -> None:
    with socket.socket() as probe:  # a port free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = GrpcServer(ServiceSettings(grpc_port=0, grpc_insecure_dev=True, metrics_port=port))
    await server.start()
    try:
        assert server.metrics is not None
        text = _get(f"http://127.0.0.1:{port}/metrics")
        names = {family.name for family in text_string_to_metric_families(text)}
        assert "process_cpu_seconds" in names  # prometheus_client's process collector
    finally:
        await server.stop(0)
    assert server.metrics is None
    with pytest.raises(urllib.error.URLError):
        _get(f"http://127.0.0.1:{port}/metrics")
