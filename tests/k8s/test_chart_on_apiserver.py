"""The chart installed on a real kube-apiserver under the restricted Pod Security standard.

The template tests (deploy/helm/tests) check what the chart renders; these check that Kubernetes
takes it: every object passes the API's schemas, defaulting and admission with nothing dropped and
no warning (Pod Security is enforced and warned in the namespace, unknown fields are warned about),
the controllers create every workload's pods (so Pod Security's enforcement sees the real pods) and
the StatefulSets' claims, and the release installs, upgrades, rolls back and uninstalls leaving its
data claims behind.

There is no scheduler and no kubelet: pods stay Pending. The topics Job, a pre-install and
pre-upgrade hook, runs through Helm's real hook flow with its pods completed by a stand-in kubelet
(controlplane.StandInKubelet): its command, which needs the images and Kafka, does not run. The
`helm test` pod is not run (its result would mean nothing without the services): it and its
ConfigMap are submitted in a server-side dry run, which applies the same validation and admission,
Pod Security's enforcement included, without storing them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane, StandInKubelet, eventually
from helmcli import CHART, CI_VALUES, Helm
from release_objects import (
    MINIMAL_PREREQUISITES,
    PRODUCTION_CLUSTER_OBJECTS,
    PRODUCTION_PREREQUISITES,
    RELEASE,
    SERVICES,
    Manifest,
    differences,
    produced,
    references,
)

# The first test of a session waits for the control plane (and, when `make k8s-test` did not
# build them first, for the binaries): more than pytest's default per-test timeout.
pytestmark = pytest.mark.timeout(1200)

VALUE_SETS = {
    "minimal-values.yaml": (MINIMAL_PREREQUISITES, []),
    "production-values.yaml": (PRODUCTION_PREREQUISITES, PRODUCTION_CLUSTER_OBJECTS),
}
# An upgrade that changes a rendered value, to see it reach the server and go back on rollback,
# and turns the case service's sealing on (issue #18): its pods then mount the key service's index
# key, and both services' NetworkPolicies change.
UPGRADE = (
    "--set-json",
    "services.case.relayPaceSeconds=0.5",
    "--set-json",
    "services.case.sealPersonalData=true",
)
TOPICS_JOB = f"{RELEASE}-topics"
TOPICS_PODS = "app.kubernetes.io/component=topics"
# Helm waits this long for the hook Job; the stand-in completes its pod within a second or two.
HOOK_TIMEOUT = "120s"


def case_pod_template(plane: ControlPlane, namespace: str) -> Manifest:
    selector = "app.kubernetes.io/component=case"
    workload = plane.get_json("-n", namespace, "deployments,statefulsets", "-l", selector)
    template: Manifest = workload["items"][0]["spec"]["template"]["spec"]
    return template


def case_relay_pace(plane: ControlPlane, namespace: str) -> str:
    (container,) = case_pod_template(plane, namespace)["containers"]
    return next(e["value"] for e in container["env"] if e["name"] == "CASEDESK_RELAY_PACE_S")


def case_seals(plane: ControlPlane, namespace: str) -> bool:
    """Whether the stored case template seals personal data, with the index key mounted."""
    template = case_pod_template(plane, namespace)
    (container,) = template["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounted = "keys-index" in {v["name"] for v in template["volumes"]}
    assert (env.get("CASEDESK_SEAL_PERSONAL_DATA") == "true") == mounted
    return mounted and env["CASEDESK_KEY_SERVICE_ADDRESS"] == f"{RELEASE}-keys:50056"


def assert_references_exist(plane: ControlPlane, namespace: str, manifests: list[Manifest]) -> None:
    """Every Secret and ConfigMap the pods read exists, or comes with the release (cert-manager
    writes the Certificates' Secrets)."""
    for kind, name in sorted(references(manifests) - produced(manifests)):
        found = plane.kubectl("get", "-n", namespace, kind.lower(), name, check=False)
        assert found.returncode == 0, f"the release reads {kind} {name}, which does not exist"


def stored(plane: ControlPlane, namespace: str, manifests: list[Manifest]) -> list[Manifest]:
    """The API server's copy of each object, in order; kubectl fails on any that is missing."""
    listing = plane.kubectl(
        "get", "-n", namespace, "-f", "-", "-o", "json", stdin=yaml.safe_dump_all(manifests)
    )
    loaded = yaml.safe_load(listing.stdout)
    items: list[Manifest] = loaded["items"] if loaded.get("kind") == "List" else [loaded]
    return items


def assert_accepted_as_sent(plane: ControlPlane, namespace: str, manifests: list[Manifest]) -> None:
    server_copies = stored(plane, namespace, manifests)
    assert len(server_copies) == len(manifests)
    for sent, kept in zip(manifests, server_copies, strict=True):
        name = f"{sent['kind']}/{sent['metadata']['name']}"
        assert (kept["kind"], kept["metadata"]["name"]) == (sent["kind"], sent["metadata"]["name"])
        assert kept["metadata"]["uid"], name
        assert differences(sent, kept) == [], name


def assert_no_warnings(done: Any, what: str) -> None:
    assert done.returncode == 0, f"{what} failed:\n{done.stderr}"
    # The API server's warnings (Pod Security's "would violate", unknown or duplicate fields,
    # deprecated APIs) reach helm's and kubectl's stderr; a clean run prints nothing there.
    assert done.stderr == "", f"{what} printed warnings:\n{done.stderr}"


def selector_of(workload: Manifest) -> str:
    return ",".join(f"{k}={v}" for k, v in workload["spec"]["selector"]["matchLabels"].items())


def refused_pods(plane: ControlPlane, namespace: str) -> list[str]:
    """What the controllers were refused when they created pods (admission, quota, ...)."""
    events = plane.get_json("-n", namespace, "events", "--field-selector", "reason=FailedCreate")
    return [e["message"] for e in events["items"]]


def assert_pods_admitted(plane: ControlPlane, namespace: str, manifests: list[Manifest]) -> None:
    """Each workload's controller created all its pods: none was refused by admission."""
    for workload in (m for m in manifests if m["kind"] in ("Deployment", "StatefulSet")):
        kind, name = workload["kind"].lower(), workload["metadata"]["name"]
        selector = selector_of(workload)

        def complete(kind: str = kind, name: str = name, selector: str = selector) -> bool:
            # Re-read the replicas: an autoscaler may raise them to its minimum meanwhile.
            wanted = plane.get_json("-n", namespace, kind, name)["spec"]["replicas"]
            pods = plane.get_json("-n", namespace, "pods", "-l", selector)["items"]
            return len(pods) == wanted or bool(refused_pods(plane, namespace))

        eventually(complete, f"the pods of {kind}/{name}")
        assert refused_pods(plane, namespace) == []


def case_pods_with_relay_pace(plane: ControlPlane, namespace: str, pace: str) -> int:
    pods = plane.get_json("-n", namespace, "pods", "-l", "app.kubernetes.io/component=case")
    return sum(
        1
        for pod in pods["items"]
        for variable in pod["spec"]["containers"][0]["env"]
        if variable == {"name": "CASEDESK_RELAY_PACE_S", "value": pace}
    )


def claims(plane: ControlPlane, namespace: str) -> list[str]:
    listing = plane.get_json("-n", namespace, "persistentvolumeclaims")
    return sorted(c["metadata"]["name"] for c in listing["items"])


def statefulset_claims(manifests: list[Manifest]) -> list[str]:
    return sorted(
        f"{template['metadata']['name']}-{m['metadata']['name']}-{ordinal}"
        for m in manifests
        if m["kind"] == "StatefulSet"
        for template in m["spec"]["volumeClaimTemplates"]
        for ordinal in range(m["spec"]["replicas"])
    )


def install(helm: Helm, plane: ControlPlane, namespace: str, *args: str) -> str:
    """helm install or upgrade, the topics hook completed by the stand-in kubelet."""
    with StandInKubelet(plane, namespace, TOPICS_PODS) as kubelet:
        done = helm.run(*args, "-n", namespace, "--timeout", HOOK_TIMEOUT)
    assert_no_warnings(done, f"helm {args[0]}")
    # The Job controller created the hook's pod, Pod Security admitted it, the Job completed,
    # and Helm deleted it (hook-delete-policy: hook-succeeded).
    assert kubelet.completed, "the topics hook ran no pod"
    gone = plane.kubectl("get", "-n", namespace, "job", TOPICS_JOB, check=False)
    assert "NotFound" in gone.stderr
    return done.stdout


@pytest.mark.parametrize("values_name", list(VALUE_SETS))
def test_release_lifecycle_under_restricted_pod_security(
    control_plane: ControlPlane, helm: Helm, namespace: str, values_name: str
) -> None:
    prerequisites, cluster_objects = VALUE_SETS[values_name]
    if cluster_objects:
        control_plane.apply(*cluster_objects)
    control_plane.apply(*prerequisites, namespace=namespace)
    values = ("-f", str(CI_VALUES / values_name))

    notes = install(helm, control_plane, namespace, "install", RELEASE, str(CHART), *values)
    assert "keep their local state" not in notes, "a store is ephemeral by default"
    manifests = helm.manifests("manifest", RELEASE, namespace)
    kinds = {m["kind"] for m in manifests}
    assert {"Service", "NetworkPolicy", "PodDisruptionBudget", "StatefulSet"} <= kinds
    if values_name == "production-values.yaml":
        # The desk: its Deployment (whose pod Pod Security admits below) behind an Ingress.
        assert "Ingress" in kinds
        assert f"{RELEASE}-desk" in {m["metadata"]["name"] for m in manifests}
        # Monitoring on a cluster serving the Prometheus Operator's CRDs: helm saw them among the
        # server's APIs, and the objects pass the CRDs' schemas (checked below as for the rest).
        monitors = [m for m in manifests if m["kind"] == "ServiceMonitor"]
        assert len(monitors) == len(SERVICES) + 1  # and the desk's
        assert f"{RELEASE}-desk" in {m["metadata"]["name"] for m in monitors}
        assert [m["kind"] for m in manifests].count("PrometheusRule") == 1
        assert f"{RELEASE}-dashboard" in {m["metadata"]["name"] for m in manifests}
        assert "ServiceMonitor: rendered" in notes and "PrometheusRule: rendered" in notes
    else:
        assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert_accepted_as_sent(control_plane, namespace, manifests)
    assert_pods_admitted(control_plane, namespace, manifests)
    assert_references_exist(control_plane, namespace, manifests)
    # The StatefulSets' claims, one per pod, and the shared claim of the release.
    shared = [m["metadata"]["name"] for m in manifests if m["kind"] == "PersistentVolumeClaim"]
    data_claims = sorted(statefulset_claims(manifests) + shared)
    eventually(lambda: claims(control_plane, namespace) == data_claims, "the data claims")

    # `helm test`'s pod and ConfigMap, which are hooks too.
    tests = [h for h in helm.manifests("hooks", RELEASE, namespace) if h["kind"] != "Job"]
    assert {h["kind"] for h in tests} == {"Pod", "ConfigMap"}
    dry_run = control_plane.kubectl(
        "apply",
        "-n",
        namespace,
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(tests),
        check=False,
    )
    assert_no_warnings(dry_run, "server-side dry run of the test hooks")

    assert case_relay_pace(control_plane, namespace) == "0.02"
    assert not case_seals(control_plane, namespace)
    install(helm, control_plane, namespace, "upgrade", RELEASE, str(CHART), *values, *UPGRADE)
    assert case_relay_pace(control_plane, namespace) == "0.5"
    assert case_seals(control_plane, namespace)
    upgraded = helm.manifests("manifest", RELEASE, namespace)
    assert_accepted_as_sent(control_plane, namespace, upgraded)
    assert_references_exist(control_plane, namespace, upgraded)
    # The new revision's first pod: created and admitted. (The rollout stops there: a pod that
    # never runs never becomes ready, so a rolling update surges one pod and waits.)
    eventually(
        lambda: case_pods_with_relay_pace(control_plane, namespace, "0.5") > 0,
        "a case pod of the upgraded template",
    )
    assert refused_pods(control_plane, namespace) == []

    rolled_back = helm.run("rollback", RELEASE, "1", "-n", namespace)
    assert_no_warnings(rolled_back, "helm rollback")
    assert case_relay_pace(control_plane, namespace) == "0.02"
    assert not case_seals(control_plane, namespace)
    history = helm.history(RELEASE, namespace)
    assert [(r["revision"], r["status"]) for r in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]

    uninstalled = helm.run("uninstall", RELEASE, "-n", namespace)
    assert_no_warnings(uninstalled, "helm uninstall")
    # Every object of the release is gone, and the garbage collector removes the pods, but the
    # data stays: the StatefulSets' claims by their retention policy, a shared claim by
    # helm.sh/resource-policy=keep (which keeps the claim object itself).
    kept = [
        f"{m['kind'].lower()}/{m['metadata']['name']}"
        for m in manifests
        if m["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep"
    ]
    left = control_plane.kubectl(
        "get",
        "-n",
        namespace,
        "--ignore-not-found",
        "-f",
        "-",
        "-o",
        "name",
        stdin=yaml.safe_dump_all(manifests),
    )
    assert sorted(left.stdout.split()) == sorted(kept)
    assert kept == (
        ["persistentvolumeclaim/casedesk-intake-data"]
        if values_name == "production-values.yaml"
        else []
    )
    eventually(
        lambda: control_plane.get_json("-n", namespace, "pods")["items"] == [],
        "the release's pods deleted",
    )
    assert claims(control_plane, namespace) == data_claims


def test_namespace_refuses_and_warns_about_unrestricted_pods(
    control_plane: ControlPlane, namespace: str
) -> None:
    # The control that makes "no warnings" above meaningful: the same namespace refuses a pod and
    # warns about a workload that do not meet the restricted standard.
    container = {"name": "app", "image": "casedesk/case:0.1.0"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "unrestricted"},
        "spec": {"containers": [container]},
    }
    refused = control_plane.kubectl(
        "apply",
        "-n",
        namespace,
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump(pod),
        check=False,
    )
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    labels = {"app": "unrestricted"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "unrestricted"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod["spec"]},
        },
    }
    warned = control_plane.kubectl(
        "apply",
        "-n",
        namespace,
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump(deployment),
        check=False,
    )
    assert warned.returncode == 0, warned.stderr
    assert 'would violate PodSecurity "restricted:latest"' in warned.stderr


