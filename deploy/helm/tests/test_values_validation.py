"""Bad values never reach the cluster: the schema or the chart refuses them and says where."""

from __future__ import annotations

from typing import Any

import pytest
from helmchart import KAFKA_SASL, RenderError

FRONTEND = {
    "name": "portal-chat",
    "token_sha256": "8075195b0eade8ec01a2247ee330e0138c0c857e04d407dd9cca3485b0c846fc",
    "channels": ["PORTAL_CHAT"],
}
SHARED_INTAKE = {
    "databaseUrl": {"existingSecret": "casedesk-intake", "key": "database-url"},
    "masterKey": {"existingSecret": "casedesk-intake", "key": "master-key"},
}
POSTGRES = {
    "backend": "postgres",
    "postgres": {"host": "pg.example", "existingSecret": "casedesk-postgres"},
}

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
        {"kafka": {"sasl": {"existingSecret": "casedesk-kafka"}}},
        ["/kafka/sasl", "additional properties 'existingSecret' not allowed"],
        id="one-kafka-secret-for-every-service",
    ),
    pytest.param(
        {"kafka": {"sasl": {"credentials": {"intake": {"secretName": "kafka-intake"}}}}},
        ["/kafka/sasl/credentials", "'intake' not allowed"],
        id="kafka-principal-for-intake",
    ),
    pytest.param(
        {"kafka": {"sasl": {"credentials": {"sla": {"password": "hunter2"}}}}},
        ["/kafka/sasl/credentials/sla", "'password' not allowed"],
        id="inline-kafka-password",
    ),
    pytest.param(
        {"kafka": {"sasl": {"mechanism": "GSSAPI"}}},
        ["/kafka/sasl/mechanism", "'SCRAM-SHA-512'"],
        id="unknown-sasl-mechanism",
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
    pytest.param(
        {"deadlines": {"autoCloseAfter": "a week"}},
        ["/deadlines/autoCloseAfter", "does not match pattern"],
        id="auto-close-period-in-words",
    ),
    pytest.param(
        {"deadlines": {"policyVersion": "test-seconds"}},
        ["/deadlines/policyVersion", "'2023.1'"],
        id="test-policy-in-a-release",
    ),
    pytest.param(
        {
            "services": {
                "intake": {"frontends": {"entries": [FRONTEND | {"token_sha256": "s3cr3t"}]}}
            }
        },
        ["/services/intake/frontends/entries/0/token_sha256", "does not match pattern"],
        id="frontend-token-instead-of-its-hash",
    ),
    pytest.param(
        {"services": {"intake": {"frontends": {"entries": [FRONTEND | {"channels": ["FAX"]}]}}}},
        ["/services/intake/frontends/entries/0/channels/0", "'PORTAL_CHAT'"],
        id="frontend-unknown-channel",
    ),
    pytest.param(
        {"services": {"intake": {"masterKey": {"value": "c2VjcmV0"}}}},
        ["/services/intake/masterKey", "additional properties 'value' not allowed"],
        id="inline-master-key",
    ),
    pytest.param(
        {"services": {"sla": {"masterKey": {"existingSecret": "k", "key": "k"}}}},
        ["/services/sla", "additional properties 'masterKey' not allowed"],
        id="setting-of-another-service",
    ),
    pytest.param(
        {"services": {"case": {"env": {"CASEDESK_DATABASE_URL": "postgresql://u:pw@pg/db"}}}},
        ["invalid propertyName 'CASEDESK_DATABASE_URL'"],
        id="database-url-as-plain-env",
    ),
    pytest.param(
        {"services": {"intake": {"persistence": {"accessMode": "ReadWriteOncePod"}}}},
        ["/services/intake/persistence/accessMode", "'ReadWriteMany'"],
        id="unknown-access-mode",
    ),
    pytest.param(
        {"services": {"notify": {"portalBaseUrl": "gosuslugi.ru/cases"}}},
        ["/services/notify/portalBaseUrl", "does not match pattern"],
        id="portal-url-without-scheme",
    ),
    pytest.param(
        {"services": {"case": {"relayPaceSeconds": 5.5}}},
        ["/services/case/relayPaceSeconds", "maximum"],
        id="relay-pace-above-its-bound",
    ),
    pytest.param(
        {"services": {"case": {"indexPaceSeconds": -0.1}}},
        ["/services/case/indexPaceSeconds", "minimum"],
        id="negative-index-pace",
    ),
    pytest.param(
        {"services": {"case": {"relayPaceSeconds": "20ms"}}},
        ["/services/case/relayPaceSeconds", "want number"],
        id="relay-pace-with-a-unit",
    ),
    pytest.param(
        {"services": {"notify": {"shutdownGraceSeconds": -1}}},
        ["/services/notify/shutdownGraceSeconds", "minimum"],
        id="negative-shutdown-grace",
    ),
    pytest.param(
        {"tls": {"mode": "insecureDev"}},
        ["/tls/allowInsecureDev", "value must be true"],
        id="insecure-dev-without-acknowledgement",
    ),
    pytest.param({"tls": {"mode": "plaintext"}}, ["/tls/mode", "'insecureDev'"], id="tls-mode"),
    pytest.param(
        {"tls": {"mode": "certManager"}},
        ["/tls/certManager/issuerRef/name", "minLength"],
        id="cert-manager-without-issuer",
    ),
    pytest.param(
        {"tls": {"intakeClientAuth": "none"}},
        ["/tls/intakeClientAuth", "'optional'"],
        id="intake-client-auth",
    ),
    pytest.param(
        {"tls": {"secretNames": {"portal": "portal-tls"}}},
        ["invalid propertyName 'portal'", "'escalation', 'notify', 'keys', 'desk'"],
        id="tls-secret-of-an-unknown-service",
    ),
    pytest.param(
        {"tls": {"certManager": {"renewBefore": "30d"}}},
        ["/tls/certManager/renewBefore", "does not match pattern"],
        id="cert-manager-duration-in-days",
    ),
    pytest.param({"healthPort": 80}, ["/healthPort", "minimum"], id="privileged-health-port"),
    pytest.param(
        {"social": {"telegram": {"apiUrl": "http://api.telegram.org"}}},
        ["/social/telegram/apiUrl", "does not match pattern"],
        id="telegram-api-in-plaintext",
    ),
    pytest.param(
        {"social": {"vk": {"apiUrl": "api.vk.com"}}},
        ["/social/vk/apiUrl", "does not match pattern"],
        id="vk-api-without-scheme",
    ),
    pytest.param(
        {"social": {"vk": {"apiUrl": "https://api.vk.com/?access_token=abc"}}},
        ["/social/vk/apiUrl", "does not match pattern"],
        id="vk-api-with-a-query",
    ),
    pytest.param(
        {"social": {"vk": {"apiVersion": 5.2}}},
        ["/social/vk/apiVersion", "want string"],
        id="vk-api-version-as-a-number",
    ),
    pytest.param(
        {"social": {"telegram": {"token": "123456:ABC"}}},
        ["/social/telegram", "additional properties 'token' not allowed"],
        id="inline-telegram-token",
    ),
    pytest.param(
        {"social": {"facebook": {"existingSecret": "fb"}}},
        ["/social", "additional properties 'facebook' not allowed"],
        id="unknown-social-network",
    ),
    pytest.param(
        {"social": {"maxInFlight": 0}},
        ["/social/maxInFlight", "minimum"],
        id="no-social-request-in-flight",
    ),
    pytest.param(
        {"services": {"notify": {"replyMergeWindowSeconds": 3601}}},
        ["/services/notify/replyMergeWindowSeconds", "maximum"],
        id="reply-window-above-an-hour",
    ),
    pytest.param(
        {"services": {"notify": {"recipientLimit": -1}}},
        ["/services/notify/recipientLimit", "minimum"],
        id="negative-recipient-limit",
    ),
    pytest.param(
        {"services": {"notify": {"recipientLimit": 2.5}}},
        ["/services/notify/recipientLimit", "want integer"],
        id="fractional-recipient-limit",
    ),
    pytest.param(
        {"services": {"notify": {"smtpDataTimeoutSeconds": 0}}},
        ["/services/notify/smtpDataTimeoutSeconds", "exclusiveMinimum"],
        id="no-smtp-data-timeout",
    ),
]

