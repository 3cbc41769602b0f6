"""services.intake.workers and services.case.workers: worker processes per pod
(casedesk_runtime.workers), each with a /metrics port of its own that the pod, its Service, its
NetworkPolicy and its ServiceMonitor all declare, at the port the worker's settings resolve to."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from helmchart import (
    CHART,
    HEALTH_PORT,
    METRICS_PORT,
    SERVICES,
    Release,
    RenderError,
    component_name,
    policy,
)
from test_monitoring import OPERATOR
from test_settings_alignment import load_rendered

from casedesk_runtime.workers import MAX_WORKERS, WorkerSettings

WORKER_SERVICES = ("intake", "case")
METRICS_NAMES = ["metrics", "metrics-1", "metrics-2"]


@pytest.fixture(scope="module")
def three_workers(render: Callable[..., Release]) -> Release:
    """Production values (case on PostgreSQL), three workers in each intake and case pod, on a
    cluster with the Prometheus Operator."""
    values = {"services": {s: {"workers": 3} for s in WORKER_SERVICES}}
    return render("production-values.yaml", values=values, api_versions=OPERATOR)


@pytest.mark.parametrize("service", WORKER_SERVICES)
def test_one_worker_by_default(release: Release, service: str) -> None:
    assert release.value(service, "CASEDESK_WORKERS") == "1"
    names = [p["name"] for p in release.container(service)["ports"]]
    assert [n for n in names if n.startswith("metrics")] == ["metrics"]


@pytest.mark.parametrize("service", WORKER_SERVICES)
def test_each_worker_has_a_metrics_port_where_it_serves(
    three_workers: Release, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert three_workers.value(service, "CASEDESK_WORKERS") == "3"
    settings = load_rendered(three_workers, service, monkeypatch)
    assert settings.worker_count() == 3
    declared = {
        p["name"]: p["containerPort"]
        for p in three_workers.container(service)["ports"]
        if p["name"].startswith("metrics")
    }
    # Where each worker's own settings (the pod's, with its CASEDESK_WORKER_INDEX) put /metrics.
    served = {
        name: settings.model_copy(update={"worker_index": index}).metrics_address()[1]
        for index, name in enumerate(METRICS_NAMES)
    }
    expected = {name: METRICS_PORT + index for index, name in enumerate(METRICS_NAMES)}
    assert declared == served == expected
    service_ports = {
        p["name"]: (p["port"], p["targetPort"])
        for p in three_workers.get("Service", component_name(service))["spec"]["ports"]
        if p["name"].startswith("metrics")
    }
    assert service_ports == {name: (port, name) for name, port in declared.items()}


@pytest.mark.parametrize("service", WORKER_SERVICES)
def test_prometheus_scrapes_every_worker_and_may_reach_it(
    three_workers: Release, service: str
) -> None:
    monitor = three_workers.get("ServiceMonitor", component_name(service))
    endpoints = monitor["spec"]["endpoints"]
    assert [e["port"] for e in endpoints] == METRICS_NAMES
    job = [{"action": "replace", "targetLabel": "job", "replacement": f"casedesk-{service}"}]
    assert all(e["relabelings"] == job for e in endpoints)
    rules = policy(three_workers, service)["spec"]["ingress"]
    (metrics,) = [r for r in rules if r["ports"][0]["port"] == "metrics"]
    assert [p["port"] for p in metrics["ports"]] == METRICS_NAMES


def test_services_without_workers_keep_one_metrics_port(three_workers: Release) -> None:
    for service in set(SERVICES) - set(WORKER_SERVICES):
        assert "CASEDESK_WORKERS" not in three_workers.env(service)
        monitor = three_workers.get("ServiceMonitor", component_name(service))
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"services": {"case": {"workers": 2}}},
            "services.case.workers is 2: several worker processes need database.backend=postgres",
        ),
        (
            {
                "services": {"intake": {"workers": 2}},
                "monitoring": {"metricsPort": HEALTH_PORT - 1},
            },
            f"their /metrics ports {HEALTH_PORT - 1}-{HEALTH_PORT} take healthPort ({HEALTH_PORT})",
        ),
        (
            {"services": {"intake": {"workers": 4, "port": METRICS_PORT + 3}}},
            f"take services.intake.port ({METRICS_PORT + 3})",
        ),
        (
            {"services": {"intake": {"workers": 3}}, "monitoring": {"metricsPort": 65534}},
            "their /metrics ports 65534-65536 go past 65535",
        ),
        ({"services": {"intake": {"workers": 0}}}, "/services/intake/workers"),
        ({"services": {"intake": {"workers": 65}}}, "/services/intake/workers"),
        ({"services": {"sla": {"workers": 2}}}, "additional properties 'workers' not allowed"),
        (
            {"services": {"case": {"env": {"CASEDESK_WORKER_INDEX": "1"}}}},
            "env.CASEDESK_WORKER_INDEX is set by the chart from services.case.workers",
        ),
    ],
)
def test_worker_mistakes_are_refused(
    render: Callable[..., Release], values: dict[str, Any], expected: str
) -> None:
    with pytest.raises(RenderError, match=re.escape(expected)):
        render("minimal-values.yaml", values=values)


def test_the_workers_value_has_the_runtimes_bounds_and_default() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())["definitions"]["workers"]
    assert (schema["minimum"], schema["maximum"]) == (1, MAX_WORKERS)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["services"]
    assert [defaults[s]["workers"] for s in WORKER_SERVICES] == [1, 1]
    assert WorkerSettings.model_fields["workers"].default == 1
