"""Intake and notify as clients of the key service (issue #18).

Notify opens the sealed fields it sends with: whenever services.keys.enabled it gets the key
service's address and the key cache's bounds, never the index key (it derives no subject), and
may reach the key service. Intake seals what it keeps of a citizen with his data key only with
services.intake.sealPersonalData (off by default): then it gets the switch, the address, the
index key and the cache, and may reach the key service. Without the key service nothing of it is
rendered. How the rendered variables load is in test_settings_alignment.py; the case service's
own switch is in test_sealing.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from helmchart import (
    CHART,
    CI_VALUES,
    INTAKE_SEALING,
    PORTS,
    SEALING,
    TLS_DIR,
    Release,
    component_name,
    egress_ports,
    egress_to_keys,
    ingress_on,
    peer_components,
    policy,
    refusal,
    schema_refusal,
)

from casedesk_keyservice.grpc_api.access import KEY_ACCESS, SERVICE_NAME

VALUES_FILES = ["minimal-values.yaml", "production-values.yaml"]
ADDRESS = f"{component_name('keys')}:{PORTS['keys']}"
INDEX_KEY_DIR = "/etc/casedesk/keys-index"
# What a client of the key service gets: its address and its key cache's bounds.
CLIENT_VARIABLES = {
    "CASEDESK_KEY_SERVICE_ADDRESS",
    "CASEDESK_KEYS_CACHE_TTL_S",
    "CASEDESK_KEYS_CACHE_MAX",
}
# And a sealing one besides: its switch and the index key it derives subjects with.
SEALER_VARIABLES = {
    *CLIENT_VARIABLES,
    "CASEDESK_SEAL_PERSONAL_DATA",
    "CASEDESK_KEYS_INDEX_KEY_FILE",
}
KEYS_OFF = {"services": {"keys": {"enabled": False}}}


def both_sealing() -> dict[str, Any]:
    return {"services": {**SEALING["services"], **INTAKE_SEALING["services"]}}


def client_cache_defaults() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    cache: dict[str, Any] = loaded["services"]["keys"]["clientCache"]
    return cache


def keys_callers(release: Release) -> set[str]:
    """The services the key service's NetworkPolicy admits on its gRPC port."""
    rules = ingress_on(release, "keys", "grpc")
    return {c for rule in rules for c in peer_components(rule["from"])}


def key_variables(release: Release, service: str) -> set[str]:
    """The service's variables that wire it to the key service or switch its sealing."""
    return {
        name
        for name in release.env(service)
        if name.startswith(("CASEDESK_KEY_SERVICE", "CASEDESK_KEYS_"))
        or name == "CASEDESK_SEAL_PERSONAL_DATA"
    }


def assert_calls_the_key_service(release: Release, service: str) -> None:
    """The address of the key service's Service, the cache's bounds as the values say, the way
    to its pods on their port, and their door open to the service."""
    assert release.value(service, "CASEDESK_KEY_SERVICE_ADDRESS") == ADDRESS
    cache = client_cache_defaults()
    assert float(release.value(service, "CASEDESK_KEYS_CACHE_TTL_S")) == cache["ttlSeconds"]
    assert release.value(service, "CASEDESK_KEYS_CACHE_MAX") == str(cache["maxEntries"])
    (rule,) = egress_to_keys(release, service)
    assert rule["ports"] == [{"port": PORTS["keys"], "protocol": "TCP"}]
    assert service in keys_callers(release)


def assert_mounts_the_index_key(release: Release, service: str) -> None:
    """The key service's own index key: the same Secret and key, read-only, its group only."""
    key = release.volumes("keys")["keys-index"]["secret"]["items"][0]["key"]
    assert release.value(service, "CASEDESK_KEYS_INDEX_KEY_FILE") == f"{INDEX_KEY_DIR}/{key}"
    assert release.mounts(service)[INDEX_KEY_DIR] == {
        "name": "keys-index",
        "mountPath": INDEX_KEY_DIR,
        "readOnly": True,
    }
    assert release.volumes(service)["keys-index"] == release.volumes("keys")["keys-index"]
    assert release.volumes(service)["keys-index"]["secret"]["defaultMode"] == 0o440


# notify: wired whenever the key service is enabled


def test_notify_opens_sealed_fields_through_the_key_service(release: Release) -> None:
    assert_calls_the_key_service(release, "notify")
    # It opens tokens, which name their subject: no index key, no switch of its own.
    assert key_variables(release, "notify") == CLIENT_VARIABLES
    assert "keys-index" not in release.volumes("notify")
    assert INDEX_KEY_DIR not in release.mounts("notify")