def assert_refused_without_a_trace(
    plane: ControlPlane, helm: Helm, namespace: str, done: Any
) -> str:
    assert done.returncode != 0, "helm install accepted mistaken values"
    workloads = plane.get_json("-n", namespace, "deployments,statefulsets,jobs")
    assert workloads["items"] == []
    return str(done.stderr)


def test_values_with_a_mistake_are_refused_by_the_schema(
    control_plane: ControlPlane,
    helm: Helm,
    namespace: str,
    values_file: Callable[[str], Path],
) -> None:
    # A misspelt key would otherwise be ignored, and the release would run with one pod.
    mistaken = values_file("services:\n  case:\n    replica: 3\n")
    done = helm.run(
        "install",
        RELEASE,
        str(CHART),
        "-n",
        namespace,
        "-f",
        str(CI_VALUES / "minimal-values.yaml"),
        "-f",
        str(mistaken),
        "--no-hooks",
    )
    stderr = assert_refused_without_a_trace(control_plane, helm, namespace, done)
    assert "values don't meet the specifications of the schema" in stderr
    assert "additional properties 'replica' not allowed" in stderr
    assert helm.run("status", RELEASE, "-n", namespace).returncode != 0, "a release was recorded"


def test_values_with_a_mistake_are_refused_by_the_api_server(
    control_plane: ControlPlane,
    helm: Helm,
    namespace: str,
    values_file: Callable[[str], Path],
) -> None:
    # A memory request above the limit passes the values schema (each is a valid quantity) and
    # renders; only the API server's validation of the pod template catches it.
    mistaken = values_file(
        "services:\n  sla:\n    resources:\n"
        "      requests: {cpu: 100m, memory: 2Gi}\n      limits: {memory: 1Gi}\n"
    )
    args = ["-n", namespace, "-f", str(CI_VALUES / "minimal-values.yaml"), "-f", str(mistaken)]
    assert helm.run("template", RELEASE, str(CHART), *args).returncode == 0
    done = helm.run("install", RELEASE, str(CHART), *args, "--no-hooks")
    assert done.returncode != 0, "helm install accepted mistaken values"
    assert "must be less than or equal to memory limit" in done.stderr
    # Helm records the failed release; its objects that were accepted stay until it is removed.
    status = helm.run("status", RELEASE, "-n", namespace, "-o", "json")
    assert yaml.safe_load(status.stdout)["info"]["status"] == "failed"
    assert helm.run("uninstall", RELEASE, "-n", namespace, "--no-hooks").returncode == 0