SINGLE_POD = " must run a single pod (replicas: 0 or 1, autoscaling off): "

CHART_REJECTS = [
    pytest.param(
        {"services": {"case": {"replicas": 3}}},
        "services.case" + SINGLE_POD + "database.backend=sqlite keeps its store in a SQLite file",
        id="case-replicas-on-sqlite",
    ),
    pytest.param(
        {"services": {"escalation": {"autoscaling": {"enabled": True}}}},
        "services.escalation" + SINGLE_POD + "database.backend=sqlite",
        id="escalation-autoscaling-on-sqlite",
    ),
    pytest.param(
        {"database": POSTGRES, "services": {"sla": {"replicas": 2}}},
        "services.sla" + SINGLE_POD + "its consumer assigns itself every partition",
        id="sla-replicas",
    ),
    pytest.param(
        {"services": {"notify": {"autoscaling": {"enabled": True}}}},
        "services.notify" + SINGLE_POD + "its delivery store is a SQLite file of one process",
        id="notify-autoscaling",
    ),
    pytest.param(
        {"services": {"intake": {"replicas": 2, "masterKey": {"existingSecret": ""}}}},
        "services.intake" + SINGLE_POD + "several pods must share its state; set "
        "services.intake.databaseUrl (idempotency records on PostgreSQL), "
        "services.intake.masterKey (one key for every pod), "
        "services.intake.persistence with accessMode ReadWriteMany",
        id="intake-replicas-without-shared-state",
    ),
    pytest.param(
        {"services": {"intake": SHARED_INTAKE | {"replicas": 2, "persistence": {"enabled": True}}}},
        "several pods must share its state; set services.intake.persistence with accessMode "
        "ReadWriteMany (attachments shared by every pod)",
        id="intake-replicas-with-a-claim-per-pod",
    ),
    pytest.param(
        # persistence is on by default
        {"services": {"intake": {"masterKey": {"existingSecret": ""}}}},
        "services.intake.masterKey is required with persistence",
        id="intake-persistent-without-master-key",
    ),
    pytest.param(
        {"services": {"intake": {"frontends": {"entries": []}}}},
        "services.intake.frontends: configure at least one frontend",
        id="intake-without-frontends",
    ),
    pytest.param(
        {"services": {"intake": {"frontends": {"existingSecret": "a", "existingConfigMap": "b"}}}},
        "services.intake.frontends: set existingSecret or existingConfigMap, not both",
        id="intake-frontends-from-two-files",
    ),
    pytest.param(
        {
            "services": {
                "intake": {"frontends": {"entries": [FRONTEND, FRONTEND | {"name": "mfc"}]}}
            }
        },
        "services.intake.frontends.entries: portal-chat and mfc have the same token_sha256",
        id="intake-frontends-sharing-a-token",
    ),
    pytest.param(
        {"smtp": {"host": ""}},
        "services.notify has no way to reach citizens: set smtp.host and/or sms.gatewayUrl",
        id="notify-without-gateways",
    ),
    pytest.param(
        {"services": {"notify": {"portalBaseUrl": ""}}},
        "services.notify.portalBaseUrl is required",
        id="notify-without-portal-url",
    ),
    pytest.param(
        {"deadlines": {"calendarOverrides": "holidays = [2027-01-11"}},
        "deadlines.calendarOverrides is not valid TOML",
        id="calendar-overrides-malformed",
    ),
    pytest.param(
        {"deadlines": {"calendarOverrides": "holiday = [2027-01-11]\n"}},
        'deadlines.calendarOverrides: unknown key "holiday"',
        id="calendar-overrides-unknown-key",
    ),
    pytest.param(
        {
            "deadlines": {"calendarOverrides": "holidays = [2027-01-11]\n"},
            "services": {"sla": {"files": {"calendar-overrides.toml": "holidays = []\n"}}},
        },
        "services.sla.files.calendar-overrides.toml is the chart's own file",
        id="files-shadow-calendar-overrides",
    ),
    pytest.param(
        {
            "services": {
                "intake": {"secretEnv": {"CASEDESK_MASTER_KEY": {"secret": "s", "key": "k"}}}
            }
        },
        "services.intake.secretEnv.CASEDESK_MASTER_KEY is set by the chart from "
        "services.intake.masterKey",
        id="secret-env-bypasses-master-key",
    ),
    pytest.param(
        {"services": {"case": {"env": {"PERSISTENCE_MODULE": "eventsourcing.popo"}}}},
        "services.case.env.PERSISTENCE_MODULE is set by the chart from database.backend",
        id="env-overrides-event-store",
    ),
    pytest.param(
        {"services": {"sla": {"env": {"CASEDESK_GRPC_PORT": "6000"}}}},
        "services.sla.env.CASEDESK_GRPC_PORT is set by the chart from services.sla.port",
        id="env-overrides-port",
    ),
    pytest.param(
        {"services": {"case": {"enabled": False}}},
        "services.escalation calls services.case, which is disabled",
        id="case-disabled-but-called",
    ),
    pytest.param(
        {"kafka": {"tls": {"caSecret": "kafka-ca"}}},
        "kafka.tls.caSecret is set but kafka.securityProtocol is PLAINTEXT",
        id="ca-without-tls",
    ),
    pytest.param(
        {"kafka": {"tls": {"caConfigMap": "kafka-ca"}}},
        "kafka.tls.caConfigMap is set but kafka.securityProtocol is PLAINTEXT",
        id="ca-config-map-without-tls",
    ),
    pytest.param(
        {"kafka": {"securityProtocol": "SSL", "tls": {"caSecret": "a", "caConfigMap": "b"}}},
        "kafka.tls: set caSecret or caConfigMap, not both",
        id="two-kafka-cas",
    ),
    pytest.param(
        {"kafka": {"securityProtocol": "SASL_SSL"}},
        "kafka.sasl.credentials.case.secretName is required with kafka.securityProtocol=SASL_SSL",
        id="sasl-without-credentials",
    ),
    pytest.param(
        {"services": {"sla": {"env": {"CASEDESK_KAFKA_SASL_USERNAME": "sla"}}}},
        "services.sla.env.CASEDESK_KAFKA_SASL_USERNAME is set by the chart from "
        "kafka.sasl.credentials.sla",
        id="env-overrides-kafka-principal",
    ),
    pytest.param(
        {"services": {"case": {"env": {"CASEDESK_OTLP_INSECURE": "true"}}}},
        "services.case.env.CASEDESK_OTLP_INSECURE is set by the chart from telemetry.insecure",
        id="env-bypasses-otlp-tls",
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
    pytest.param(
        {"services": {"notify": {"terminationGracePeriodSeconds": 15}}},
        "services.notify.shutdownGraceSeconds (10) must be less than half of "
        "terminationGracePeriodSeconds (15)",
        id="shutdown-grace-outlasts-termination",
    ),
    pytest.param(
        {"services": {"case": {"env": {"CASEDESK_RELAY_PACE_S": "0.5"}}}},
        "services.case.env.CASEDESK_RELAY_PACE_S is set by the chart from "
        "services.case.relayPaceSeconds",
        id="env-overrides-relay-pace",
    ),
    pytest.param(
        {"services": {"sla": {"env": {"CASEDESK_SHUTDOWN_GRACE_S": "1"}}}},
        "services.sla.env.CASEDESK_SHUTDOWN_GRACE_S is set by the chart from "
        "services.sla.shutdownGraceSeconds",
        id="env-overrides-shutdown-grace",
    ),
    pytest.param(
        {"services": {"case": {"env": {"CASEDESK_GRPC_INSECURE_DEV": "true"}}}},
        "services.case.env.CASEDESK_GRPC_INSECURE_DEV is set by the chart from tls.mode",
        id="env-bypasses-tls-mode",
    ),
    pytest.param(
        {"services": {"intake": {"env": {"CASEDESK_TLS_CLIENT_AUTH": "optional"}}}},
        "services.intake.env.CASEDESK_TLS_CLIENT_AUTH is set by the chart from "
        "tls.intakeClientAuth",
        id="env-relaxes-client-auth",
    ),
    pytest.param(
        {"services": {"sla": {"env": {"CASEDESK_TLS_CERT_FILE": "/tmp/x.crt"}}}},
        "services.sla.env.CASEDESK_TLS_CERT_FILE is set by the chart from tls.mode",
        id="env-overrides-tls-files",
    ),
    pytest.param(
        {"services": {"notify": {"env": {"CASEDESK_GRPC_HEALTH_PORT": "9000"}}}},
        "services.notify.env.CASEDESK_GRPC_HEALTH_PORT is set by the chart from healthPort",
        id="env-overrides-health-port",
    ),
    pytest.param(
        {"healthPort": 50053},
        "services.sla.port and healthPort are both 50053",
        id="health-port-is-a-service-port",
    ),
    pytest.param(
        {"social": {"telegram": {"existingSecret": "social"}, "vk": {"existingSecret": "social"}}},
        'social.telegram and social.vk both read key "token" of Secret social: the bot\'s token '
        "and the VK community's are different tokens",
        id="one-token-for-both-networks",
    ),
    pytest.param(
        {
            "social": {
                "telegram": {
                    "existingSecret": "casedesk-telegram",
                    "apiUrl": "https://bot-api.egress.svc:8081",
                }
            }
        },
        "social.telegram.apiUrl https://bot-api.egress.svc:8081 is on port 8081, which "
        "networkPolicy.social.ports does not open: add {port: 8081, protocol: TCP} there",
        id="social-api-port-closed-by-the-policy",
    ),
    pytest.param(
        {"services": {"notify": {"env": {"CASEDESK_RECIPIENT_LIMIT": "0"}}}},
        "services.notify.env.CASEDESK_RECIPIENT_LIMIT is set by the chart from "
        "services.notify.recipientLimit",
        id="env-overrides-recipient-limit",
    ),
    pytest.param(
        {"services": {"notify": {"env": {"CASEDESK_VK_API_VERSION": "5.131"}}}},
        "services.notify.env.CASEDESK_VK_API_VERSION is set by the chart from social.vk.apiVersion",
        id="env-overrides-vk-api-version",
    ),
    pytest.param(
        {
            "services": {
                "notify": {
                    "secretEnv": {"CASEDESK_TELEGRAM_TOKEN_FILE": {"secret": "tg", "key": "token"}}
                }
            }
        },
        "services.notify.secretEnv.CASEDESK_TELEGRAM_TOKEN_FILE is set by the chart from "
        "social.telegram",
        id="secret-env-bypasses-social-token-file",
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


def test_extra_settings_may_come_from_secrets(render: Any) -> None:
    reference = {"secret": "casedesk-notify", "key": "reply-to"}
    released = render(
        "minimal-values.yaml",
        values={"services": {"notify": {"secretEnv": {"CASEDESK_EMAIL_REPLY_TO": reference}}}},
    )
    assert released.secret_of("notify", "CASEDESK_EMAIL_REPLY_TO") == (
        "casedesk-notify",
        "reply-to",
    )


def test_notify_may_send_sms_only(render: Any) -> None:
    released = render(
        "minimal-values.yaml",
        values={"smtp": {"host": ""}, "sms": {"gatewayUrl": "https://sms.example/send"}},
    )
    env = released.env("notify")
    assert env["CASEDESK_SMS_GATEWAY_URL"]["value"] == "https://sms.example/send"
    assert not [name for name in env if name.startswith("CASEDESK_SMTP_")]


def test_kafka_sasl_credentials_stay_out_of_intake(render: Any) -> None:
    released = render("minimal-values.yaml", values={"kafka": KAFKA_SASL})
    assert "CASEDESK_KAFKA_SASL_PASSWORD" in released.env("case")
    assert "CASEDESK_KAFKA_SASL_PASSWORD" not in released.env("intake")