@pytest.mark.parametrize("service", ["notify", "intake"])
def test_a_client_calls_it_as_itself_over_mutual_tls(release: Release, service: str) -> None:
    # The certificate it presents to every service it calls is the one the key service's access
    # table knows it by (spiffe://casedesk/<service>): its own Secret, or in certManager mode a
    # Certificate the chart makes a client certificate with that name.
    env = release.env(service)
    assert env["CASEDESK_TLS_CERT_FILE"]["value"] == f"{TLS_DIR}/tls.crt"
    assert "CASEDESK_GRPC_INSECURE_DEV" not in env
    mount = release.mounts(service)[TLS_DIR]
    secret = release.volumes(service)[mount["name"]]["secret"]["secretName"]
    assert secret == f"{component_name(service)}-tls"
    if release.of_kind("Certificate"):
        (certificate,) = [
            c for c in release.of_kind("Certificate") if c["spec"]["secretName"] == secret
        ]
        assert certificate["spec"]["uris"] == [f"spiffe://casedesk/{service}"]
        assert "client auth" in certificate["spec"]["usages"]


def test_notify_may_read_the_keys_but_never_make_them() -> None:
    # The key service's access table admits what the chart wires: notify opens (GetKey) and
    # follows erasures, and is refused a current key to seal with.
    rpcs = {
        rpc.removeprefix(f"/{SERVICE_NAME}/") for rpc, ids in KEY_ACCESS.items() if "notify" in ids
    }
    assert rpcs == {"GetKey", "WatchErasures"}


# intake: wired only while it seals


def test_intake_does_not_seal_by_default_nor_in_the_ci_values() -> None:
    # A file sealed with it on cannot be read with it off again: a decision of its own.
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["services"]["intake"]
    assert defaults["sealPersonalData"] is False
    for name in VALUES_FILES:
        intake = yaml.safe_load((CI_VALUES / name).read_text())["services"].get("intake", {})
        assert "sealPersonalData" not in intake, name


def test_without_its_switch_intake_neither_reaches_the_key_service_nor_is_admitted(
    release: Release,
) -> None:
    assert key_variables(release, "intake") == set()
    assert "keys-index" not in release.volumes("intake")
    assert egress_to_keys(release, "intake") == []
    assert "intake" not in keys_callers(release)


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_sealing_intake_calls_the_key_service_with_its_index_key(
    render: Any, values_file: str
) -> None:
    released: Release = render(values_file, values=INTAKE_SEALING)
    assert released.value("intake", "CASEDESK_SEAL_PERSONAL_DATA") == "true"
    assert key_variables(released, "intake") == SEALER_VARIABLES
    assert_calls_the_key_service(released, "intake")
    assert_mounts_the_index_key(released, "intake")
    # Admitted beside notify (and, in production, the privacy officers' tools); the case
    # service, which does not seal here, still is not.
    assert keys_callers(released) == {"intake", "notify"}
    # Nothing else changes: who may call intake, what the other services get and reach.
    off: Release = render(values_file)
    assert ingress_on(released, "intake", "grpc") == ingress_on(off, "intake", "grpc")
    for service in ("case", "sla", "escalation", "notify"):
        assert policy(released, service) == policy(off, service), service
        assert released.workload(service) == off.workload(service), service


def test_the_index_key_is_the_key_service_s_wherever_it_is_kept(render: Any) -> None:
    released: Release = render(
        "minimal-values.yaml",
        values={
            "services": {
                **INTAKE_SEALING["services"],
                "keys": {"indexKey": {"existingSecret": "cd-index", "key": "k1"}},
            }
        },
    )
    assert released.value("intake", "CASEDESK_KEYS_INDEX_KEY_FILE") == f"{INDEX_KEY_DIR}/k1"
    assert released.volumes("intake")["keys-index"]["secret"] == {
        "secretName": "cd-index",
        "defaultMode": 0o440,
        "items": [{"key": "k1", "path": "k1"}],
    }


def test_sealing_intake_gets_the_rpcs_it_needs_from_the_access_table() -> None:
    rpcs = {
        rpc.removeprefix(f"/{SERVICE_NAME}/") for rpc, ids in KEY_ACCESS.items() if "intake" in ids
    }
    assert {"GetCurrentKey", "GetKey", "WatchErasures"} <= rpcs


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_with_both_sealing_every_client_has_its_way_and_only_they(
    render: Any, values_file: str
) -> None:
    released: Release = render(values_file, values=both_sealing())
    assert keys_callers(released) == {"intake", "case", "notify"}
    for sealer in ("intake", "case"):
        assert key_variables(released, sealer) == SEALER_VARIABLES, sealer
        assert_calls_the_key_service(released, sealer)
        assert_mounts_the_index_key(released, sealer)
    assert key_variables(released, "notify") == CLIENT_VARIABLES
    # Every service the chart lets call the key service is one its access table admits.
    admitted = set().union(*KEY_ACCESS.values())
    assert keys_callers(released) <= admitted
    for service in ("sla", "escalation"):
        assert key_variables(released, service) == set(), service
        assert PORTS["keys"] not in egress_ports(released, service), service


