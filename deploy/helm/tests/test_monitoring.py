"""Monitoring: every service's /metrics port, who may scrape it, and the Prometheus Operator's
ServiceMonitors and PrometheusRule (only where the cluster serves their CRDs), the alert rule file
they carry and the Grafana dashboard. promtool itself runs in `make alert-test`; these check the
rule file's contract with the chart, the runbook and the services' documented series."""

from __future__ import annotations

import copy
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
    PORTS,
    REPO,
    SERVICES,
    Manifest,
    Release,
    RenderError,
    component_name,
    ingress_on,
)
from test_settings_alignment import load_rendered

SERVICE_MONITOR = "monitoring.coreos.com/v1/ServiceMonitor"
PROMETHEUS_RULE = "monitoring.coreos.com/v1/PrometheusRule"
OPERATOR = (SERVICE_MONITOR, PROMETHEUS_RULE)
ALL_ON: dict[str, Any] = {
    "monitoring": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "dashboard": {"enabled": True},
    }
}
RULE_FILE = CHART / "files" / "alerts.yaml"
RULE_TESTS = REPO / "deploy" / "helm" / "tests" / "alerts" / "alerts_test.yaml"
DASHBOARD = CHART / "files" / "dashboard.json"
RUNBOOK = REPO / "deploy" / "README.md"
SERIES_DOCUMENTED_IN = REPO / "libs" / "runtime" / "README.md"
MONITORING_NAMESPACE = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
}
# The series the services export (casedesk_*, intake's refusals); the others are Prometheus' or
# kube-state-metrics' (up, kube_pod_status_ready) and prometheus_client's (process_*).
OWN_SERIES = re.compile(r"\b(?:casedesk|intake)_[a-z_]+\b")


def rule_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(RULE_FILE.read_text())
    return loaded


def alerts() -> list[dict[str, Any]]:
    return [r for g in rule_file()["groups"] for r in g["rules"] if "alert" in r]


def metrics_rule(release: Release, service: str) -> dict[str, Any]:
    (rule,) = ingress_on(release, service, "metrics")
    return rule


def documented_series(name: str) -> str:
    """`name` as the runtime's README lists it (a histogram by its base name)."""
    return re.sub(r"_(bucket|sum|count)$", "", name)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_serves_metrics_on_its_named_port(
    release: Release, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = {p["name"]: p for p in release.container(service)["ports"]}
    assert ports["metrics"] == {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}
    assert release.value(service, "CASEDESK_METRICS_PORT") == str(METRICS_PORT)
    # The service's own settings resolve it to a listener on every interface of the pod.
    settings = load_rendered(release, service, monkeypatch)
    assert settings.metrics_address() == ("0.0.0.0", METRICS_PORT)
    service_ports = {
        p["name"]: p for p in release.get("Service", component_name(service))["spec"]["ports"]
    }
    assert service_ports["metrics"] == {
        "name": "metrics",
        "port": METRICS_PORT,
        "targetPort": "metrics",
        "protocol": "TCP",
        "appProtocol": "http",
    }


def test_the_metrics_port_is_a_value(render: Callable[..., Release]) -> None:
    released = render("minimal-values.yaml", values={"monitoring": {"metricsPort": 9100}})
    for service in SERVICES:
        assert released.value(service, "CASEDESK_METRICS_PORT") == "9100"
        ports = {p["name"]: p["containerPort"] for p in released.container(service)["ports"]}
        assert ports["metrics"] == 9100


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"monitoring": {"metricsPort": HEALTH_PORT}},
            f"healthPort and monitoring.metricsPort are both {HEALTH_PORT}",
        ),
        (
            {"monitoring": {"metricsPort": PORTS["sla"]}},
            f"services.sla.port and monitoring.metricsPort are both {PORTS['sla']}",
        ),
    ],
)
def test_the_metrics_port_is_a_port_of_its_own(
    render: Callable[..., Release], values: dict[str, Any], expected: str
) -> None:
    with pytest.raises(RenderError, match=re.escape(expected)):
        render("minimal-values.yaml", values=values)


def test_env_may_not_move_the_metrics_port(render: Callable[..., Release]) -> None:
    values = {"services": {"case": {"env": {"CASEDESK_METRICS_PORT": "9999"}}}}
    owned = "env.CASEDESK_METRICS_PORT is set by the chart from monitoring.metricsPort"
    with pytest.raises(RenderError, match=re.escape(owned)):
        render("minimal-values.yaml", values=values)


