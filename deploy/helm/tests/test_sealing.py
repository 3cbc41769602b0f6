"""The case service sealing citizens' personal data (services.case.sealPersonalData, issue #18):
off by default, and then nothing of it is rendered; on, it needs the key service, reaches it with
its address and through both NetworkPolicies, and mounts the key service's index key. How the
rendered variables load is in test_settings_alignment.py."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from helmchart import (
    CHART,
    CI_VALUES,
    KEY_CLIENTS,
    PORTS,
    SEALING,
    Release,
    component_name,
    egress_to_keys,
    ingress_on,
    peer_components,
    policy,
    refusal,
    schema_refusal,
)


def sealing_with(**services: dict[str, Any]) -> dict[str, Any]:
    case = {**SEALING["services"]["case"], **services.pop("case", {})}
    return {"services": {"case": case, **services}}


def test_off_by_default_and_in_the_ci_values() -> None:
    # Sealing is an installation's decision, made once (deploy/README.md "Upgrade notes").
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["services"]["case"]
    assert defaults["sealPersonalData"] is False
    for name in ("minimal-values.yaml", "production-values.yaml"):
        case = yaml.safe_load((CI_VALUES / name).read_text())["services"].get("case", {})
        assert "sealPersonalData" not in case, name


def test_off_the_case_service_neither_reaches_the_key_service_nor_is_admitted(
    release: Release,
) -> None:
    assert egress_to_keys(release, "case") == []
    (rule,) = ingress_on(release, "keys", "grpc")
    assert "case" not in peer_components(rule["from"])
    assert "CASEDESK_KEY_SERVICE_ADDRESS" not in release.env("case")


@pytest.mark.parametrize("values_file", ["minimal-values.yaml", "production-values.yaml"])
def test_on_the_case_service_calls_the_key_service_at_its_address(
    render: Any, values_file: str
) -> None:
    released: Release = render(values_file, values=SEALING)
    assert released.value("case", "CASEDESK_SEAL_PERSONAL_DATA") == "true"
    assert released.value("case", "CASEDESK_KEY_SERVICE_ADDRESS") == (
        f"{component_name('keys')}:{PORTS['keys']}"
    )
    # Its egress to the key service's pods on their port, and their ingress from it, beside
    # notify's (and, in production, the privacy officers' tools).
    (rule,) = egress_to_keys(released, "case")
    assert rule["ports"] == [{"port": PORTS["keys"], "protocol": "TCP"}]
    (rule,) = ingress_on(released, "keys", "grpc")
    assert peer_components(rule["from"]) == {"case", *KEY_CLIENTS}
    # Nothing else changes for the case service: who may call it, what the others reach.
    off: Release = render(values_file)
    assert ingress_on(released, "case", "grpc") == ingress_on(off, "case", "grpc")
    for service in ("intake", "sla", "escalation", "notify"):
        assert policy(released, service) == policy(off, service), service


def test_on_the_case_service_mounts_the_key_service_s_index_key(render: Any) -> None:
    released: Release = render(
        "minimal-values.yaml",
        values=sealing_with(keys={"indexKey": {"existingSecret": "cd-index", "key": "k1"}}),
    )
    assert released.value("case", "CASEDESK_KEYS_INDEX_KEY_FILE") == "/etc/casedesk/keys-index/k1"
    assert released.mounts("case")["/etc/casedesk/keys-index"] == {
        "name": "keys-index",
        "mountPath": "/etc/casedesk/keys-index",
        "readOnly": True,
    }
    assert released.volumes("case")["keys-index"] == released.volumes("keys")["keys-index"]
    assert released.volumes("case")["keys-index"]["secret"] == {
        "secretName": "cd-index",
        "defaultMode": 0o440,
        "items": [{"key": "k1", "path": "k1"}],
    }


REFUSED = [
    pytest.param(
        sealing_with(keys={"enabled": False}),
        "services.case.sealPersonalData is true but services.keys.enabled is false",
        id="sealing-without-the-key-service",
    ),
    pytest.param(
        sealing_with(case={"env": {"CASEDESK_KEY_SERVICE_ADDRESS": "keys:50056"}}),
        "services.case.env.CASEDESK_KEY_SERVICE_ADDRESS is set by the chart from "
        "services.keys.port",
        id="address-in-env",
    ),
    pytest.param(
        {"services": {"case": {"env": {"CASEDESK_SEAL_PERSONAL_DATA": "true"}}}},
        "services.case.env.CASEDESK_SEAL_PERSONAL_DATA is set by the chart from "
        "services.case.sealPersonalData",
        id="switch-in-env",
    ),
    pytest.param(
        sealing_with(case={"env": {"CASEDESK_KEYS_CACHE_TTL_S": "600"}}),
        "services.case.env.CASEDESK_KEYS_CACHE_TTL_S is set by the chart from "
        "services.keys.clientCache.ttlSeconds",
        id="cache-ttl-in-env",
    ),
]


@pytest.mark.parametrize(("values", "expected"), REFUSED)
def test_the_chart_refuses(render: Any, values: dict[str, Any], expected: str) -> None:
    assert expected in refusal(render, values)


def test_the_refusal_says_how_to_go_on(render: Any) -> None:
    message = refusal(render, sealing_with(keys={"enabled": False}))
    assert "enable services.keys" in message
    assert "or set services.case.sealPersonalData=false" in message


def test_a_disabled_case_service_needs_no_key_service(render: Any) -> None:
    released: Release = render(
        "minimal-values.yaml",
        values=sealing_with(
            case={"enabled": False},
            keys={"enabled": False},
            intake={"enabled": False},
            escalation={"enabled": False},
        ),
    )
    assert not released.has("NetworkPolicy", component_name("case"))


SCHEMA_REFUSED = [
    pytest.param(
        {"services": {"case": {"sealPersonalData": "yes"}}},
        "/services/case/sealPersonalData",
        id="switch-not-boolean",
    ),
    pytest.param(
        {"services": {"keys": {"clientCache": {"ttlSeconds": 0}}}},
        "/services/keys/clientCache/ttlSeconds",
        id="ttl-zero",
    ),
    pytest.param(
        {"services": {"keys": {"clientCache": {"maxEntries": 0}}}},
        "/services/keys/clientCache/maxEntries",
        id="no-entries",
    ),
    pytest.param(
        {"services": {"keys": {"clientCache": {"ttl": 5}}}},
        "/services/keys/clientCache",
        id="unknown-key",
    ),
]


@pytest.mark.parametrize(("values", "expected"), SCHEMA_REFUSED)
def test_the_schema_refuses(render: Any, values: dict[str, Any], expected: str) -> None:
    assert expected in schema_refusal(render, values)