# without the key service


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_without_the_key_service_nothing_of_it_is_rendered(render: Any, values_file: str) -> None:
    off: Release = render(values_file, values=KEYS_OFF)
    assert not off.has("NetworkPolicy", component_name("keys"))
    for service in ("intake", "case", "notify"):
        assert key_variables(off, service) == set(), service
        assert "keys-index" not in off.volumes(service), service
        assert PORTS["keys"] not in egress_ports(off, service), service
    # Intake without its switch is the same with or without the key service; notify loses only
    # its address, its cache's bounds and its way to the key service.
    on: Release = render(values_file)
    assert off.workload("intake") == on.workload("intake")
    assert policy(off, "intake") == policy(on, "intake")
    on_env = {n: v for n, v in on.env("notify").items() if n not in CLIENT_VARIABLES}
    assert off.env("notify") == on_env
    on_egress = [
        r for r in policy(on, "notify")["spec"]["egress"] if r not in egress_to_keys(on, "notify")
    ]
    assert policy(off, "notify")["spec"]["egress"] == on_egress


# refusals


REFUSED = [
    pytest.param(
        {"services": {"intake": {"sealPersonalData": True}, "keys": {"enabled": False}}},
        "services.intake.sealPersonalData is true but services.keys.enabled is false",
        id="intake-sealing-without-the-key-service",
    ),
    pytest.param(
        {"services": {"intake": {"env": {"CASEDESK_SEAL_PERSONAL_DATA": "true"}}}},
        "services.intake.env.CASEDESK_SEAL_PERSONAL_DATA is set by the chart from "
        "services.intake.sealPersonalData",
        id="intake-switch-in-env",
    ),
    pytest.param(
        {"services": {"intake": {"env": {"CASEDESK_KEYS_INDEX_KEY_FILE": "/tmp/k"}}}},
        "services.intake.env.CASEDESK_KEYS_INDEX_KEY_FILE is set by the chart from "
        "services.keys.indexKey",
        id="intake-index-key-in-env",
    ),
    pytest.param(
        {"services": {"notify": {"env": {"CASEDESK_KEY_SERVICE_ADDRESS": "keys:50056"}}}},
        "services.notify.env.CASEDESK_KEY_SERVICE_ADDRESS is set by the chart from "
        "services.keys.port",
        id="notify-address-in-env",
    ),
    pytest.param(
        {"services": {"notify": {"env": {"CASEDESK_KEYS_CACHE_MAX": "5"}}}},
        "services.notify.env.CASEDESK_KEYS_CACHE_MAX is set by the chart from "
        "services.keys.clientCache.maxEntries",
        id="notify-cache-in-env",
    ),
]


@pytest.mark.parametrize(("values", "expected"), REFUSED)
def test_the_chart_refuses(render: Any, values: dict[str, Any], expected: str) -> None:
    assert expected in refusal(render, values)


def test_the_refusal_says_how_to_go_on(render: Any) -> None:
    message = refusal(
        render, {"services": {"intake": {"sealPersonalData": True}, "keys": {"enabled": False}}}
    )
    assert "intake seals citizens' attachments" in message
    assert "enable services.keys" in message
    assert "or set services.intake.sealPersonalData=false" in message


def test_a_disabled_intake_needs_no_key_service(render: Any) -> None:
    released: Release = render(
        "minimal-values.yaml",
        values={
            "services": {
                "intake": {"enabled": False, "sealPersonalData": True},
                "keys": {"enabled": False},
            }
        },
    )
    assert not released.has("NetworkPolicy", component_name("intake"))
    assert key_variables(released, "notify") == set()


SCHEMA_REFUSED = [
    pytest.param(
        {"services": {"intake": {"sealPersonalData": "yes"}}},
        "/services/intake/sealPersonalData",
        id="intake-switch-not-boolean",
    ),
    pytest.param(
        # notify has no switch: it opens whatever it meets once the key service is enabled.
        {"services": {"notify": {"sealPersonalData": True}}},
        "/services/notify",
        id="notify-has-no-switch",
    ),
]


@pytest.mark.parametrize(("values", "expected"), SCHEMA_REFUSED)
def test_the_schema_refuses(render: Any, values: dict[str, Any], expected: str) -> None:
    assert expected in schema_refusal(render, values)
