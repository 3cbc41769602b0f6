"""The key service (services.keys): how many pods it runs on which store, the Secrets it needs
and reads as files, who reaches it and what it reaches. How its rendered settings load is in
test_settings_alignment.py; what every service gets (TLS, probes, metrics, security) in the
generic tests, which include it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from helmchart import (
    CHART,
    CI_VALUES,
    KEY_CLIENTS,
    PORTS,
    Release,
    component_name,
    egress_ports,
    egress_to,
    ingress_on,
    peer_components,
    refusal,
    schema_refusal,
)

STORE_URL = {"existingSecret": "casedesk-keys", "key": "store-url"}
PKCS11 = {
    "provider": "pkcs11",
    "existingSecret": "",
    "pkcs11": {
        "module": "/opt/hsm/lib/libCryptoki2_64.so",
        "pin": {"existingSecret": "casedesk-hsm", "key": "pin"},
    },
}
HSM = {"to": [{"ipBlock": {"cidr": "10.30.5.0/28"}}], "ports": [{"port": 1792, "protocol": "TCP"}]}


def keys_values(**values: Any) -> dict[str, Any]:
    return {"services": {"keys": values}}


def test_on_sqlite_it_is_one_pod_on_a_claim_of_its_own(minimal: Release) -> None:
    workload = minimal.workload("keys")
    assert workload["kind"] == "StatefulSet"
    assert workload["spec"]["replicas"] == 1
    (claim,) = workload["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert minimal.value("keys", "CASEDESK_KEYS_STORE_URL") == "/var/lib/casedesk/keys.sqlite3"


def test_on_postgresql_its_pods_share_the_store_and_roll_without_downtime(
    production: Release,
) -> None:
    workload = production.workload("keys")
    assert workload["kind"] == "Deployment"
    assert workload["spec"]["replicas"] == 2
    assert workload["spec"]["strategy"]["type"] == "RollingUpdate"
    # Nothing of its own to keep: the data volume is scratch space.
    assert "emptyDir" in production.volumes("keys")["data"]
    assert "volumeClaimTemplates" not in workload["spec"]
    assert not production.has("PersistentVolumeClaim", f"{component_name('keys')}-data")
    assert production.secret_of("keys", "CASEDESK_KEYS_STORE_URL") == ("casedesk-keys", "store-url")


def test_it_scales_out_once_its_store_is_shared(render: Any) -> None:
    released: Release = render(
        "minimal-values.yaml",
        values=keys_values(
            storeUrl=STORE_URL,
            autoscaling={"enabled": True, "minReplicas": 2, "maxReplicas": 4},
        ),
    )
    assert released.workload("keys")["kind"] == "Deployment"
    hpa = released.get("HorizontalPodAutoscaler", component_name("keys"))
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert released.get("PodDisruptionBudget", component_name("keys"))["spec"] == {
        "selector": {"matchLabels": released.workload("keys")["spec"]["selector"]["matchLabels"]},
        "maxUnavailable": 1,
    }


def test_its_pin_and_hsm_client_are_mounted_only_with_pkcs11(minimal: Release, render: Any) -> None:
    assert set(minimal.volumes("keys")) >= {"kek", "keys-index"}
    assert not {"hsm-pin", "hsm-client"} & set(minimal.volumes("keys"))
    released: Release = render("minimal-values.yaml", values=keys_values(kek=PKCS11))
    assert "kek" not in released.volumes("keys")
    assert "/etc/casedesk/kek" not in released.mounts("keys")
    assert released.value("keys", "CASEDESK_KEYS_PKCS11_PIN_FILE") == "/etc/casedesk/hsm-pin/pin"
    assert released.mounts("keys")["/etc/casedesk/hsm-pin"]["readOnly"] is True
    # Without moduleVolume the library is the image's (an image built FROM casedesk/keys).
    assert "hsm-client" not in released.volumes("keys")
    assert "CASEDESK_KEYS_KEK_DIR" not in released.env("keys")


def test_the_privacy_officers_tools_reach_it_only_where_allowed(
    minimal: Release, production: Release
) -> None:
    (rule,) = ingress_on(minimal, "keys", "grpc")
    assert rule["from"] == [p for p in rule["from"] if set(p) == {"podSelector"}]
    assert peer_components(rule["from"]) == set(KEY_CLIENTS)
    (rule,) = ingress_on(production, "keys", "grpc")
    assert rule["from"][len(KEY_CLIENTS) :] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "privacy-office"}}}
    ]


def test_a_disabled_client_is_neither_admitted_nor_given_the_way(render: Any) -> None:
    released: Release = render(
        "minimal-values.yaml",
        values={"services": {"intake": {"sealPersonalData": True}, "notify": {"enabled": False}}},
    )
    (rule,) = ingress_on(released, "keys", "grpc")
    assert peer_components(rule["from"]) == {"intake"}
    # Nobody calls it (the privacy officers' tools are not allowed in the minimal values): no
    # gRPC ingress at all.
    alone: Release = render(
        "minimal-values.yaml", values={"services": {"notify": {"enabled": False}}}
    )
    assert ingress_on(alone, "keys", "grpc") == []
    off: Release = render("minimal-values.yaml", values=keys_values(enabled=False))
    assert not off.has("NetworkPolicy", component_name("keys"))
    for client in ("intake", "case", "notify"):
        assert PORTS["keys"] not in egress_ports(off, client), client


def test_only_the_key_service_with_pkcs11_reaches_the_hsm(production: Release, render: Any) -> None:
    np = {"networkPolicy": {"hsm": HSM}}
    on: Release = render("minimal-values.yaml", values={**np, **keys_values(kek=PKCS11)})
    assert egress_to(on, "keys", HSM["to"]) == [HSM["ports"]]
    off: Release = render("minimal-values.yaml", values=np)
    assert egress_to(off, "keys", HSM["to"]) == []
    hsm = [{"ipBlock": {"cidr": "10.30.5.0/28"}}]
    for service in ("intake", "case", "sla", "escalation", "notify"):
        assert egress_to(production, service, hsm) == [], service
    assert egress_to(production, "keys", hsm) == [[{"port": 1792, "protocol": "TCP"}]]


def test_postgresql_only_with_a_store_url(minimal: Release, render: Any) -> None:
    assert 5432 not in egress_ports(minimal, "keys")
    with_store: Release = render("minimal-values.yaml", values=keys_values(storeUrl=STORE_URL))
    assert 5432 in egress_ports(with_store, "keys")


REFUSED = [
    pytest.param(
        keys_values(kek={"existingSecret": ""}),
        "services.keys.kek.existingSecret is required with kek.provider secret-file",
        id="no-kek-secret",
    ),
    pytest.param(
        keys_values(indexKey={"existingSecret": ""}),
        "services.keys.indexKey.existingSecret is required",
        id="no-index-key",
    ),
    pytest.param(
        keys_values(kek={**PKCS11, "pkcs11": {**PKCS11["pkcs11"], "module": ""}}),
        "services.keys.kek.pkcs11.module is required with kek.provider pkcs11",
        id="pkcs11-without-module",
    ),
    pytest.param(
        keys_values(kek={**PKCS11, "pkcs11": {**PKCS11["pkcs11"], "pin": {"existingSecret": ""}}}),
        "services.keys.kek.pkcs11.pin.existingSecret is required with kek.provider pkcs11",
        id="pkcs11-without-pin",
    ),
    pytest.param(
        keys_values(kek={**PKCS11, "existingSecret": "casedesk-kek"}),
        "services.keys.kek.existingSecret is set but kek.provider is pkcs11",
        id="pkcs11-with-a-kek-secret",
    ),
    pytest.param(
        keys_values(kek={"pkcs11": {"moduleVolume": {"emptyDir": {}}}}),
        "services.keys.kek.pkcs11.moduleVolume is set but kek.provider is secret-file",
        id="hsm-client-without-pkcs11",
    ),
    pytest.param(
        keys_values(replicas=2),
        "services.keys must run a single pod (replicas: 0 or 1, autoscaling off): without "
        "services.keys.storeUrl its keys and erasure journal are a SQLite file of one pod; set "
        "services.keys.storeUrl",
        id="replicas-without-store-url",
    ),
    pytest.param(
        keys_values(autoscaling={"enabled": True}),
        "services.keys must run a single pod",
        id="autoscaling-without-store-url",
    ),
    pytest.param(
        keys_values(env={"CASEDESK_KEYS_STORE_URL": "/tmp/keys.sqlite3"}),
        "services.keys.env.CASEDESK_KEYS_STORE_URL is set by the chart from services.keys.storeUrl",
        id="store-url-in-env",
    ),
]


@pytest.mark.parametrize(("values", "expected"), REFUSED)
def test_the_chart_refuses(render: Any, values: dict[str, Any], expected: str) -> None:
    assert expected in refusal(render, values)


SCHEMA_REFUSED = [
    pytest.param(
        keys_values(kek={"provider": "vault"}), "/services/keys/kek/provider", id="provider"
    ),
    pytest.param(
        keys_values(erasurePollSeconds=0), "/services/keys/erasurePollSeconds", id="poll-zero"
    ),
    pytest.param(keys_values(watchBatch=20_000), "/services/keys/watchBatch", id="batch"),
    pytest.param(
        keys_values(kek={"label": "casedesk kek"}), "/services/keys/kek/label", id="label"
    ),
    pytest.param(
        # Every citizen's key in an emptyDir: only with the development switch.
        keys_values(persistence={"enabled": False}),
        "/services/keys/persistence/allowEphemeral",
        id="sqlite-in-an-emptydir",
    ),
]


@pytest.mark.parametrize(("values", "expected"), SCHEMA_REFUSED)
def test_the_schema_refuses(render: Any, values: dict[str, Any], expected: str) -> None:
    assert expected in schema_refusal(render, values)


def test_without_local_state_no_claim_and_no_switch_is_needed(render: Any) -> None:
    released: Release = render(
        "minimal-values.yaml",
        values=keys_values(storeUrl=STORE_URL, persistence={"enabled": False}),
    )
    assert released.workload("keys")["kind"] == "Deployment"
    assert "emptyDir" in released.volumes("keys")["data"]


def test_off_by_default_until_a_service_calls_it() -> None:
    # Enabling it needs Secrets created beforehand (the KEK, the index key): a release that never
    # asked for it must not start failing to render; ci/*-values.yaml enable it.
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["services"]["keys"]
    assert defaults["enabled"] is False
    for name in ("minimal-values.yaml", "production-values.yaml"):
        ci = yaml.safe_load((CI_VALUES / name).read_text())["services"]["keys"]
        assert ci["enabled"] is True, name