def test_ephemeral_stores_need_the_switch_and_are_announced(
    control_plane: ControlPlane, helm: Helm, namespace: str, values_file: Callable[[str], Path]
) -> None:
    control_plane.apply(*MINIMAL_PREREQUISITES, namespace=namespace)
    args = ["-n", namespace, "-f", str(CI_VALUES / "minimal-values.yaml"), "--no-hooks"]
    without_switch = values_file("services:\n  notify:\n    persistence: {enabled: false}\n")
    refused = helm.run("install", RELEASE, str(CHART), *args, "-f", str(without_switch))
    assert refused.returncode != 0
    assert "at '/services/notify/persistence/allowEphemeral': value must be true" in refused.stderr

    ephemeral = values_file(
        "services:\n"
        + "".join(
            f"  {s}:\n    persistence: {{enabled: false, allowEphemeral: true}}\n" for s in SERVICES
        )
    )
    installed = helm.run("install", RELEASE, str(CHART), *args, "-f", str(ephemeral))
    assert_no_warnings(installed, "helm install")
    # NOTES.txt names every service whose state dies with its pod.
    assert (
        "WARNING: case, escalation, intake, keys, notify, sla keep their local state"
        in installed.stdout
    )
    assert "The key service's SQLite file holds every citizen's data key" in installed.stdout
    assert claims(control_plane, namespace) == []
    assert control_plane.get_json("-n", namespace, "statefulsets")["items"] == []
    assert helm.run("uninstall", RELEASE, "-n", namespace).returncode == 0
