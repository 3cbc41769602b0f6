"""The chart under test: where it lives, the rendered release as a queryable list of dicts, what
its NetworkPolicies let through, and helm's refusals."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
CHART = REPO / "deploy" / "helm" / "casedesk"
CI_VALUES = CHART / "ci"
SERVICES = ("intake", "case", "sla", "escalation", "notify", "keys")
PORTS = {
    "intake": 50051,
    "case": 50052,
    "sla": 50053,
    "escalation": 50054,
    "notify": 50055,
    "keys": 50056,
}
# The key service's clients while nothing seals (the ci values): notify, wired to it whenever it is
# enabled, to open the sealed fields it sends with. Intake and the case service call it, with its
# address, only while they seal personal data (INTAKE_SEALING, SEALING; test_key_clients.py,
# test_sealing.py).
KEY_CLIENTS = ("notify",)
# The case service sealing citizens' personal data with the key service's keys.
SEALING = {"services": {"case": {"sealPersonalData": True}}}
# Intake sealing what it keeps of citizens (new attachments, its records) with the same keys.
INTAKE_SEALING = {"services": {"intake": {"sealPersonalData": True}}}
# Each service's Python package (the key service's: casedesk_keys is the library it owns).
MODULES = {**{s: f"casedesk_{s}" for s in SERVICES}, "keys": "casedesk_keyservice"}
# The plaintext health-only listener of every pod (values `healthPort`): probes and `helm test`.
HEALTH_PORT = 8086
# Every pod's Prometheus /metrics, plain HTTP (values `monitoring.metricsPort`).
METRICS_PORT = 9464
TLS_DIR = "/etc/casedesk/tls"
# Intake has no Kafka client: its effects reach Kafka through the case service's outbox.
KAFKA_CLIENTS = ("case", "sla", "escalation", "notify")
DATA_DIR = "/var/lib/casedesk"
# Kafka principals: each Kafka client as itself, admin for the topics Job (topics and ACLs).
KAFKA_PRINCIPALS = (*KAFKA_CLIENTS, "admin")
# Values for SASL_SSL with a Secret per principal, on top of ci/minimal-values.yaml (PLAINTEXT).
KAFKA_SASL = {
    "securityProtocol": "SASL_SSL",
    "sasl": {"credentials": {p: {"secretName": f"kafka-{p}"} for p in KAFKA_PRINCIPALS}},
}
RELEASE = "cd"
# Development values: every service's state in an emptyDir, acknowledged by the switch the schema
# demands for it.
EPHEMERAL = {
    "services": {s: {"persistence": {"enabled": False, "allowEphemeral": True}} for s in SERVICES}
}

Manifest = dict[str, Any]


class RenderError(Exception):
    """helm refused the values; the message is helm's stderr."""


def component_name(service: str) -> str:
    return f"{RELEASE}-casedesk-{service}"


@dataclass(frozen=True)
class Release:
    manifests: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def get(self, kind: str, name: str) -> Manifest:
        matches = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def has(self, kind: str, name: str) -> bool:
        return any(m["metadata"]["name"] == name for m in self.of_kind(kind))

    @property
    def desk(self) -> bool:
        """Whether the release runs the specialists' desk (values `desk`)."""
        return self.has("Deployment", component_name("desk"))

    def workloads(self) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] in ("Deployment", "StatefulSet")]

    def workload(self, service: str) -> Manifest:
        matches = [w for w in self.workloads() if w["metadata"]["name"] == component_name(service)]
        assert len(matches) == 1, f"expected one workload for {service}, found {len(matches)}"
        return matches[0]

    def container(self, service: str) -> Manifest:
        return self.workload(service)["spec"]["template"]["spec"]["containers"][0]

    def env(self, service: str) -> dict[str, Manifest]:
        return {e["name"]: e for e in self.container(service)["env"]}

    def value(self, service: str, variable: str) -> str:
        """The plain value of one of the service's variables."""
        return str(self.env(service)[variable]["value"])

    def secret_of(self, service: str, variable: str) -> tuple[str, str]:
        """(Secret name, key) a variable of the service is read from."""
        ref = self.env(service)[variable]["valueFrom"]["secretKeyRef"]
        return ref["name"], ref["key"]

    def volumes(self, service: str) -> dict[str, Manifest]:
        return {v["name"]: v for v in self.workload(service)["spec"]["template"]["spec"]["volumes"]}

    def mounts(self, service: str) -> dict[str, Manifest]:
        return {m["mountPath"]: m for m in self.container(service)["volumeMounts"]}

    def pod_specs(self) -> list[Manifest]:
        """Every pod spec the release can create: workloads, the hook Job and the test pod."""
        specs = [w["spec"]["template"]["spec"] for w in self.workloads()]
        specs += [j["spec"]["template"]["spec"] for j in self.of_kind("Job")]
        specs += [p["spec"] for p in self.of_kind("Pod")]
        return specs


# What a service's NetworkPolicy lets through.


def policy(release: Release, service: str) -> Manifest:
    found = release.get("NetworkPolicy", component_name(service))
    assert found["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert found["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == service
    return found


def peer_components(peers: list[dict[str, Any]]) -> set[str]:
    return {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for p in peers
        if "podSelector" in p and "namespaceSelector" not in p
    }


def ingress_on(release: Release, service: str, port: str) -> list[dict[str, Any]]:
    """The ingress rules of the service's policy that open the named container port."""
    rules = policy(release, service)["spec"]["ingress"]
    return [r for r in rules if r["ports"] == [{"port": port, "protocol": "TCP"}]]


def egress_ports(release: Release, service: str) -> set[int]:
    return {
        port["port"]
        for rule in policy(release, service)["spec"]["egress"]
        for port in rule["ports"]
    }


def egress_to(release: Release, service: str, peers: list[dict[str, Any]]) -> list[Any]:
    """The ports of the service's egress rules towards exactly these peers."""
    rules = policy(release, service)["spec"]["egress"]
    return [rule["ports"] for rule in rules if rule.get("to") == peers]


def egress_to_keys(release: Release, service: str) -> list[dict[str, Any]]:
    """The service's egress rules towards the key service's pods (and nothing else)."""
    return [
        rule
        for rule in policy(release, service)["spec"]["egress"]
        if peer_components(rule.get("to", [])) == {"keys"}
    ]


# helm's refusals of values on top of ci/minimal-values.yaml.

SCHEMA_REFUSAL = "don't meet the specifications of the schema"


def refusal(render: Callable[..., Release], values: dict[str, Any]) -> str:
    """helm's message refusing the minimal values with `values` on top (the render must fail)."""
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=values)
    return str(refused.value)


def schema_refusal(render: Callable[..., Release], values: dict[str, Any]) -> str:
    """helm's message refusing `values` by values.schema.json (rather than by a template)."""
    message = refusal(render, values)
    assert SCHEMA_REFUSAL in message
    return message