def test_scrapes_come_from_the_monitoring_namespace_by_default(minimal: Release) -> None:
    for service in SERVICES:
        assert metrics_rule(minimal, service)["from"] == [MONITORING_NAMESPACE], service


def test_production_admits_only_prometheus_pods(production: Release) -> None:
    prometheus = {
        **MONITORING_NAMESPACE,
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    for service in SERVICES:
        assert metrics_rule(production, service)["from"] == [prometheus], service


def test_no_metrics_peers_means_any_source(render: Callable[..., Release]) -> None:
    released = render("minimal-values.yaml", values={"networkPolicy": {"metricsFrom": []}})
    for service in SERVICES:
        assert "from" not in metrics_rule(released, service), service


@pytest.mark.parametrize(
    ("enabled", "served", "rendered"),
    [
        (False, OPERATOR, False),  # the CRDs are there, the values do not ask
        (True, (), False),  # asked for, but the cluster has no Prometheus Operator
        (True, OPERATOR, True),
    ],
)
def test_operator_objects_need_the_values_and_the_crds(
    render: Callable[..., Release], enabled: bool, served: tuple[str, ...], rendered: bool
) -> None:
    values = {
        "monitoring": {
            "serviceMonitor": {"enabled": enabled},
            "prometheusRule": {"enabled": enabled},
        }
    }
    released = render("minimal-values.yaml", values=values, api_versions=served)
    assert len(released.of_kind("ServiceMonitor")) == (len(SERVICES) if rendered else 0)
    assert len(released.of_kind("PrometheusRule")) == (1 if rendered else 0)


def test_each_crd_is_checked_on_its_own(render: Callable[..., Release]) -> None:
    released = render("minimal-values.yaml", values=ALL_ON, api_versions=(SERVICE_MONITOR,))
    assert len(released.of_kind("ServiceMonitor")) == len(SERVICES)
    assert released.of_kind("PrometheusRule") == []


def test_by_default_nothing_of_the_operator_nor_grafana(render: Callable[..., Release]) -> None:
    released = render("minimal-values.yaml", api_versions=OPERATOR)
    assert released.of_kind("ServiceMonitor") == released.of_kind("PrometheusRule") == []
    assert not released.has("ConfigMap", "cd-casedesk-dashboard")


@pytest.fixture(scope="module")
def monitored(render: Callable[..., Release]) -> Release:
    """The production values on a cluster running the Prometheus Operator."""
    return render("production-values.yaml", api_versions=OPERATOR)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_monitor_scrapes_each_service_as_job_casedesk_service(
    monitored: Release, service: str
) -> None:
    monitor = monitored.get("ServiceMonitor", component_name(service))
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["casedesk"]}
    # It selects exactly this service's Service, on its metrics port.
    selected = [
        s
        for s in monitored.of_kind("Service")
        if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert [s["metadata"]["name"] for s in selected] == [component_name(service)]
    (endpoint,) = spec["endpoints"]
    assert "metrics" in {p["name"] for p in selected[0]["spec"]["ports"]}
    assert endpoint["port"] == "metrics"
    assert (endpoint["scheme"], endpoint["path"]) == ("http", "/metrics")
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("30s", "10s")
    # The job the alerts and the dashboard select, whatever the release is called.
    assert endpoint["relabelings"] == [
        {"action": "replace", "targetLabel": "job", "replacement": f"casedesk-{service}"}
    ]


def test_a_disabled_service_is_not_scraped(render: Callable[..., Release]) -> None:
    values = {**ALL_ON, "services": {"escalation": {"enabled": False}}}
    released = render("minimal-values.yaml", values=values, api_versions=OPERATOR)
    names = {m["metadata"]["name"] for m in released.of_kind("ServiceMonitor")}
    assert names == {component_name(s) for s in SERVICES if s != "escalation"}


def test_the_prometheus_rule_carries_the_rule_file(monitored: Release) -> None:
    (rule,) = monitored.of_kind("PrometheusRule")
    assert rule["metadata"]["name"] == "cd-casedesk-alerts"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # The same groups, expressions and annotations promtool tests, with production's runbook
    # address before each link and its team label on each alert.
    expected = rule_file()
    base = "https://git.casedesk.internal/casedesk/casedesk/-/blob/v0.1.0/"
    for alert in (r for g in expected["groups"] for r in g["rules"] if "alert" in r):
        alert["labels"]["team"] = "casedesk"
        alert["annotations"]["runbook_url"] = base + alert["annotations"]["runbook_url"]
    assert rule["spec"] == expected


def test_an_alert_keeps_its_own_severity(render: Callable[..., Release]) -> None:
    values = copy.deepcopy(ALL_ON)
    values["monitoring"]["prometheusRule"]["alertLabels"] = {"team": "casedesk"}
    released = render("minimal-values.yaml", values=values, api_versions=OPERATOR)
    (rule,) = released.of_kind("PrometheusRule")
    shipped = {a["alert"]: a["labels"]["severity"] for a in alerts()}
    for group in rule["spec"]["groups"]:
        for alert in (r for r in group["rules"] if "alert" in r):
            assert alert["labels"] == {"severity": shipped[alert["alert"]], "team": "casedesk"}
            assert alert["annotations"]["runbook_url"].startswith("deploy/README.md#")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"prometheusRule": {"alertLabels": {"severity": "info"}}},
            "/monitoring/prometheusRule/alertLabels/severity",
        ),
        (
            {"prometheusRule": {"runbookBaseUrl": "git.example.gov/casedesk"}},
            "/monitoring/prometheusRule/runbookBaseUrl",
        ),
        ({"dashboard": {"label": "grafana dashboard"}}, "/monitoring/dashboard/label"),
        ({"serviceMonitor": {"interval": "30"}}, "/monitoring/serviceMonitor/interval"),
        ({"metricsPort": 80}, "/monitoring/metricsPort"),
    ],
)
def test_schema_refuses_monitoring_mistakes(
    render: Callable[..., Release], values: dict[str, Any], expected: str
) -> None:
    with pytest.raises(RenderError, match=re.escape(expected)):
        render("minimal-values.yaml", values={"monitoring": values})


