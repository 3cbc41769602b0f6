"""Prometheus metrics of one process: `/metrics`, in Prometheus' text format, on a port of its own.

One instrumentation API, OpenTelemetry's. `configure_telemetry` gives the meter provider a
`PrometheusMetricReader` beside the OTLP exporter, so Prometheus and a collector (when one is
configured) see the same instruments — the runtime's (gRPC, Kafka consumers, publishing) and the
services' own, most of which were OpenTelemetry instruments before they were ever scraped.
prometheus_client serves the text and adds its default `process_*` and `python_*` series.

Names follow Prometheus' conventions through the exporter's translation: an instrument
`casedesk.grpc.server.handling` with unit `s` is `casedesk_grpc_server_handling_seconds`, a
counter gets `_total`, a unit in braces (`{call}`) adds nothing. Instrumentation-scope labels are
left out (`otel_scope_name` would only name the module that made an instrument); `target_info`
carries the service name. Label values are never personal data nor ids: method names, status
codes, channels, tiers, reasons, topics, partitions. The README's "Metrics" lists every series.

The server is prometheus_client's WSGI server in a daemon thread: a scrape never waits for the
event loop, nor the loop for a scrape. Gauges are observed in that thread, so their callbacks only
read values that the loop keeps up to date (a reference or a dict copied whole).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

from casedesk_runtime.logs import get_logger
from casedesk_runtime.settings import ServiceSettings, SettingsError

log = get_logger(__name__)

# Upper bounds of the latency histograms, seconds: from a cached read (1 ms) to a call that ran
# into its deadline (intake gives the case service 10 s, escalation 5 s an attempt).
LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


class MetricsEndpointError(SettingsError):
    """The configured metrics address cannot be listened on."""


def prometheus_reader(registry: CollectorRegistry = REGISTRY) -> PrometheusMetricReader:
    """The reader that makes a meter provider's instruments part of `registry`'s scrape."""
    return PrometheusMetricReader(scope_info_enabled=False, registry=registry)


class MetricsEndpoint:
    """`/metrics` of `registry` over HTTP on host:port (port 0: a free one, for tests)."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry = REGISTRY) -> None:
        self.host = host
        self.port = port
        self._registry = registry
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> int:
        """Listen and serve in a daemon thread; returns the port. Raises OSError."""
        self._server, self._thread = start_http_server(self.port, self.host, self._registry)
        self.port = self._server.server_address[1]
        return self.port

    def close(self) -> None:
        """Stop serving (waits for the server's loop, up to half a second) and free the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None


def start_metrics_endpoint(settings: ServiceSettings) -> MetricsEndpoint | None:
    """The process's metrics endpoint as `settings` describe it, listening; None if it has none.

    A port that cannot be had stops the process when it was configured (a wrong setting must be
    seen), and only costs a warning when it was the default (gRPC port + 1000): metrics are worth
    less than the service.
    """
    address = settings.metrics_address()
    if address is None:
        log.info("no metrics endpoint (CASEDESK_METRICS_PORT=0, or no fixed gRPC port)")
        return None
    endpoint = MetricsEndpoint(*address)
    try:
        endpoint.start()
    except OSError as error:
        problem = f"cannot listen on {address[0]}:{address[1]}: {error.strerror or error}"
        if {"metrics_port", "metrics_host"} & settings.model_fields_set:
            raise MetricsEndpointError(f"CASEDESK_METRICS_PORT/_HOST: {problem}") from None
        log.warning(
            "no metrics endpoint: the default port is taken; set CASEDESK_METRICS_PORT",
            extra={"problem": problem},
        )
        return None
    log.info("metrics endpoint listening", extra={"url": endpoint.url})
    return endpoint
