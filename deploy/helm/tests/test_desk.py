"""The specialists' desk: one pod serving HTTP, probed on /healthz, calling case and intake over
mutual TLS as `desk` with the staff identity provider's settings, reachable only where the values
say, and configured exactly as services/desk's settings read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helmchart import PORTS, TLS_DIR, Release, RenderError, component_name
from test_settings_alignment import load_rendered, variables_read_by

from casedesk_desk.adapters.canned_replies import load_canned_replies

DESK = component_name("desk")
PUBLIC_URL = "https://desk.casedesk.example.gov"
STAFF = "https://sso.example.gov/realms/casedesk"
ON = {"desk": {"enabled": True, "publicUrl": "https://desk.example.gov"}}
INSECURE_DEV = {"tls": {"mode": "insecureDev", "allowInsecureDev": True}}


def desk_objects(release: Release) -> dict[str, Any]:
    return {
        m["kind"]: m
        for m in release.manifests
        if m["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "desk"
    }


def with_desk(render: Callable[..., Release], **desk: Any) -> Release:
    values: dict[str, Any] = {"desk": {**ON["desk"], **desk.pop("desk", {})}, **desk}
    return render("minimal-values.yaml", values=values)


def test_off_by_default_nothing_of_it_is_rendered(minimal: Release) -> None:
    assert desk_objects(minimal) == {}
    admitted = {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for policy in minimal.of_kind("NetworkPolicy")
        for rule in policy["spec"]["ingress"]
        for p in rule.get("from", [])
        if "podSelector" in p
    }
    assert "desk" not in admitted


def test_one_pod_replaced_never_surged(production: Release) -> None:
    deployment = production.workload("desk")
    assert deployment["kind"] == "Deployment"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "HorizontalPodAutoscaler" not in desk_objects(production)


def test_it_serves_http_probed_on_healthz(production: Release) -> None:
    container = production.container("desk")
    # And /metrics on the port named `metrics`: test_desk_metrics.py.
    assert container["ports"][0] == {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    service = production.get("Service", DESK)
    assert service["spec"]["ports"][0] == {
        "name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP",
        "appProtocol": "http",
    }  # fmt: skip
    assert production.value("desk", "CASEDESK_DESK_HTTP_HOST") == "0.0.0.0"
    assert production.value("desk", "CASEDESK_DESK_HTTP_PORT") == "8080"
    assert production.container("desk")["image"] == "registry.casedesk.internal/casedesk/desk:0.1.0"


def test_it_calls_case_and_intake_as_desk_with_the_staffs_identity_provider(
    production: Release,
) -> None:
    env = {name: v.get("value") for name, v in production.env("desk").items()}
    assert env["CASEDESK_CASE_ADDRESS"] == f"{component_name('case')}:{PORTS['case']}"
    assert env["CASEDESK_INTAKE_ADDRESS"] == f"{component_name('intake')}:{PORTS['intake']}"
    assert env["CASEDESK_OIDC_ISSUER"] == STAFF
    assert env["CASEDESK_OIDC_AUDIENCE"] == "casedesk-case"
    assert env["CASEDESK_OIDC_CA_FILE"] == "/etc/casedesk/oidc-staff-ca/ca.crt"
    assert env["CASEDESK_DESK_PUBLIC_URL"] == PUBLIC_URL
    assert env["CASEDESK_DESK_CLIENT_ID"] == "casedesk-desk"
    assert env["CASEDESK_TLS_CERT_FILE"] == f"{TLS_DIR}/tls.crt"
    assert not [name for name in env if name.startswith(("CASEDESK_GRPC_", "CASEDESK_KAFKA_"))]
    certificate = production.get("Certificate", f"{DESK}-tls")
    assert certificate["spec"]["uris"] == ["spiffe://casedesk/desk"]
    assert "client auth" in certificate["spec"]["usages"]
    volume = production.volumes("desk")[production.mounts("desk")[TLS_DIR]["name"]]
    assert volume["secret"] == {"secretName": f"{DESK}-tls", "defaultMode": 0o440}


def test_secrets_mode_reads_its_certificate_from_a_secret(render: Callable[..., Release]) -> None:
    default = with_desk(render)
    volume = default.volumes("desk")[default.mounts("desk")[TLS_DIR]["name"]]
    assert volume["secret"]["secretName"] == f"{DESK}-tls"
    named = with_desk(render, tls={"secretNames": {"desk": "desk-client-cert"}})
    volume = named.volumes("desk")[named.mounts("desk")[TLS_DIR]["name"]]
    assert volume["secret"]["secretName"] == "desk-client-cert"
    assert named.of_kind("Certificate") == []


def test_insecure_dev_mounts_no_certificate(render: Callable[..., Release]) -> None:
    released = with_desk(render, **INSECURE_DEV)
    assert released.value("desk", "CASEDESK_GRPC_INSECURE_DEV") == "true"
    assert TLS_DIR not in released.mounts("desk")
    assert "CASEDESK_TLS_CERT_FILE" not in released.env("desk")


@pytest.mark.parametrize("values", ["minimal", "production"])
def test_every_rendered_variable_is_a_setting_the_desk_reads_and_loads(
    render: Callable[..., Release], values: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = with_desk(render) if values == "minimal" else render("production-values.yaml")
    rendered = set(released.env("desk"))
    assert rendered - variables_read_by("desk") == set()
    settings = load_rendered(released, "desk", monkeypatch)
    assert settings.service_name == "desk"
    assert settings.desk_http_host == "0.0.0.0"
    assert settings.cookie_secure, "an https:// public URL makes the session cookie Secure"


def test_canned_replies_are_a_mounted_file_the_desk_can_load(
    production: Release, tmp_path: Path
) -> None:
    path = production.value("desk", "CASEDESK_DESK_CANNED_REPLIES_FILE")
    directory, _, name = path.rpartition("/")
    mount = production.mounts("desk")[directory]
    assert mount["readOnly"] is True
    config_map = production.get("ConfigMap", production.volumes("desk")[mount["name"]]
                                ["configMap"]["name"])  # fmt: skip
    copy = tmp_path / name
    copy.write_text(config_map["data"][name])
    (reply,) = load_canned_replies(copy)
    assert reply.key == "received"
    annotations = production.workload("desk")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/files" in annotations, "new replies roll the pod"


def test_without_canned_replies_the_packaged_ones_are_used(render: Callable[..., Release]) -> None:
    released = with_desk(render)
    assert "CASEDESK_DESK_CANNED_REPLIES_FILE" not in released.env("desk")
    assert "ConfigMap" not in desk_objects(released)


def test_the_ingress_serves_the_public_host(production: Release) -> None:
    ingress = production.get("Ingress", DESK)["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [
        {"hosts": ["desk.casedesk.example.gov"], "secretName": "casedesk-desk-public-tls"}
    ]
    (rule,) = ingress["rules"]
    assert rule["host"] == "desk.casedesk.example.gov"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/" and path["pathType"] == "Prefix"
    assert path["backend"] == {"service": {"name": DESK, "port": {"name": "http"}}}


def test_no_ingress_unless_asked(render: Callable[..., Release]) -> None:
    assert "Ingress" not in desk_objects(with_desk(render))


def test_its_policy_admits_browsers_and_reaches_only_case_intake_dns_the_idp_and_collector(
    production: Release, render: Callable[..., Release]
) -> None:
    spec = production.get("NetworkPolicy", DESK)["spec"]
    # Besides the metrics port's rule (test_desk_metrics.py).
    (ingress,) = [
        r for r in spec["ingress"] if r["ports"] != [{"port": "metrics", "protocol": "TCP"}]
    ]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    callees = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: rule["ports"]
        for rule in spec["egress"]
        for peer in rule.get("to", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
    }
    assert callees == {
        "case": [{"port": PORTS["case"], "protocol": "TCP"}],
        "intake": [{"port": PORTS["intake"], "protocol": "TCP"}],
    }
    ports = {p["port"] for rule in spec["egress"] for p in rule["ports"]}
    # And the collector's OTLP port (production exports telemetry): no Kafka, no PostgreSQL.
    assert ports == {53, PORTS["case"], PORTS["intake"], 443, 8443, 4317}
    (anyone,) = [
        r
        for r in with_desk(render).get("NetworkPolicy", DESK)["spec"]["ingress"]
        if r["ports"] == [{"port": "http", "protocol": "TCP"}]
    ]
    assert "from" not in anyone, "networkPolicy.deskFrom empty: any source"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({"desk": {"enabled": True}}, "desk.publicUrl is required", id="no-public-url"),
        pytest.param(
            {"desk": {"enabled": True, "publicUrl": "http://desk.example.gov"}},
            "desk.publicUrl is http://",
            id="plaintext-public-url",
        ),
        pytest.param(
            {**ON, "services": {"intake": {"enabled": False}}},
            "the desk calls services.intake, which is disabled",
            id="intake-disabled",
        ),
        pytest.param(
            {
                **ON,
                "services": {
                    "case": {"enabled": False},
                    "escalation": {"enabled": False},
                    "intake": {"enabled": False},
                },
            },
            "the desk calls services.case, which is disabled",
            id="case-disabled",
        ),
        pytest.param(
            {**ON, "identity": {"staff": {"issuer": ""}}},
            "identity.staff.issuer is required while services.case and services.intake and "
            "services.keys and desk",
            id="no-staff-issuer",
        ),
        pytest.param(
            {"desk": {**ON["desk"], "env": {"CASEDESK_DESK_PUBLIC_URL": "https://x.example"}}},
            "desk.env.CASEDESK_DESK_PUBLIC_URL is set by the chart from desk.publicUrl",
            id="env-overrides-public-url",
        ),
        pytest.param(
            {"desk": {**ON["desk"], "env": {"CASEDESK_CASE_SERVICE_TIMEOUT_S": "3"}}},
            "desk.env.CASEDESK_CASE_SERVICE_TIMEOUT_S is set by the chart",
            id="env-overrides-a-managed-variable",
        ),
    ],
)
def test_the_chart_refuses(render: Any, values: dict[str, Any], expected: str) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=values)
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("desk", "expected"),
    [
        pytest.param({"publicUrl": "https://desk.example.gov/desk"}, "/desk/publicUrl", id="path"),
        pytest.param({"publicUrl": "desk.example.gov"}, "/desk/publicUrl", id="no-scheme"),
        pytest.param({"replicas": 2}, "'replicas' not allowed", id="replicas"),
        pytest.param({"image": {"tag": "latest"}}, "/desk/image/tag", id="latest-tag"),
        pytest.param(
            {"env": {"CASEDESK_DESK_TOKEN": "x"}},
            "invalid propertyName 'CASEDESK_DESK_TOKEN'",
            id="credential-env",
        ),
    ],
)
def test_the_schema_refuses(render: Any, desk: dict[str, Any], expected: str) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values={"desk": {**ON["desk"], **desk}})
    message = str(refused.value)
    assert "don't meet the specifications of the schema" in message
    assert expected in message


def test_a_plaintext_public_url_only_when_acknowledged(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    released = with_desk(
        render, desk={"publicUrl": "http://127.0.0.1:8080", "allowInsecurePublicUrl": True}
    )
    assert released.value("desk", "CASEDESK_DESK_PUBLIC_URL") == "http://127.0.0.1:8080"
    assert not load_rendered(released, "desk", monkeypatch).cookie_secure
