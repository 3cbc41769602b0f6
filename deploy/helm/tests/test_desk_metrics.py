"""The desk's Prometheus /metrics in the chart, as every service's (test_monitoring.py): a container
and Service port named `metrics` on monitoring.metricsPort, where its settings listen; scrapes
admitted from networkPolicy.metricsFrom; a ServiceMonitor with job casedesk-desk."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from helmchart import METRICS_PORT, Release, RenderError, component_name
from test_settings_alignment import load_rendered

DESK = component_name("desk")
ON = {"desk": {"enabled": True, "publicUrl": "https://desk.example.gov"}}
OPERATOR = ("monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule")
MONITORING_NAMESPACE = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
}
METRICS_RULE_PORTS = [{"port": "metrics", "protocol": "TCP"}]


def with_desk(render: Callable[..., Release], **values: Any) -> Release:
    desk = {**ON["desk"], **values.pop("desk", {})}
    return render("minimal-values.yaml", values={"desk": desk, **values})


def metrics_rules(release: Release) -> list[dict[str, Any]]:
    rules = release.get("NetworkPolicy", DESK)["spec"]["ingress"]
    return [r for r in rules if r["ports"] == METRICS_RULE_PORTS]


def test_the_desk_serves_metrics_on_its_named_port(
    production: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = {p["name"]: p for p in production.container("desk")["ports"]}
    assert ports["metrics"] == {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}
    assert production.value("desk", "CASEDESK_METRICS_PORT") == str(METRICS_PORT)
    # The desk's own settings resolve it to a listener on every interface of the pod.
    settings = load_rendered(production, "desk", monkeypatch)
    assert settings.metrics_address() == ("0.0.0.0", METRICS_PORT)
    service_ports = {p["name"]: p for p in production.get("Service", DESK)["spec"]["ports"]}
    assert service_ports["metrics"] == {
        "name": "metrics",
        "port": METRICS_PORT,
        "targetPort": "metrics",
        "protocol": "TCP",
        "appProtocol": "http",
    }


def test_the_metrics_port_is_the_monitoring_value(render: Callable[..., Release]) -> None:
    released = with_desk(render, monitoring={"metricsPort": 9100})
    assert released.value("desk", "CASEDESK_METRICS_PORT") == "9100"
    ports = {p["name"]: p["containerPort"] for p in released.container("desk")["ports"]}
    assert ports["metrics"] == 9100


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"monitoring": {"metricsPort": 8080}},
            "desk.port and monitoring.metricsPort are both 8080",
        ),
        (
            {"desk": {"env": {"CASEDESK_METRICS_PORT": "9999"}}},
            "env.CASEDESK_METRICS_PORT is set by the chart from monitoring.metricsPort",
        ),
    ],
)
def test_the_metrics_port_is_its_own_and_the_charts(
    render: Callable[..., Release], values: dict[str, Any], expected: str
) -> None:
    with pytest.raises(RenderError, match=re.escape(expected)):
        with_desk(render, **values)


def test_scrapes_come_from_metrics_from(
    production: Release, render: Callable[..., Release]
) -> None:
    prometheus = {
        **MONITORING_NAMESPACE,
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    assert [r["from"] for r in metrics_rules(production)] == [[prometheus]]
    assert [r["from"] for r in metrics_rules(with_desk(render))] == [[MONITORING_NAMESPACE]]
    (anyone,) = metrics_rules(with_desk(render, networkPolicy={"metricsFrom": []}))
    assert "from" not in anyone, "networkPolicy.metricsFrom empty: any source"


def test_a_service_monitor_scrapes_the_desk_as_job_casedesk_desk(
    render: Callable[..., Release],
) -> None:
    monitored = render("production-values.yaml", api_versions=OPERATOR)
    monitor = monitored.get("ServiceMonitor", DESK)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    selected = [
        s["metadata"]["name"]
        for s in monitored.of_kind("Service")
        if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert selected == [DESK]
    (endpoint,) = spec["endpoints"]
    assert (endpoint["port"], endpoint["scheme"], endpoint["path"]) == (
        "metrics",
        "http",
        "/metrics",
    )
    assert endpoint["relabelings"] == [
        {"action": "replace", "targetLabel": "job", "replacement": "casedesk-desk"}
    ]


def test_no_service_monitor_without_the_desk(render: Callable[..., Release]) -> None:
    values = {"monitoring": {"serviceMonitor": {"enabled": True}}}
    released = render("minimal-values.yaml", values=values, api_versions=OPERATOR)
    assert released.of_kind("ServiceMonitor")
    assert DESK not in {m["metadata"]["name"] for m in released.of_kind("ServiceMonitor")}