def test_every_alert_is_labelled_annotated_and_has_a_runbook_section() -> None:
    headings = {
        re.sub(r"[^a-z0-9-]", "", line.lstrip("#").strip().lower().replace(" ", "-"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names))
    for alert in alerts():
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert {"summary", "description", "runbook_url"} <= alert["annotations"].keys()
        anchor = f"deploy/README.md#{alert['alert'].lower()}"
        assert alert["annotations"]["runbook_url"] == anchor
        assert alert["alert"].lower() in headings, f"deploy/README.md has no section {anchor}"


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())
    assert tests["rule_files"] == ["../../casedesk/files/alerts.yaml"]
    checks = [c for t in tests["tests"] for c in t["alert_rule_test"]]
    for name in (a["alert"] for a in alerts()):
        outcomes = {bool(c["exp_alerts"]) for c in checks if c["alertname"] == name}
        assert outcomes == {True, False}, f"{name}: promtool tests must show it firing and not"


def test_rules_and_dashboard_use_only_documented_series() -> None:
    documented = SERIES_DOCUMENTED_IN.read_text()
    recorded = {r["record"] for g in rule_file()["groups"] for r in g["rules"] if "record" in r}
    expressions = [r["expr"] for g in rule_file()["groups"] for r in g["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    expressions += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {documented_series(n) for e in expressions for n in OWN_SERIES.findall(e)}
    used -= {n.split(":")[1] for n in recorded}  # the middle part of a recording rule's name
    assert used, "no series found: the pattern is wrong"
    assert {n for n in used if f"`{n}`" not in documented} == set()


def test_the_dashboard_is_a_configmap_for_grafanas_sidecar(monitored: Release) -> None:
    configmap = monitored.get("ConfigMap", "cd-casedesk-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Casedesk"}
    assert "namespace" not in configmap["metadata"]
    dashboard = json.loads(configmap["data"]["casedesk.json"])
    assert dashboard == json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "casedesk-overview"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "namespace"}
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            # Every query follows the namespace picker.
            assert 'namespace=~"$namespace"' in target["expr"], panel["title"]


def test_the_dashboard_label_and_namespace_follow_the_sidecar(
    render: Callable[..., Release],
) -> None:
    values = {
        "monitoring": {
            "dashboard": {
                "enabled": True,
                "label": "grafana.example.org/dashboard",
                "labelValue": "casedesk",
                "namespace": "grafana",
            }
        }
    }
    configmap: Manifest = render("minimal-values.yaml", values=values).get(
        "ConfigMap", "cd-casedesk-dashboard"
    )
    assert configmap["metadata"]["labels"]["grafana.example.org/dashboard"] == "casedesk"
    assert "grafana_dashboard" not in configmap["metadata"]["labels"]
    assert configmap["metadata"]["namespace"] == "grafana"
