"""Bad values never reach the cluster: the schema or the chart refuses them and says where."""

from __future__ import annotations

from typing import Any

import pytest
from helmchart import RenderError

SCHEMA_REJECTS = [
    pytest.param({"image": {"tag": "latest"}}, ["/image/tag"], id="global-latest-tag"),
    pytest.param(
        {"services": {"case": {"image": {"tag": "latest"}}}},
        ["/services/case/image/tag"],
        id="service-latest-tag",
    ),
    pytest.param(
        {"services": {"sla": {"image": {"tag": "v1 beta"}}}},
        ["/services/sla/image/tag", "does not match pattern"],
        id="malformed-tag",
    ),
    pytest.param(
        {"smtp": {"password": "hunter2"}},
        ["/smtp", "additional properties 'password' not allowed"],
        id="inline-smtp-password",
    ),
    pytest.param(
        {"database": {"postgres": {"password": "hunter2"}}},
        ["/database/postgres", "'password' not allowed"],
        id="inline-postgres-password",
    ),
    pytest.param(
        {"services": {"notify": {"env": {"CASEDESK_SMS_GATEWAY_TOKEN": "abc"}}}},
        ["invalid propertyName 'CASEDESK_SMS_GATEWAY_TOKEN'"],
        id="credential-as-plain-env",
    ),
    pytest.param(
        {"services": {"billing": {"enabled": True}}},
        ["/services", "'billing' not allowed"],
        id="unknown-service",
    ),
    pytest.param({"logLevel": "TRACE"}, ["/logLevel", "'DEBUG', 'INFO'"], id="log-level"),
    pytest.param(
        {"kafka": {"bootstrapServers": "kafka"}},
        ["/kafka/bootstrapServers", "does not match pattern"],
        id="bootstrap-without-port",
    ),
    pytest.param(
        {"kafka": {"securityProtocol": "SASL_SSL"}},
        ["/kafka/sasl/mechanism", "/kafka/sasl/existingSecret"],
        id="sasl-without-mechanism-and-secret",
    ),
    pytest.param(
        {"kafka": {"securityProtocol": "TLS"}},
        ["/kafka/securityProtocol", "'SASL_SSL'"],
        id="unknown-protocol",
    ),
    pytest.param(
        {"database": {"backend": "postgres"}},
        ["/database/postgres/host", "/database/postgres/existingSecret"],
        id="postgres-without-host-and-secret",
    ),
    pytest.param(
        {"services": {"case": {"resources": {"limits": None}}}},
        ["/services/case/resources", "missing property 'limits'"],
        id="no-memory-limit",
    ),
    pytest.param(
        {"services": {"intake": {"replicas": -1}}},
        ["/services/intake/replicas", "minimum"],
        id="negative-replicas",
    ),
    pytest.param(
        {"sms": {"gatewayUrl": "sms-gateway:8080"}},
        ["/sms/gatewayUrl", "does not match pattern"],
        id="gateway-url-without-scheme",
    ),
]

CHART_REJECTS = [
    pytest.param(
        {"services": {"case": {"replicas": 3}}},
        "database.backend=sqlite keeps services.case's state in one pod's file",
        id="sqlite-with-replicas",
    ),
    pytest.param(
        {"services": {"case": {"enabled": False}}},
        "services.escalation calls services.case, which is disabled",
        id="case-disabled-but-called",
    ),
    pytest.param(
        {"smtp": {"host": ""}},
        "smtp.host is required while services.notify is enabled",
        id="notify-without-smtp",
    ),
    pytest.param(
        {"kafka": {"tls": {"caSecret": "kafka-ca"}}},
        "kafka.tls.caSecret is set but kafka.securityProtocol is PLAINTEXT",
        id="ca-without-tls",
    ),
    pytest.param(
        {"services": {"notify": {"env": {"CASEDESK_SMTP_HOST": "elsewhere"}}}},
        "services.notify.env.CASEDESK_SMTP_HOST is set by the chart",
        id="env-overrides-managed-variable",
    ),
    pytest.param(
        {"services": {"sla": {"pdb": {"enabled": True, "minAvailable": 1}}}},
        "services.sla.pdb.minAvailable (1) would block every node drain with 1 replica(s)",
        id="pdb-blocks-drains",
    ),
    pytest.param(
        {"services": {"sla": {"pdb": {"enabled": True, "minAvailable": 1, "maxUnavailable": 1}}}},
        "services.sla.pdb: set either minAvailable or maxUnavailable, not both",
        id="pdb-both-bounds",
    ),
]


@pytest.mark.parametrize(("values", "expected"), SCHEMA_REJECTS)
def test_schema_rejects(render: Any, values: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=values)
    message = str(refused.value)
    assert "don't meet the specifications of the schema" in message
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize(("values", "expected"), CHART_REJECTS)
def test_chart_rejects(render: Any, values: dict[str, Any], expected: str) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values=values)
    assert expected in str(refused.value)


def test_kafka_bootstrap_servers_are_required(render: Any) -> None:
    with pytest.raises(RenderError) as refused:
        render(values={"smtp": {"host": "mail"}, "sms": {"gatewayUrl": "http://sms:80/"}})
    assert "kafka.bootstrapServers is required" in str(refused.value)


def test_credentials_go_through_secret_env(render: Any) -> None:
    reference = {"secret": "casedesk-notify", "key": "token"}
    released = render(
        "minimal-values.yaml",
        values={"services": {"notify": {"secretEnv": {"CASEDESK_SMS_GATEWAY_TOKEN": reference}}}},
    )
    variable = released.env("notify")["CASEDESK_SMS_GATEWAY_TOKEN"]
    assert variable["valueFrom"]["secretKeyRef"] == {"name": "casedesk-notify", "key": "token"}
