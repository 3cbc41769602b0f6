"""What every rendered pod must be: hardened, probed, sized, pinned, and free of inlined secrets."""

from __future__ import annotations

import re
from typing import Any

from helmchart import (
    HEALTH_PORT,
    KAFKA_CLIENTS,
    METRICS_PORT,
    PORTS,
    SERVICES,
    Release,
    component_name,
)

CREDENTIAL_NAME = re.compile(
    r"PASSWORD|TOKEN|SECRET|MASTER_KEY|CIPHER_KEY|DATABASE_URL|INDEX_KEY|PIN_FILE"
)
# Names a credential's pattern matches that are none: the PKCS#11 token's label names the HSM's
# token holding the KEK, which the PIN opens.
NOT_CREDENTIALS = {"CASEDESK_KEYS_PKCS11_TOKEN_LABEL"}


def test_every_service_is_rendered_once_with_its_port(release: Release) -> None:
    for service in SERVICES:
        container = release.container(service)
        assert container["ports"] == [
            {"name": "grpc", "containerPort": PORTS[service], "protocol": "TCP"},
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ]
        env = release.env(service)
        assert env["CASEDESK_GRPC_PORT"]["value"] == str(PORTS[service])
        assert env["CASEDESK_GRPC_HOST"]["value"] == "0.0.0.0"
        service_object = release.get("Service", component_name(service))
        ports = {p["name"]: p for p in service_object["spec"]["ports"]}
        assert ports["grpc"]["port"] == PORTS[service]
        assert ports["health"]["port"] == HEALTH_PORT
        assert ports["health"]["targetPort"] == "health"


def test_probes_are_native_grpc_on_the_plaintext_health_port(release: Release) -> None:
    # The kubelet's gRPC probes cannot speak TLS: they ask the health-only listener.
    for service in SERVICES:
        container = release.container(service)
        assert release.value(service, "CASEDESK_GRPC_HEALTH_PORT") == str(HEALTH_PORT)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": HEALTH_PORT}, (service, probe)


def test_pods_are_hardened(release: Release) -> None:
    for spec in release.pod_specs():
        assert spec["automountServiceAccountToken"] is False
        pod_context = spec["securityContext"]
        assert pod_context["runAsNonRoot"] is True
        assert pod_context["runAsUser"] != 0
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]


