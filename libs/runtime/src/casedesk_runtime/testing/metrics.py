"""The process's metrics read in tests as Prometheus reads them: scraped over HTTP, then parsed.

`scrape()` serves the process registry on a free port (once per test process) and parses what it
returns with prometheus_client's parser. Instruments made with OpenTelemetry's global meter reach
it once a meter provider is installed: a test process has none of its own, so the first scrape
installs one like configure_telemetry's (its Prometheus reader, no tracer provider, whose global
other tests may want to set). Counters add up over the whole test session: compare a value before
and after what the test does.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from casedesk_runtime.metrics_endpoint import MetricsEndpoint, prometheus_reader

_endpoint: MetricsEndpoint | None = None


def metrics_endpoint() -> MetricsEndpoint:
    """The test process's endpoint, with a meter provider read by Prometheus installed."""
    global _endpoint
    if _endpoint is None:
        # configure_telemetry's providers always have the Prometheus reader: keep one if set.
        if not isinstance(metrics.get_meter_provider(), MeterProvider):
            metrics.set_meter_provider(MeterProvider(metric_readers=[prometheus_reader()]))
        endpoint = MetricsEndpoint("127.0.0.1", 0)
        endpoint.start()
        _endpoint = endpoint
    return _endpoint


@dataclass(frozen=True)
class Scrape:
    text: str

    def samples(self, name: str) -> Iterator[Sample]:
        """Every sample called `name` (with its suffix: `_total`, `_bucket`, `_count` ...)."""
        for family in text_string_to_metric_families(self.text):
            for sample in family.samples:
                if sample.name == name:
                    yield sample

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called `name` whose labels include `labels` (0 if none)."""
        return sum(
            sample.value
            for sample in self.samples(name)
            if all(sample.labels.get(key) == value for key, value in labels.items())
        )

    def label_sets(self, name: str) -> list[dict[str, str]]:
        return [dict(sample.labels) for sample in self.samples(name)]

    def family_types(self) -> dict[str, str]:
        """Each metric family's name and TYPE (`counter`, `gauge`, `histogram` ...)."""
        return {f.name: f.type for f in text_string_to_metric_families(self.text)}


def scrape() -> Scrape:
    with urllib.request.urlopen(metrics_endpoint().url, timeout=10) as response:
        return Scrape(response.read().decode())
