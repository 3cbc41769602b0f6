"""People's identity: case and intake verify tokens of the organisation's identity providers
(identity.staff, identity.citizens); the chart deploys none, and no other service gets them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from helmchart import Release, RenderError

STAFF = "https://sso.example.gov/realms/casedesk"
STAFF_JWKS = "https://keycloak.sso.svc:8443/realms/casedesk/protocol/openid-connect/certs"
CITIZENS = "https://id.portal.example.gov/realms/portal"
NOT_VERIFYING = ("sla", "escalation", "notify")


def oidc_variables(release: Release, service: str) -> dict[str, Any]:
    return {n: v for n, v in release.env(service).items() if "OIDC" in n}


def mount(release: Release, service: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in release.container(service)["volumeMounts"] if m["name"] == name]
    return dict(found)


def test_case_verifies_the_staffs_tokens(production: Release) -> None:
    assert {n: v["value"] for n, v in oidc_variables(production, "case").items()} == {
        "CASEDESK_OIDC_ISSUER": STAFF,
        "CASEDESK_OIDC_AUDIENCE": "casedesk-case",
        "CASEDESK_OIDC_JWKS_URL": STAFF_JWKS,
        "CASEDESK_OIDC_CA_FILE": "/etc/casedesk/oidc-staff-ca/ca.crt",
        "CASEDESK_OIDC_LEEWAY_S": "30",
    }


def test_intake_verifies_citizens_and_operators(production: Release) -> None:
    assert {n: v["value"] for n, v in oidc_variables(production, "intake").items()} == {
        "CASEDESK_OIDC_ISSUER": STAFF,
        "CASEDESK_OIDC_AUDIENCE": "casedesk-case",
        "CASEDESK_OIDC_JWKS_URL": STAFF_JWKS,
        "CASEDESK_OIDC_CA_FILE": "/etc/casedesk/oidc-staff-ca/ca.crt",
        "CASEDESK_OIDC_LEEWAY_S": "30",
        # The portal's provider is on a public CA: the image's system roots, keys discovered.
        "CASEDESK_CITIZEN_OIDC_ISSUER": CITIZENS,
        "CASEDESK_CITIZEN_OIDC_AUDIENCE": "casedesk-intake",
        "CASEDESK_CITIZEN_OIDC_LEEWAY_S": "30",
    }
    assert json.loads(production.value("intake", "CASEDESK_OPERATOR_ROLES")) == [
        "specialist",
        "supervisor",
    ]


def test_minimal_release_uses_the_default_audiences(minimal: Release) -> None:
    assert minimal.value("case", "CASEDESK_OIDC_AUDIENCE") == "casedesk-case"
    assert minimal.value("intake", "CASEDESK_CITIZEN_OIDC_AUDIENCE") == "casedesk-intake"
    for service in ("case", "intake"):
        assert not {"CASEDESK_OIDC_JWKS_URL", "CASEDESK_OIDC_CA_FILE"} & set(minimal.env(service))
        assert not [m for m in minimal.container(service)["volumeMounts"] if "oidc" in m["name"]]


@pytest.mark.parametrize("service", NOT_VERIFYING)
def test_no_other_service_gets_identity_settings(release: Release, service: str) -> None:
    assert oidc_variables(release, service) == {}
    assert "CASEDESK_OPERATOR_ROLES" not in release.env(service)
    names = {m["name"] for m in release.container(service)["volumeMounts"]}
    assert not [n for n in names if n.startswith("oidc-")], service


@pytest.mark.parametrize("service", ["case", "intake"])
def test_the_staff_ca_bundle_is_mounted_read_only(production: Release, service: str) -> None:
    assert mount(production, service, "oidc-staff-ca") == {
        "name": "oidc-staff-ca",
        "mountPath": "/etc/casedesk/oidc-staff-ca",
        "readOnly": True,
    }
    assert production.volumes(service)["oidc-staff-ca"]["configMap"] == {
        "name": "casedesk-internal-ca",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }


def test_a_citizens_ca_from_a_secret_reaches_intake_only(render: Callable[..., Release]) -> None:
    released = render(
        "minimal-values.yaml",
        values={
            "identity": {
                "citizens": {"caSecret": "portal-ca", "caKey": "bundle.pem", "leewaySeconds": 5}
            }
        },
    )
    assert released.value("intake", "CASEDESK_CITIZEN_OIDC_CA_FILE") == (
        "/etc/casedesk/oidc-citizens-ca/bundle.pem"
    )
    assert released.value("intake", "CASEDESK_CITIZEN_OIDC_LEEWAY_S") == "5"
    assert mount(released, "intake", "oidc-citizens-ca")["readOnly"] is True
    assert released.volumes("intake")["oidc-citizens-ca"]["secret"] == {
        "secretName": "portal-ca",
        "items": [{"key": "bundle.pem", "path": "bundle.pem"}],
    }
    assert "oidc-citizens-ca" not in released.volumes("case")


def test_intake_sends_codes_through_notifys_gateways(production: Release) -> None:
    assert production.value("intake", "CASEDESK_SMTP_HOST") == "smtp-relay.mail.svc"
    assert production.secret_of("intake", "CASEDESK_SMTP_PASSWORD") == ("casedesk-smtp", "password")
    assert production.value("intake", "CASEDESK_SMS_GATEWAY_URL") == (
        "https://sms-gateway.sms.svc/api/v1/messages"
    )
    # The gateway token is a Secret's, as for notify, never a value.
    assert production.secret_of("intake", "CASEDESK_SMS_GATEWAY_TOKEN") == ("casedesk-sms", "token")


def test_intake_needs_no_code_gateway(render: Callable[..., Release]) -> None:
    # Codes are for citizens without a portal account; without gateways none are sent, and only
    # notify (which must reach citizens) insists on one.
    released = render(
        "minimal-values.yaml",
        values={"smtp": {"host": ""}, "services": {"notify": {"enabled": False}}},
    )
    assert not [
        n for n in released.env("intake") if n.startswith(("CASEDESK_SMTP_", "CASEDESK_SMS_"))
    ]


REFUSED = [
    (
        {"identity": {"staff": {"issuer": ""}}},
        "identity.staff.issuer is required while services.case and services.intake and "
        "services.keys are enabled",
    ),
    (
        {
            "identity": {"staff": {"issuer": ""}},
            "services": {"intake": {"enabled": False}, "keys": {"enabled": False}},
        },
        "identity.staff.issuer is required while services.case is enabled",
    ),
    (
        # The privacy officers' tokens, which the key service verifies before an erasure.
        {
            "identity": {"staff": {"issuer": ""}},
            "services": {"intake": {"enabled": False}, "case": {"enabled": False}},
        },
        "identity.staff.issuer is required while services.keys is enabled",
    ),
    (
        {"identity": {"citizens": {"issuer": ""}}},
        "identity.citizens.issuer is required while services.intake is enabled",
    ),
    (
        {"identity": {"staff": {"issuer": "http://keycloak:8080/realms/casedesk"}}},
        "identity.staff.issuer is http:// (plaintext)",
    ),
    (
        {"identity": {"citizens": {"jwksUrl": "http://keycloak:8080/realms/portal/certs"}}},
        "identity.citizens.jwksUrl is http:// (plaintext)",
    ),
    (
        {"identity": {"staff": {"caSecret": "a", "caConfigMap": "b"}}},
        "identity.staff: set caSecret or caConfigMap, not both",
    ),
    # The schema: the URL forms the services accept, and their bounds.
    ({"identity": {"staff": {"issuer": "sso.example.gov/realms/x"}}}, "/identity/staff/issuer"),
    (
        {"identity": {"citizens": {"issuer": "https://x.example/r?a=1"}}},
        "/identity/citizens/issuer",
    ),
    ({"identity": {"staff": {"audience": ""}}}, "/identity/staff/audience"),
    ({"identity": {"staff": {"leewaySeconds": 301}}}, "/identity/staff/leewaySeconds"),
    ({"identity": {"realm": "casedesk"}}, "realm"),
    ({"services": {"intake": {"operatorRoles": []}}}, "/services/intake/operatorRoles"),
]


@pytest.mark.parametrize(("values", "expected"), REFUSED)
def test_mistaken_identity_values_are_refused(
    render: Callable[..., Release], values: dict[str, Any], expected: str
) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=values)
    assert expected in str(refused.value)


def test_an_unused_provider_needs_no_issuer(render: Callable[..., Release]) -> None:
    released = render(
        "minimal-values.yaml",
        values={
            "identity": {"citizens": {"issuer": ""}},
            "services": {"intake": {"enabled": False}},
        },
    )
    assert released.value("case", "CASEDESK_OIDC_ISSUER").startswith("https://")


def test_plaintext_issuers_only_with_the_development_switch(
    render: Callable[..., Release],
) -> None:
    issuer = "http://keycloak.dev.svc:8080/realms/casedesk"
    released = render(
        "minimal-values.yaml",
        values={"identity": {"staff": {"issuer": issuer}, "allowInsecureIssuer": True}},
    )
    assert released.value("case", "CASEDESK_OIDC_ISSUER") == issuer
    assert released.value("intake", "CASEDESK_OIDC_ISSUER") == issuer
