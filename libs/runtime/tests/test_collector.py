"""The collector's pauses: measured per collection, exported by generation (Prometheus names)."""

from __future__ import annotations

import gc

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from casedesk_runtime.collector import CollectorPauses, collector_pauses, watch_collector_pauses
from casedesk_runtime.metrics_endpoint import prometheus_reader
from casedesk_runtime.testing.clocks import ManualClock


def test_a_pause_is_the_time_between_its_start_and_its_stop_by_generation() -> None:
    clock = ManualClock(100.0)
    pauses = CollectorPauses(clock)
    pauses("start", {"generation": 1})
    clock.now += 0.075
    pauses("stop", {"generation": 1, "collected": 10, "uncollectable": 0})
    pauses("start", {"generation": 0})
    clock.now += 0.002
    pauses("stop", {"generation": 0, "collected": 0, "uncollectable": 0})
    assert pauses.paused_s == pytest.approx([0.002, 0.075, 0.0])
    assert pauses.longest_recent(1) == pytest.approx(0.075)
    assert pauses.longest_recent(2) == 0.0


def test_the_longest_pause_is_the_longest_of_the_last_minute_only() -> None:
    clock = ManualClock(100.0)
    pauses = CollectorPauses(clock)
    for length in (0.09, 0.01):
        pauses("start", {"generation": 0})
        clock.now += length
        pauses("stop", {"generation": 0})
        clock.now += 30.0
    # The 90 ms pause ended 60.01 s ago, the 10 ms one 30 s ago.
    assert pauses.longest_recent(0) == pytest.approx(0.01)
    clock.now += 31.0
    assert pauses.longest_recent(0) == 0.0
    assert pauses.paused_s[0] == pytest.approx(0.1)  # the total keeps every pause


def test_real_collections_are_measured_once_registered_whatever_thread_reads() -> None:
    pauses = collector_pauses()
    assert collector_pauses() is pauses  # one per process
    assert gc.callbacks.count(pauses) == 1
    before = list(pauses.paused_s)
    gc.collect()  # the oldest generation (and with it the younger ones)
    assert pauses.paused_s[2] > before[2]
    assert pauses.longest_recent(2) > 0.0


def test_the_series_are_exported_under_prometheus_names_by_generation() -> None:
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[prometheus_reader(registry), InMemoryMetricReader()])
    watch_collector_pauses(provider)
    gc.collect()
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    total = families["casedesk_runtime_gc_pause_seconds"]  # the parser drops `_total`
    assert total.type == "counter"
    by_generation = {s.labels["generation"]: s.value for s in total.samples}
    assert set(by_generation) == {"0", "1", "2"}
    assert by_generation["2"] > 0.0
    longest = families["casedesk_runtime_gc_pause_max_seconds"]
    assert longest.type == "gauge"
    maxima = {s.labels["generation"]: s.value for s in longest.samples}
    assert 0.0 < maxima["2"] <= by_generation["2"]
    provider.shutdown()
