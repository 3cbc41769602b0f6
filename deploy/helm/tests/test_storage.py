"""Local state and mounted files: where each service may write, and what survives a restart."""

from __future__ import annotations

from typing import Any

from helmchart import DATA_DIR, SERVICES, Release, component_name


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


def test_without_persistence_state_lives_in_an_empty_dir(minimal: Release) -> None:
    for service in SERVICES:
        assert minimal.workload(service)["kind"] == "Deployment"
        volume = data_volume(minimal, service)
        assert volume is not None and volume["emptyDir"] == {"sizeLimit": "1Gi"}
    assert minimal.of_kind("StatefulSet") == []


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
