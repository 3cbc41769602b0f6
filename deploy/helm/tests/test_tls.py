"""Mutual TLS on gRPC: each pod gets its certificate, key and CA as the runtime reads them.

`tls.mode` secrets (the default, Secrets created beforehand), certManager (the chart renders a
Certificate per service) or insecureDev (plaintext, every call allowed; only when explicitly
acknowledged). The runtime reloads rotated files, so the Secret is mounted as a directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helmchart import SERVICES, TLS_DIR, Release, RenderError, component_name
from test_settings_alignment import load_rendered

from casedesk_runtime.grpc_tls import configured_files

TLS_VARIABLES = ("CASEDESK_TLS_CERT_FILE", "CASEDESK_TLS_KEY_FILE", "CASEDESK_TLS_CA_FILE")
INSECURE_DEV = {"tls": {"mode": "insecureDev", "allowInsecureDev": True}}


def tls_volume(release: Release, service: str) -> dict[str, Any]:
    mount = release.mounts(service)[TLS_DIR]
    assert mount["readOnly"] is True
    # A subPath mount would never see a rotated Secret: the runtime could not reload it.
    assert "subPath" not in mount
    return release.volumes(service)[mount["name"]]


@pytest.mark.parametrize("service", SERVICES)
def test_secrets_mode_mounts_the_service_secret_and_names_its_files(
    minimal: Release, service: str
) -> None:
    volume = tls_volume(minimal, service)
    assert volume["secret"]["secretName"] == f"{component_name(service)}-tls"
    assert "items" not in volume["secret"]
    assert volume["secret"]["defaultMode"] == 0o440
    env = minimal.env(service)
    files = [env[name]["value"] for name in TLS_VARIABLES]
    assert files == [f"{TLS_DIR}/tls.crt", f"{TLS_DIR}/tls.key", f"{TLS_DIR}/ca.crt"]
    assert "CASEDESK_GRPC_INSECURE_DEV" not in env
    assert minimal.of_kind("Certificate") == []


def test_only_intake_may_relax_client_authentication(
    minimal: Release, render: Callable[..., Release]
) -> None:
    assert minimal.value("intake", "CASEDESK_TLS_CLIENT_AUTH") == "require"
    for service in set(SERVICES) - {"intake"}:
        assert "CASEDESK_TLS_CLIENT_AUTH" not in minimal.env(service), service
    relaxed = render("minimal-values.yaml", values={"tls": {"intakeClientAuth": "optional"}})
    assert relaxed.value("intake", "CASEDESK_TLS_CLIENT_AUTH") == "optional"


def test_secret_names_may_be_chosen_per_service(render: Callable[..., Release]) -> None:
    released = render(
        "minimal-values.yaml", values={"tls": {"secretNames": {"case": "case-identity"}}}
    )
    assert tls_volume(released, "case")["secret"]["secretName"] == "case-identity"
    intake = tls_volume(released, "intake")["secret"]["secretName"]
    assert intake == f"{component_name('intake')}-tls"


@pytest.mark.parametrize("service", SERVICES)
def test_rendered_tls_settings_load_as_the_runtime_reads_them(
    release: Release, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_rendered(release, service, monkeypatch)
    files = configured_files(settings)
    assert files is not None
    assert {path.parent for path in files.paths()} == {Path(TLS_DIR)}
    assert settings.grpc_insecure_dev is False
    assert settings.grpc_health_port == 8086
    assert settings.tls_client_auth == "require"


@pytest.mark.parametrize("service", SERVICES)
def test_cert_manager_issues_each_service_its_identity(production: Release, service: str) -> None:
    certificate = production.get("Certificate", f"{component_name(service)}-tls")
    spec = certificate["spec"]
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    assert spec["uris"] == [f"spiffe://casedesk/{service}"]
    host = component_name(service)
    expected_names = [
        host,
        f"{host}.casedesk",
        f"{host}.casedesk.svc",
        f"{host}.casedesk.svc.cluster.local",
    ]
    if service == "intake":
        expected_names.append("intake.casedesk.example.gov")  # tls.certManager.extraDnsNames
    assert spec["dnsNames"] == expected_names
    assert set(spec["usages"]) == {"digital signature", "server auth", "client auth"}
    assert spec["privateKey"]["rotationPolicy"] == "Always"
    assert spec["issuerRef"] == {
        "name": "casedesk-internal-ca",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }
    # The pod mounts the Secret cert-manager writes.
    assert tls_volume(production, service)["secret"]["secretName"] == spec["secretName"]


def test_callers_verify_a_name_the_case_certificate_carries(production: Release) -> None:
    case = production.get("Certificate", f"{component_name('case')}-tls")
    for caller in ("intake", "escalation"):
        host = production.value(caller, "CASEDESK_CASE_ADDRESS").rpartition(":")[0]
        assert host in case["spec"]["dnsNames"], caller


def test_disabled_services_get_no_certificate(render: Callable[..., Release]) -> None:
    released = render("production-values.yaml", values={"services": {"notify": {"enabled": False}}})
    names = {c["metadata"]["name"] for c in released.of_kind("Certificate")}
    enabled = [s for s in SERVICES if s != "notify"] + ["desk"]
    assert names == {f"{component_name(s)}-tls" for s in enabled}


@pytest.mark.parametrize("service", SERVICES)
def test_insecure_dev_sets_the_flag_and_mounts_nothing(
    render: Callable[..., Release], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = render("minimal-values.yaml", values=INSECURE_DEV)
    env = released.env(service)
    assert env["CASEDESK_GRPC_INSECURE_DEV"]["value"] == "true"
    assert not set(TLS_VARIABLES) & set(env)
    assert "CASEDESK_TLS_CLIENT_AUTH" not in env
    assert TLS_DIR not in released.mounts(service)
    # Probes still use the health listener: one probe configuration whatever the mode.
    assert released.container(service)["readinessProbe"]["grpc"] == {"port": 8086}
    settings = load_rendered(released, service, monkeypatch)
    assert settings.grpc_insecure_dev is True and configured_files(settings) is None


def test_insecure_dev_needs_its_explicit_acknowledgement(render: Callable[..., Release]) -> None:
    for values_file in ("minimal-values.yaml", "production-values.yaml"):
        with pytest.raises(RenderError) as refused:
            render(values_file, values={"tls": {"mode": "insecureDev"}})
        assert "/tls/allowInsecureDev" in str(refused.value), values_file
