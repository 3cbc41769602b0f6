"""Local state and mounted files: where each service may write, and what survives a restart.

Defaults that cannot lose data: every service keeping local state has it on a claim unless the
values say, service by service, that losing it is acceptable (persistence.allowEphemeral, for
development); the schema refuses an emptyDir without that switch.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import yaml
from helmchart import CHART, DATA_DIR, EPHEMERAL, SERVICES, Release, RenderError, component_name

# Services keeping their state in the data volume whatever database.backend says.
ALWAYS_LOCAL = ("intake", "sla", "notify")
# Services whose store follows database.backend: local on sqlite, nothing local on postgres.
FOLLOW_BACKEND = ("case", "escalation")
POSTGRES = {
    "backend": "postgres",
    "postgres": {"host": "pg.example", "existingSecret": "casedesk-postgres"},
}


def data_volume(release: Release, service: str) -> dict[str, Any] | None:
    """The pod volume named "data", or None when it comes from a volumeClaimTemplate."""
    volumes = release.workload(service)["spec"]["template"]["spec"]["volumes"]
    return next((v for v in volumes if v["name"] == "data"), None)


def test_every_service_works_in_its_data_volume(release: Release) -> None:
    for service in SERVICES:
        container = release.container(service)
        assert container["workingDir"] == DATA_DIR
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts[DATA_DIR] == "data"


def test_chart_defaults_persist_every_service() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for service in SERVICES:
        persistence = values["services"][service]["persistence"]
        assert persistence["enabled"] is True, service
        assert persistence["allowEphemeral"] is False, service


def test_by_default_every_store_is_on_a_claim_per_pod(minimal: Release) -> None:
    # ci/minimal-values.yaml says nothing about persistence: these are the chart's defaults.
    for service in SERVICES:
        workload = minimal.workload(service)
        assert workload["kind"] == "StatefulSet", service
        (claim,) = workload["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
        # No storageClassName: the cluster's default StorageClass.
        assert "storageClassName" not in claim["spec"]
        assert data_volume(minimal, service) is None, service


@pytest.mark.parametrize(
    ("service", "database"),
    [*((s, {}) for s in ALWAYS_LOCAL), *((s, POSTGRES) for s in ALWAYS_LOCAL)]
    + [(s, {}) for s in FOLLOW_BACKEND],
)
def test_schema_refuses_an_ephemeral_store_without_the_development_switch(
    render: Any, service: str, database: dict[str, Any]
) -> None:
    values: dict[str, Any] = {"services": {service: {"persistence": {"enabled": False}}}}
    if database:
        values["database"] = database
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=values)
    message = str(refused.value)
    assert "values don't meet the specifications of the schema" in message
    assert f"at '/services/{service}/persistence/allowEphemeral': value must be true" in message
    # Only the service asked about is refused: the others keep their default claims.
    assert message.count("allowEphemeral") == 1


def test_with_the_development_switch_state_lives_in_an_empty_dir(render: Any) -> None:
    ephemeral: Release = render("minimal-values.yaml", values=EPHEMERAL)
    for service in SERVICES:
        assert ephemeral.workload(service)["kind"] == "Deployment"
        volume = data_volume(ephemeral, service)
        assert volume is not None and volume["emptyDir"] == {"sizeLimit": "1Gi"}
    assert ephemeral.of_kind("StatefulSet") == []
    assert ephemeral.of_kind("PersistentVolumeClaim") == []


def test_a_disabled_service_needs_no_volume(render: Any) -> None:
    values = {"services": {"sla": {"enabled": False, "persistence": {"enabled": False}}}}
    released: Release = render("minimal-values.yaml", values=values)
    assert "sla" not in {
        w["metadata"]["labels"]["app.kubernetes.io/component"] for w in released.workloads()
    }


def test_on_postgres_case_and_escalation_keep_nothing_locally(render: Any) -> None:
    # persistence.enabled (default true) would only buy an empty claim per pod: the store is in
    # PostgreSQL, so the working directory is an emptyDir and no switch is needed to say so.
    for persistence in ({}, {"enabled": False}):
        services = {s: {"persistence": persistence} for s in FOLLOW_BACKEND}
        released: Release = render(
            "minimal-values.yaml", values={"database": POSTGRES, "services": services}
        )
        for service in FOLLOW_BACKEND:
            assert released.workload(service)["kind"] == "Deployment", service
            volume = data_volume(released, service)
            assert volume is not None and "emptyDir" in volume, service
        for service in ALWAYS_LOCAL:
            assert released.workload(service)["kind"] == "StatefulSet", service


def supports_postgres(service: str) -> bool:
    """Whether the service's settings offer a PostgreSQL store (case: eventsourcing's, by
    PERSISTENCE_MODULE, which its settings class does not declare)."""
    if service in ("case", "keys"):
        # keys: casedesk_keys' store URL, a SQLite path or a postgresql:// URL
        # (CASEDESK_KEYS_STORE_URL, libs/keys/README.md "Settings").
        return True
    module = importlib.import_module(f"casedesk_{service}.settings")
    fields = {
        name
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == module.__name__
        for name in getattr(value, "model_fields", {})
    }
    return any("postgres" in name or "database_url" in name for name in fields)


def test_production_keeps_state_in_postgresql_wherever_a_service_can(production: Release) -> None:
    selected = {
        "case": production.value("case", "PERSISTENCE_MODULE") == "eventsourcing.postgres",
        "escalation": production.value("escalation", "CASEDESK_ESCALATION_STORE") == "postgres",
        "intake": production.secret_of("intake", "CASEDESK_DATABASE_URL")
        == ("casedesk-intake", "database-url"),
        "keys": production.secret_of("keys", "CASEDESK_KEYS_STORE_URL")
        == ("casedesk-keys", "store-url"),
        "sla": False,
        "notify": False,
    }
    for service in SERVICES:
        assert selected[service] == supports_postgres(service), service
    # What has no PostgreSQL store is on a claim per pod (intake: its attachments, on the shared
    # ReadWriteMany claim).
    for service in ("sla", "notify"):
        assert production.workload(service)["kind"] == "StatefulSet", service


def test_single_pod_stores_get_a_claim_per_pod(production: Release) -> None:
    for service, size in {"sla": "10Gi", "notify": "5Gi"}.items():
        workload = production.workload(service)
        assert workload["kind"] == "StatefulSet"
        assert workload["spec"]["replicas"] == 1
        assert workload["spec"]["serviceName"] == component_name(service)
        assert workload["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Retain",
            "whenScaled": "Retain",
        }
        (claim,) = workload["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert claim["spec"]["resources"]["requests"]["storage"] == size
        assert claim["spec"]["storageClassName"] == "ssd"
        assert data_volume(production, service) is None
    for service in ("case", "escalation"):
        assert production.workload(service)["kind"] == "Deployment"


def test_intake_pods_share_one_read_write_many_claim(production: Release) -> None:
    workload = production.workload("intake")
    assert workload["kind"] == "Deployment"
    claim = production.get("PersistentVolumeClaim", f"{component_name('intake')}-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    # Kept on uninstall, like the StatefulSets' claims: attachments are citizens' documents.
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    volume = data_volume(production, "intake")
    assert volume == {
        "name": "data",
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }
    assert production.value("intake", "CASEDESK_ATTACHMENTS_DIR").startswith(DATA_DIR + "/")
    assert [c["metadata"]["name"] for c in production.of_kind("PersistentVolumeClaim")] == [
        claim["metadata"]["name"]
    ]


def test_autoscaler_targets_the_workload(production: Release) -> None:
    hpa = production.get("HorizontalPodAutoscaler", component_name("intake"))
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": component_name("intake"),
    }


def test_calendar_overrides_are_a_file_of_the_sla_pod(production: Release) -> None:
    config = production.get("ConfigMap", f"{component_name('sla')}-files")
    overrides = config["data"]["calendar-overrides.toml"]
    assert overrides == (
        "holidays = [2027-01-11]\nworking_days = [2027-02-20]\nshortened_days = [2027-02-20]\n"
    )
    path = production.value("sla", "CASEDESK_SLA_CALENDAR_OVERRIDES")
    assert path == "/etc/casedesk/files/calendar-overrides.toml"
    assert production.mounts("sla")["/etc/casedesk/files"]["readOnly"] is True
    annotations = production.workload("sla")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/files" in annotations


def test_without_calendar_overrides_sla_uses_the_built_in_calendar(minimal: Release) -> None:
    assert "CASEDESK_SLA_CALENDAR_OVERRIDES" not in minimal.env("sla")
    assert minimal.of_kind("ConfigMap") == [
        minimal.get("ConfigMap", component_name("health-check"))
    ]


def test_files_are_mounted_read_only_and_roll_the_pods(render: Any) -> None:
    def release_with(policy: str) -> Release:
        files = {"services": {"escalation": {"files": {"policy.toml": policy}}}}
        rendered: Release = render("minimal-values.yaml", values=files)
        return rendered

    first, second = release_with('version = "2026-01"\n'), release_with('version = "2026-02"\n')
    config = first.get("ConfigMap", f"{component_name('escalation')}-files")
    assert config["data"] == {"policy.toml": 'version = "2026-01"\n'}
    mounts = {m["mountPath"]: m for m in first.container("escalation")["volumeMounts"]}
    assert mounts["/etc/casedesk/files"]["readOnly"] is True

    def checksum(release: Release) -> str:
        annotations = release.workload("escalation")["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/files"])

    assert checksum(first) != checksum(second)
    assert "/etc/casedesk/files" not in {
        m["mountPath"] for m in first.container("notify")["volumeMounts"]
    }
