"""What a release needs in its namespace beforehand, and how to compare what helm sent with what
the API server stored."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

Manifest = dict[str, Any]

RELEASE = "casedesk"
SERVICES = ("intake", "case", "sla", "escalation", "notify", "keys")
KAFKA_PRINCIPALS = ("case", "sla", "escalation", "notify", "admin")
# Placeholders: nothing runs, so no credential or certificate is ever read. Only names and keys
# matter, and that every Secret the release refers to exists, as deploy/README.md asks of an SRE.
PLACEHOLDER = "placeholder"
MASTER_KEY = base64.b64encode(bytes(32)).decode()


def secret(name: str, **data: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "stringData": data,
    }


def tls_secret(service: str) -> Manifest:
    files = {"tls.crt": PLACEHOLDER, "tls.key": PLACEHOLDER, "ca.crt": PLACEHOLDER}
    return secret(f"{RELEASE}-{service}-tls", **files)


# ci/minimal-values.yaml: intake's master key, the key service's KEK (a version per key) and index
# key and, in tls.mode secrets, each service's certificate.
MINIMAL_PREREQUISITES = [
    secret("casedesk-intake", **{"master-key": MASTER_KEY}),
    secret("casedesk-kek", **{"casedesk-kek.v1": MASTER_KEY}),
    secret("casedesk-keys", **{"index-key": MASTER_KEY}),
    *(tls_secret(service) for service in SERVICES),
]

# ci/production-values.yaml, as deploy/README.md's install section creates them; the services'
# certificates come from cert-manager (tls.mode certManager).
PRODUCTION_PREREQUISITES = [
    *(secret(f"casedesk-kafka-{p}", username=p, password=PLACEHOLDER) for p in KAFKA_PRINCIPALS),
    secret("casedesk-kafka-ca", **{"ca.crt": PLACEHOLDER}),
    secret("casedesk-postgres", username="casedesk", password=PLACEHOLDER),
    secret("casedesk-smtp", username="casedesk", password=PLACEHOLDER),
    secret("casedesk-sms", token=PLACEHOLDER),
    secret("casedesk-telegram", token=PLACEHOLDER),
    secret("casedesk-vk", token=PLACEHOLDER),
    secret(
        "casedesk-intake",
        **{"master-key": MASTER_KEY, "database-url": "postgresql://intake:x@pg:5432/casedesk"},
    ),
    secret("casedesk-frontends", **{"frontends.toml": ""}),
    secret("casedesk-case-cipher", **{"cipher-key": MASTER_KEY}),
    # The key service: its index key and store; the KEK stays in the HSM, opened with the PIN.
    secret(
        "casedesk-keys",
        **{"index-key": MASTER_KEY, "store-url": "postgresql://keys:x@pg:5432/casedesk"},
    ),
    secret("casedesk-hsm", pin=PLACEHOLDER),
    # The desk's public host, served by the ingress controller (desk.ingress.tlsSecretName).
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "casedesk-desk-public-tls"},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": PLACEHOLDER, "tls.key": PLACEHOLDER},
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "casedesk-registry"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json.dumps({"auths": {}})},
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "casedesk-internal-ca"},
        "data": {"ca.crt": PLACEHOLDER},
    },
]
# Cluster-scoped, the cluster administrators': production-values.yaml's priorityClassName.
PRODUCTION_CLUSTER_OBJECTS = [
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "casedesk-critical"},
        "value": 1_000_000,
        "globalDefault": False,
    }
]


def pod_specs(manifest: Manifest) -> Iterator[Manifest]:
    kind, spec = manifest["kind"], manifest.get("spec", {})
    if kind == "Pod":
        yield spec
    elif kind in ("Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"):
        yield spec["template"]["spec"]
    elif kind == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]


def references(manifests: list[Manifest]) -> set[tuple[str, str]]:
    """(kind, name) of every Secret and ConfigMap the release's pods read."""
    found: set[tuple[str, str]] = set()
    for manifest in manifests:
        for spec in pod_specs(manifest):
            found |= {("Secret", s["name"]) for s in spec.get("imagePullSecrets", [])}
            for container in spec.get("initContainers", []) + spec["containers"]:
                for variable in container.get("env", []):
                    source = variable.get("valueFrom", {})
                    if "secretKeyRef" in source:
                        found.add(("Secret", source["secretKeyRef"]["name"]))
                    if "configMapKeyRef" in source:
                        found.add(("ConfigMap", source["configMapKeyRef"]["name"]))
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    found.add(("Secret", volume["secret"]["secretName"]))
                if "configMap" in volume:
                    found.add(("ConfigMap", volume["configMap"]["name"]))
    return found


def produced(manifests: list[Manifest]) -> set[tuple[str, str]]:
    """Secrets and ConfigMaps the release brings itself, or has cert-manager write."""
    own = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    issued = {("Secret", m["spec"]["secretName"]) for m in manifests if m["kind"] == "Certificate"}
    return own | issued


def differences(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Where the stored object lost or changed what was sent. The server may add (defaults,
    status, metadata), never drop: a dropped field is one the API silently ignored."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [f"{path}: sent an object, stored {stored!r}"]
        found = []
        for key, value in sent.items():
            if key not in stored:
                found.append(f"{path}.{key}: dropped")
            else:
                found += differences(value, stored[key], f"{path}.{key}")
        return found
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [f"{path}: sent {sent!r}, stored {stored!r}"]
        return [
            d for i, item in enumerate(sent) for d in differences(item, stored[i], f"{path}[{i}]")
        ]
    if sent != stored and str(sent) != str(stored):
        return [f"{path}: sent {sent!r}, stored {stored!r}"]
    return []