def test_service_account_has_no_token(release: Release) -> None:
    (account,) = release.of_kind("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    for workload in release.workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_every_container_has_requests_and_a_memory_limit(release: Release) -> None:
    for spec in release.pod_specs():
        for container in spec["containers"]:
            resources = container["resources"]
            assert resources["requests"]["cpu"] and resources["requests"]["memory"]
            assert resources["limits"]["memory"]


def test_images_are_pinned(release: Release) -> None:
    for spec in release.pod_specs():
        for container in spec["containers"]:
            image = container["image"]
            repository, _, tag = image.rpartition(":")
            assert repository and tag, image
            assert tag.lower() != "latest", image


def test_production_images_come_from_the_registry_with_the_release_tag(production: Release) -> None:
    for service in SERVICES:
        image = production.container(service)["image"]
        assert image == f"registry.casedesk.internal/casedesk/{service}:0.1.0"


def test_credentials_are_secret_references_only(release: Release) -> None:
    for spec in release.pod_specs():
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            secret_dirs = {
                m["mountPath"]
                for m in container["volumeMounts"]
                if m.get("readOnly") and "secret" in volumes[m["name"]]
            }
            for variable in container.get("env", []):
                name = variable["name"]
                if not CREDENTIAL_NAME.search(name) or name in NOT_CREDENTIALS:
                    continue
                if name.endswith("_FILE"):
                    # A credential's file (a social network's token): the path of a key of a
                    # Secret mounted read-only, never the credential.
                    assert variable["value"].rpartition("/")[0] in secret_dirs, name
                    continue
                assert "value" not in variable, name
                assert "secretKeyRef" in variable["valueFrom"], name
    assert release.of_kind("Secret") == []


def test_production_reads_every_credential_from_its_secret(production: Release) -> None:
    secret_of = production.secret_of
    assert secret_of("case", "POSTGRES_PASSWORD") == ("casedesk-postgres", "password")
    assert secret_of("case", "POSTGRES_USER") == ("casedesk-postgres", "username")
    assert secret_of("case", "CIPHER_KEY") == ("casedesk-case-cipher", "cipher-key")
    assert secret_of("escalation", "POSTGRES_PASSWORD") == ("casedesk-postgres", "password")
    assert secret_of("keys", "CASEDESK_KEYS_STORE_URL") == ("casedesk-keys", "store-url")
    assert secret_of("notify", "CASEDESK_SMTP_PASSWORD") == ("casedesk-smtp", "password")
    assert secret_of("notify", "CASEDESK_SMS_GATEWAY_TOKEN") == ("casedesk-sms", "token")
    assert secret_of("intake", "CASEDESK_MASTER_KEY") == ("casedesk-intake", "master-key")
    assert secret_of("intake", "CASEDESK_DATABASE_URL") == ("casedesk-intake", "database-url")
    for service in KAFKA_CLIENTS:
        assert secret_of(service, "CASEDESK_KAFKA_SASL_PASSWORD") == (
            f"casedesk-kafka-{service}",
            "password",
        )


def test_intake_gets_no_kafka_settings(release: Release) -> None:
    assert not [name for name in release.env("intake") if name.startswith("CASEDESK_KAFKA_")]


def test_production_talks_tls_to_kafka_with_the_mounted_ca(production: Release) -> None:
    for service in KAFKA_CLIENTS:
        env = production.env(service)
        assert env["CASEDESK_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert env["CASEDESK_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert env["CASEDESK_KAFKA_SSL_CAFILE"]["value"] == "/etc/casedesk/kafka-ca/ca.crt"
        assert "/etc/casedesk/kafka-ca" in production.mounts(service)
    for service in SERVICES:
        endpoint = production.value(service, "CASEDESK_OTLP_ENDPOINT")
        assert endpoint == "https://otel-collector.observability.svc:4317"


def test_production_stores_events_in_postgres_with_three_case_replicas(production: Release) -> None:
    env = production.env("case")
    assert env["PERSISTENCE_MODULE"]["value"] == "eventsourcing.postgres"
    assert env["POSTGRES_HOST"]["value"] == "casedesk-pg-rw.postgres.svc"
    assert production.env("escalation")["CASEDESK_ESCALATION_STORE"]["value"] == "postgres"
    for service in ("case", "escalation"):
        assert production.workload(service)["spec"]["replicas"] == 3
    intake_hpa = production.get("HorizontalPodAutoscaler", component_name("intake"))
    assert intake_hpa["spec"]["minReplicas"] == 3
    assert "replicas" not in production.workload("intake")["spec"]


def test_minimal_runs_the_event_store_on_sqlite_in_the_data_volume(minimal: Release) -> None:
    env = minimal.env("case")
    assert env["PERSISTENCE_MODULE"]["value"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"]["value"].startswith("/var/lib/casedesk/")
    assert not any(name.startswith(("POSTGRES_", "CIPHER_")) for name in env)
    assert minimal.workload("case")["spec"]["replicas"] == 1
    assert minimal.value("escalation", "CASEDESK_ESCALATION_STORE") == "sqlite"


def test_callers_get_the_case_address(minimal: Release) -> None:
    case_address = f"{component_name('case')}:50052"
    assert minimal.env("intake")["CASEDESK_CASE_ADDRESS"]["value"] == case_address
    assert minimal.env("escalation")["CASEDESK_CASE_ADDRESS"]["value"] == case_address


def test_one_deadline_policy_for_promises_and_clocks(release: Release) -> None:
    promised = {release.value(s, "CASEDESK_DEADLINE_POLICY_VERSION") for s in ("intake", "notify")}
    enforced = release.value("sla", "CASEDESK_SLA_POLICY_VERSION")
    assert promised == {enforced} == {"2026.1"}


def test_the_case_closes_after_the_period_notify_promises(release: Release) -> None:
    closes = release.value("case", "CASEDESK_AUTO_CLOSE_AFTER")
    promised = release.value("notify", "CASEDESK_AUTO_CLOSE_AFTER")
    assert closes == promised == "7"


def test_notify_links_to_the_portal_and_sends_only_through_configured_gateways(
    minimal: Release, production: Release
) -> None:
    portal = "http://portal.casedesk.svc.cluster.local/cases"
    assert minimal.value("notify", "CASEDESK_PORTAL_BASE_URL") == portal
    assert minimal.value("notify", "CASEDESK_SMTP_TLS") == "none"
    assert not [name for name in minimal.env("notify") if name.startswith("CASEDESK_SMS_")]
    assert production.value("notify", "CASEDESK_SMTP_TLS") == "starttls"
    gateway = production.value("notify", "CASEDESK_SMS_GATEWAY_URL")
    assert gateway == "https://sms-gateway.sms.svc/api/v1/messages"


def test_intake_reads_its_frontends_from_the_mounted_secret(production: Release) -> None:
    path = production.value("intake", "CASEDESK_FRONTENDS_FILE")
    directory, _, name = path.rpartition("/")
    mount = production.mounts("intake")[directory]
    assert mount["readOnly"] is True
    volume = production.volumes("intake")[mount["name"]]
    assert volume["secret"] == {
        "secretName": "casedesk-frontends",
        "items": [{"key": "frontends.toml", "path": name}],
    }
    assert "CASEDESK_FRONTENDS" not in production.env("intake")


def test_intake_frontends_may_come_from_a_config_map(render: Any) -> None:
    frontends = {"entries": [], "existingConfigMap": "channel-frontends", "key": "all.toml"}
    released = render(
        "minimal-values.yaml", values={"services": {"intake": {"frontends": frontends}}}
    )
    assert released.value("intake", "CASEDESK_FRONTENDS_FILE") == "/etc/casedesk/frontends/all.toml"
    mount = released.mounts("intake")["/etc/casedesk/frontends"]
    volume = released.volumes("intake")[mount["name"]]
    assert volume["configMap"]["name"] == "channel-frontends"


def test_case_events_are_encrypted_only_when_a_key_is_given(
    minimal: Release, production: Release
) -> None:
    assert production.value("case", "CIPHER_TOPIC") == "eventsourcing.cipher:AESCipher"
    assert "CIPHER_KEY" not in minimal.env("case")
