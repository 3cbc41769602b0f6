"""Telemetry to the collector over TLS: the CA by reference, plaintext only when asked for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helmchart import SERVICES, Release, RenderError, component_name
from test_settings_alignment import load_rendered

OTLP_CA_DIR = "/etc/casedesk/otlp-ca"
OTLP_VARIABLES = (
    "CASEDESK_OTLP_ENDPOINT",
    "CASEDESK_OTLP_CA_FILE",
    "CASEDESK_OTLP_CLIENT_AUTH",
    "CASEDESK_OTLP_INSECURE",
)


def telemetry(**values: Any) -> dict[str, Any]:
    return {"telemetry": values}


@pytest.mark.parametrize("service", SERVICES)
def test_production_exports_over_tls_trusting_the_mounted_ca(
    production: Release, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = production.env(service)
    assert env["CASEDESK_OTLP_ENDPOINT"]["value"] == "https://otel-collector.observability.svc:4317"
    assert "CASEDESK_OTLP_INSECURE" not in env
    mount = production.mounts(service)[OTLP_CA_DIR]
    assert mount["readOnly"] is True and "subPath" not in mount
    assert production.volumes(service)[mount["name"]]["configMap"] == {
        "name": "casedesk-internal-ca",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }
    settings = load_rendered(production, service, monkeypatch)
    assert Path(settings.otlp_ca_file) == Path(OTLP_CA_DIR) / "ca.crt"
    assert settings.otlp_insecure is False and settings.otlp_client_auth is False


def test_ca_from_a_secret_and_client_certificates(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    values = telemetry(otlpEndpoint="otel.observability:4317", caSecret="otel-ca", clientAuth=True)
    released = render("minimal-values.yaml", values=values)
    assert released.volumes("case")["otlp-ca"]["secret"]["secretName"] == "otel-ca"
    assert released.value("case", "CASEDESK_OTLP_CLIENT_AUTH") == "true"
    settings = load_rendered(released, "case", monkeypatch)
    assert settings.otlp_client_auth is True and settings.tls_cert_file


def test_without_a_ca_the_image_system_cas_are_trusted(render: Callable[..., Release]) -> None:
    released = render("minimal-values.yaml", values=telemetry(otlpEndpoint="otel.example.gov:4317"))
    env = released.env("notify")
    assert env["CASEDESK_OTLP_ENDPOINT"]["value"] == "otel.example.gov:4317"
    assert not {"CASEDESK_OTLP_CA_FILE", "CASEDESK_OTLP_INSECURE"} & set(env)
    assert OTLP_CA_DIR not in released.mounts("notify")


def test_plaintext_only_when_asked_for(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=telemetry(otlpEndpoint="http://otel:4317"))
    assert "telemetry.otlpEndpoint is http:// (plaintext)" in str(refused.value)
    assert "telemetry.insecure=true" in str(refused.value)

    values = telemetry(otlpEndpoint="http://otel-agent.observability:4317", insecure=True)
    released = render("minimal-values.yaml", values=values)
    assert released.value("sla", "CASEDESK_OTLP_INSECURE") == "true"
    assert load_rendered(released, "sla", monkeypatch).otlp_insecure is True


def test_telemetry_off_renders_nothing_of_it(render: Callable[..., Release]) -> None:
    released = render("minimal-values.yaml", values=telemetry(caSecret="otel-ca", clientAuth=True))
    for service in SERVICES:
        assert not set(OTLP_VARIABLES) & set(released.env(service)), service
        assert "otlp-ca" not in released.volumes(service), service


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            telemetry(otlpEndpoint="https://otel:4317", insecure=True),
            "telemetry.otlpEndpoint is https:// but telemetry.insecure is true",
            id="https-and-insecure",
        ),
        pytest.param(
            telemetry(otlpEndpoint="otel:4317", insecure=True, caConfigMap="otel-ca"),
            "telemetry.insecure is true (plaintext): telemetry.caSecret, caConfigMap and "
            "clientAuth would not be used",
            id="insecure-with-a-ca",
        ),
        pytest.param(
            telemetry(otlpEndpoint="otel:4317", caSecret="a", caConfigMap="b"),
            "telemetry: set caSecret or caConfigMap, not both",
            id="two-cas",
        ),
        pytest.param(
            {
                **telemetry(otlpEndpoint="otel:4317", clientAuth=True),
                "tls": {"mode": "insecureDev", "allowInsecureDev": True},
            },
            "telemetry.clientAuth presents each service's certificate, and "
            "tls.mode=insecureDev mounts none",
            id="client-auth-without-certificates",
        ),
    ],
)
def test_contradictions_do_not_render(
    render: Callable[..., Release], values: dict[str, Any], expected: str
) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=values)
    assert expected in str(refused.value)


def test_endpoint_must_be_an_address(render: Callable[..., Release]) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=telemetry(otlpEndpoint="grpc://otel"))
    assert "/telemetry/otlpEndpoint" in str(refused.value)


def test_the_desk_exports_as_the_services_do(
    production: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = production.env("desk")
    assert env["CASEDESK_OTLP_ENDPOINT"]["value"] == "https://otel-collector.observability.svc:4317"
    mount = production.mounts("desk")[OTLP_CA_DIR]
    assert mount["readOnly"] is True
    assert production.volumes("desk")[mount["name"]]["configMap"]["name"] == "casedesk-internal-ca"
    settings = load_rendered(production, "desk", monkeypatch)
    assert Path(settings.otlp_ca_file) == Path(OTLP_CA_DIR) / "ca.crt"
    # Its NetworkPolicy lets it reach the collector by the rule a service's has.
    egress = {
        name: production.get("NetworkPolicy", component_name(name))["spec"]["egress"]
        for name in ("desk", "case")
    }
    collector = [r for r in egress["case"] if r not in egress["desk"]]
    otlp = [r for r in collector if any(p["port"] == 4317 for p in r["ports"])]
    assert otlp == [] and any(any(p["port"] == 4317 for p in r["ports"]) for r in egress["desk"]), (
        egress["desk"]
    )


def test_without_telemetry_the_desk_exports_nothing(render: Callable[..., Release]) -> None:
    desk = {"desk": {"enabled": True, "publicUrl": "https://desk.example.gov"}}
    released = render("minimal-values.yaml", values=desk)
    assert not {name for name in released.env("desk") if name.startswith("CASEDESK_OTLP_")}
    assert OTLP_CA_DIR not in released.mounts("desk")
