"""Helm hooks: Kafka topics are provisioned before install/upgrade; `helm test` checks health."""

from __future__ import annotations

from typing import Any

from helmchart import HEALTH_PORT, SERVICES, Release, component_name


def test_topics_job_runs_before_install_and_upgrade(release: Release) -> None:
    job = release.get("Job", component_name("topics"))
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    # The release's ServiceAccount does not exist yet when a pre-install hook runs.
    assert "serviceAccountName" not in pod
    # Topics first (the only step, or the init container before the ACL grants: test_kafka.py).
    topics = [*pod.get("initContainers", []), *pod["containers"]][0]
    assert topics["command"][0] == "casedesk-topics"
    assert topics["image"].split("/")[-1].startswith("case:")


def test_topics_job_uses_the_release_kafka_settings(production: Release) -> None:
    job = production.get("Job", component_name("topics"))
    (container,) = job["spec"]["template"]["spec"]["initContainers"]
    assert container["command"] == ["casedesk-topics", "--replication-factor", "3"]
    env = {e["name"]: e for e in container["env"]}
    workload_env = production.env("case")
    for name in (
        "CASEDESK_KAFKA_BOOTSTRAP_SERVERS",
        "CASEDESK_KAFKA_SECURITY_PROTOCOL",
        "CASEDESK_KAFKA_SASL_MECHANISM",
        "CASEDESK_KAFKA_SSL_CAFILE",
    ):
        assert env[name] == workload_env[name], name
    # Its own principal, not a service's (test_kafka.py).
    assert env["CASEDESK_KAFKA_SASL_PASSWORD"] != workload_env["CASEDESK_KAFKA_SASL_PASSWORD"]


def test_topics_job_can_be_left_to_the_kafka_team(render: Any) -> None:
    released = render("minimal-values.yaml", values={"kafka": {"topics": {"provision": False}}})
    assert released.of_kind("Job") == []


def test_helm_test_pod_checks_every_enabled_service(release: Release) -> None:
    pod = release.get("Pod", component_name("health-check"))
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    targets = [arg for arg in container["command"] if "=" in arg]
    # The plaintext health listeners: the gRPC ports want a client certificate.
    assert targets == sorted(f"{s}={component_name(s)}:{HEALTH_PORT}" for s in SERVICES)
    script = release.get("ConfigMap", component_name("health-check"))
    assert script["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert "grpc_health" in script["data"]["health_check.py"]
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert any(container["command"][1].startswith(path) for path in mounted)


def test_helm_test_skips_disabled_services(render: Any) -> None:
    released = render("minimal-values.yaml", values={"services": {"sla": {"enabled": False}}})
    pod = released.get("Pod", component_name("health-check"))
    targets = [arg.split("=")[0] for arg in pod["spec"]["containers"][0]["command"] if "=" in arg]
    assert targets == ["case", "escalation", "intake", "keys", "notify"]
    assert [w for w in released.workloads() if w["metadata"]["name"].endswith("-sla")] == []
