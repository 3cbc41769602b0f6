"""NetworkPolicies: only intake is reachable from outside; each service reaches what it needs."""

from __future__ import annotations

from typing import Any

import yaml
from helmchart import (
    CI_VALUES,
    KAFKA_CLIENTS,
    KEY_CLIENTS,
    PORTS,
    SERVICES,
    Release,
    component_name,
    egress_ports,
    egress_to,
    ingress_on,
    peer_components,
    policy,
)


def production_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CI_VALUES / "production-values.yaml").read_text())
    return loaded


def test_every_service_has_a_policy(release: Release) -> None:
    names = {p["metadata"]["name"] for p in release.of_kind("NetworkPolicy")}
    desk = {component_name("desk")} if release.desk else set()
    assert names == {component_name(s) for s in SERVICES} | desk


def test_intake_accepts_any_source_unless_restricted(minimal: Release) -> None:
    (rule,) = ingress_on(minimal, "intake", "grpc")
    assert "from" not in rule


def test_intake_restricted_to_the_frontends_namespace_and_the_desk(production: Release) -> None:
    frontends, desk = ingress_on(production, "intake", "grpc")
    assert frontends["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "channel-frontends"}}}
    ]
    assert peer_components(desk["from"]) == {"desk"}, "the desk opens attachments at intake"


def test_internal_services_accept_only_their_callers(release: Release) -> None:
    expected: dict[str, set[str]] = {
        "case": {"intake", "escalation"} | ({"desk"} if release.desk else set()),
        "sla": set(),
        "escalation": set(),
        "notify": set(),
        # and the privacy officers' tools, networkPolicy.keysFrom (test_keys.py)
        "keys": set(KEY_CLIENTS),
    }
    for service, callers in expected.items():
        rules = ingress_on(release, service, "grpc")
        if not callers:
            assert rules == [], service
            continue
        (rule,) = rules
        assert peer_components(rule["from"]) == callers, service
        if service != "keys":
            assert all(set(peer) == {"podSelector"} for peer in rule["from"]), service


def test_only_the_test_pod_reaches_the_plaintext_health_port(release: Release) -> None:
    # The kubelet's probes come from the node, which common CNIs admit whatever the policy says.
    for service in SERVICES:
        policy_rules = policy(release, service)["spec"]["ingress"]
        grpc_rules = {"intake": 2 if release.desk else 1, "case": 1, "keys": 1}.get(service, 0)
        # Besides the gRPC rules: the health port's, and the metrics port's (test_monitoring.py).
        assert len(policy_rules) == grpc_rules + 2, service
        (rule,) = ingress_on(release, service, "health")
        assert rule["from"] == [
            {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/name": "casedesk",
                        "app.kubernetes.io/instance": "cd",
                        "app.kubernetes.io/component": "health-check",
                    }
                }
            }
        ], service


def test_more_peers_may_reach_the_health_port(render: Any) -> None:
    nodes = {"ipBlock": {"cidr": "10.0.0.0/24"}}
    released = render("minimal-values.yaml", values={"networkPolicy": {"healthFrom": [nodes]}})
    for service in SERVICES:
        (rule,) = ingress_on(released, service, "health")
        assert rule["from"][1:] == [nodes], service
        assert peer_components(rule["from"]) == {"health-check"}


def test_only_intake_and_escalation_may_call_case_and_only_its_clients_the_key_service(
    release: Release,
) -> None:
    for service in SERVICES:
        rules = policy(release, service)["spec"]["egress"]
        callees = {c for rule in rules for c in peer_components(rule.get("to", []))}
        expected = {"case"} if service in ("intake", "escalation") else set()
        expected |= {"keys"} if service in KEY_CLIENTS else set()
        assert callees == expected, service
        for callee in callees:
            (rule,) = [r for r in rules if peer_components(r.get("to", [])) == {callee}]
            assert rule["ports"] == [{"port": PORTS[callee], "protocol": "TCP"}]


def test_everyone_resolves_names_and_only_kafka_clients_reach_kafka(production: Release) -> None:
    for service in SERVICES:
        rules = policy(production, service)["spec"]["egress"]
        dns = [r for r in rules if {"port": 53, "protocol": "UDP"} in r["ports"]]
        assert dns and dns[0]["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
        kafka = [r for r in rules if r["ports"] == [{"port": 9093, "protocol": "TCP"}]]
        if service in KAFKA_CLIENTS:
            assert kafka[0]["to"] == [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}
            ]
        else:
            assert kafka == [], service


def test_postgres_only_for_services_connected_to_it(production: Release, minimal: Release) -> None:
    for service in SERVICES:
        reaches_postgres = 5432 in egress_ports(production, service)
        # intake through services.intake.databaseUrl, keys through services.keys.storeUrl, the
        # others through database.backend.
        assert reaches_postgres == (service in ("intake", "case", "escalation", "keys")), service
        assert 5432 not in egress_ports(minimal, service)


def test_only_notify_and_intake_reach_smtp_and_the_sms_gateway(production: Release) -> None:
    # notify for its messages, intake for its one-time codes (services/intake/README.md).
    np = production_values()["networkPolicy"]
    for service in SERVICES:
        smtp = egress_to(production, service, np["smtp"]["to"])
        sms = egress_to(production, service, np["smsGateway"]["to"])
        if service in ("notify", "intake"):
            assert smtp == [[{"port": 587, "protocol": "TCP"}]], service
            assert sms == [[{"port": 443, "protocol": "TCP"}]], service
        else:
            assert (smtp, sms) == ([], []), service


def test_only_notify_reaches_the_social_networks(production: Release) -> None:
    social = production_values()["networkPolicy"]["social"]
    for service in SERVICES:
        found = egress_to(production, service, social["to"])
        assert found == ([[{"port": 443, "protocol": "TCP"}]] if service == "notify" else []), (
            service
        )


def test_no_social_egress_while_every_network_is_off(render: Any) -> None:
    internet = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    off = render("minimal-values.yaml", values={"networkPolicy": {"social": {"to": internet}}})
    assert egress_to(off, "notify", internet) == []
    on = render(
        "minimal-values.yaml",
        values={
            "networkPolicy": {"social": {"to": internet}},
            "social": {"vk": {"existingSecret": "casedesk-vk"}},
        },
    )
    assert egress_to(on, "notify", internet) == [[{"port": 443, "protocol": "TCP"}]]


def test_only_case_intake_and_keys_reach_the_identity_providers(production: Release) -> None:
    # keys: the privacy officers' tokens it verifies before an erasure.
    idp = production_values()["networkPolicy"]["identityProvider"]
    for service in SERVICES:
        found = egress_to(production, service, idp["to"])
        assert found == ([idp["ports"]] if service in ("case", "intake", "keys") else []), service


def test_notify_reaches_only_the_configured_gateways(minimal: Release) -> None:
    # The minimal release sends e-mail only: no SMS gateway, so no rule towards one.
    # (and the key service, for the keys of citizens' data it sends)
    assert egress_ports(minimal, "notify") == {53, 9092, 25, PORTS["keys"]}


def test_telemetry_egress_only_when_a_collector_is_set(
    production: Release, minimal: Release
) -> None:
    for service in SERVICES:
        assert 4317 in egress_ports(production, service)
        assert 4317 not in egress_ports(minimal, service)


def test_policies_can_be_switched_off(render: Any) -> None:
    released = render("minimal-values.yaml", values={"networkPolicy": {"enabled": False}})
    assert released.of_kind("NetworkPolicy") == []
