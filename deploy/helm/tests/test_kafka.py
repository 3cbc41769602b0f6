"""Kafka: SASL_SSL by default, a principal per service from its own Secret, ACLs by the hook.

Each service authenticates as itself (its SCRAM user), so the brokers' ACLs can confine it to its
own topics and consumer group; the topics Job authenticates as admin, creates the topics and then
grants those ACLs with `python -m casedesk_runtime.kafka_access`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from helmchart import (
    CHART,
    KAFKA_CLIENTS,
    KAFKA_PRINCIPALS,
    KAFKA_SASL,
    Manifest,
    Release,
    RenderError,
    component_name,
)
from test_settings_alignment import load_rendered

from casedesk_runtime import kafka_access
from casedesk_vocabulary import topics

SASL_VARIABLES = ("CASEDESK_KAFKA_SASL_USERNAME", "CASEDESK_KAFKA_SASL_PASSWORD")
# The settings field each consumer reads its group from (its settings.py).
GROUP_FIELDS = {
    "case": "case_timeline_group",
    "sla": "sla_consumer_group",
    "notify": "consumer_group",
    "escalation": "escalation_consumer_group",
}
ACCESS_TOOL = ["python", "-m", "casedesk_runtime.kafka_access"]


def job_pod(release: Release) -> Manifest:
    pod: Manifest = release.get("Job", component_name("topics"))["spec"]["template"]["spec"]
    return pod


def job_steps(release: Release) -> list[Manifest]:
    """The Job's containers in the order they run: init containers, then the main one."""
    pod = job_pod(release)
    return [*pod.get("initContainers", []), *pod["containers"]]


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container["env"]}


def secret_ref(variable: Manifest) -> tuple[str, str]:
    ref = variable["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def groups_granted(release: Release) -> dict[str, str]:
    (acls,) = [step for step in job_steps(release) if step["name"] == "acls"]
    command = acls["command"]
    assert command[: len(ACCESS_TOOL)] == ACCESS_TOOL
    flags = command[len(ACCESS_TOOL) :]
    assert flags[:2] == ["--topic-prefix", ""]  # the chart keeps the standard topic names
    pairs = list(zip(flags[2::2], flags[3::2], strict=True))
    assert {flag for flag, _ in pairs} == {"--group"}
    return dict(value.split("=", 1) for _, value in pairs)


def sasl(**changes: Any) -> dict[str, Any]:
    """KAFKA_SASL with some principals' credentials replaced."""
    credentials = {**KAFKA_SASL["sasl"]["credentials"], **changes}  # type: ignore[index]
    return {**KAFKA_SASL, "sasl": {"credentials": credentials}}


# -- secure by default ------------------------------------------------------------------------


def test_the_default_is_sasl_ssl_with_scram() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["kafka"]
    assert defaults["securityProtocol"] == "SASL_SSL"
    assert defaults["sasl"]["mechanism"] == "SCRAM-SHA-512"
    assert defaults["acls"]["manage"] is True


def test_default_protocol_without_credentials_does_not_render(
    render: Callable[..., Release],
) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values={"kafka": {"securityProtocol": "SASL_SSL"}})
    message = str(refused.value)
    assert "kafka.sasl.credentials.case.secretName is required" in message
    assert "kafka.securityProtocol=SASL_SSL" in message


@pytest.mark.parametrize("principal", KAFKA_PRINCIPALS)
def test_a_missing_credential_reference_is_named(
    render: Callable[..., Release], principal: str
) -> None:
    with pytest.raises(RenderError) as refused:
        render("minimal-values.yaml", values={"kafka": sasl(**{principal: {"secretName": ""}})})
    message = str(refused.value)
    assert f"kafka.sasl.credentials.{principal}.secretName is required" in message
    assert f"the {principal} principal's user name (key username) and password (key password)" in (
        message
    )


def test_credentials_of_disabled_services_and_of_an_absent_job_are_not_needed(
    render: Callable[..., Release],
) -> None:
    values = {
        "kafka": {
            **sasl(sla={"secretName": ""}, admin={"secretName": ""}),
            "topics": {"provision": False},
            "acls": {"manage": False},
        },
        "services": {"sla": {"enabled": False}},
    }
    released = render("minimal-values.yaml", values=values)
    assert released.of_kind("Job") == []
    assert released.secret_of("notify", "CASEDESK_KAFKA_SASL_PASSWORD") == (
        "kafka-notify",
        "password",
    )


# -- one principal per service ----------------------------------------------------------------


def test_each_service_authenticates_as_its_own_principal(production: Release) -> None:
    for service in KAFKA_CLIENTS:
        for variable, key in zip(SASL_VARIABLES, ("username", "password"), strict=True):
            assert production.secret_of(service, variable) == (f"casedesk-kafka-{service}", key)
        assert production.value(service, "CASEDESK_KAFKA_SASL_MECHANISM") == "SCRAM-SHA-512"
    assert not [name for name in production.env("intake") if name.startswith("CASEDESK_KAFKA_")]


def test_the_job_authenticates_as_admin_in_every_step(production: Release) -> None:
    steps = job_steps(production)
    assert [step["name"] for step in steps] == ["topics", "acls"]
    case = production.env("case")
    for step in steps:
        env = env_of(step)
        for variable in SASL_VARIABLES:
            assert secret_ref(env[variable])[0] == "casedesk-kafka-admin", step["name"]
        for variable in ("CASEDESK_KAFKA_BOOTSTRAP_SERVERS", "CASEDESK_KAFKA_SSL_CAFILE"):
            assert env[variable] == case[variable], (step["name"], variable)
        assert "/etc/casedesk/kafka-ca" in {m["mountPath"] for m in step["volumeMounts"]}


def test_secret_keys_may_be_named(render: Callable[..., Release]) -> None:
    keyed = {"secretName": "kafka-sla", "usernameKey": "user", "passwordKey": "scram-password"}
    released = render("minimal-values.yaml", values={"kafka": sasl(sla=keyed)})
    assert released.secret_of("sla", "CASEDESK_KAFKA_SASL_USERNAME") == ("kafka-sla", "user")
    assert released.secret_of("sla", "CASEDESK_KAFKA_SASL_PASSWORD") == (
        "kafka-sla",
        "scram-password",
    )


@pytest.mark.parametrize("service", KAFKA_CLIENTS)
def test_rendered_credentials_load_as_the_service_reads_them(
    production: Release, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_rendered(production, service, monkeypatch)
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_username == f"from-secret-casedesk-kafka-{service}-username"
    assert settings.kafka_ssl_cafile == "/etc/casedesk/kafka-ca/ca.crt"


# -- ACLs ------------------------------------------------------------------------------------


def test_topics_are_created_before_the_grants_that_name_them(production: Release) -> None:
    pod = job_pod(production)
    (topics,) = pod["initContainers"]
    (acls,) = pod["containers"]
    assert topics["command"] == ["casedesk-topics", "--replication-factor", "3"]
    assert acls["command"][: len(ACCESS_TOOL)] == ACCESS_TOOL
    assert acls["image"] == topics["image"]


@pytest.mark.parametrize("service", GROUP_FIELDS)
def test_each_consumer_is_granted_the_group_it_uses(
    production: Release, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_rendered(production, service, monkeypatch)
    assert groups_granted(production)[service] == getattr(settings, GROUP_FIELDS[service])


@pytest.mark.parametrize("service", KAFKA_CLIENTS)
def test_every_topic_a_service_names_is_granted_to_it(
    production: Release, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chart sets no topic variable: each service uses its settings' standard names, which the
    # Job's grants (`--topic-prefix ""`, as the services' groups) must cover, read or write as
    # the service uses the topic. notify now reads escalation.decisions.v1 as well.
    settings = load_rendered(production, service, monkeypatch)
    granted = kafka_access.grants("", groups_granted(production))
    named = {
        getattr(settings, field)
        for field in topics.SETTINGS.values()
        if getattr(settings, field, "")  # empty: not read
    }
    assert named
    for topic in named:
        owned = kafka_access.OWNERS[topic] == service
        operation = kafka_access.Operation.WRITE if owned else kafka_access.Operation.READ
        grant = kafka_access.Grant(service, kafka_access.Resource.TOPIC, topic, operation)
        assert grant in granted, (service, topic)
    if service == "notify":
        assert topics.ESCALATION_DECISIONS in named


def test_a_group_set_through_env_is_the_one_granted(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {
        "kafka": KAFKA_SASL,
        "services": {"sla": {"env": {"CASEDESK_SLA_CONSUMER_GROUP": "casedesk-sla-blue"}}},
    }
    released = render("minimal-values.yaml", values=values)
    assert groups_granted(released)["sla"] == "casedesk-sla-blue"
    assert load_rendered(released, "sla", monkeypatch).sla_consumer_group == "casedesk-sla-blue"
    assert groups_granted(released)["notify"] == "notify"


def test_grants_left_to_the_kafka_team(render: Callable[..., Release]) -> None:
    released = render(
        "minimal-values.yaml", values={"kafka": {**KAFKA_SASL, "acls": {"manage": False}}}
    )
    assert [step["name"] for step in job_steps(released)] == ["topics"]
    assert "initContainers" not in job_pod(released)


def test_grants_without_topic_provisioning(render: Callable[..., Release]) -> None:
    values = {"kafka": {**KAFKA_SASL, "topics": {"provision": False}}}
    released = render("minimal-values.yaml", values=values)
    assert [step["name"] for step in job_steps(released)] == ["acls"]


def test_no_principals_no_grants(minimal: Release) -> None:
    # PLAINTEXT (evaluation): nobody is authenticated, there is nothing to grant to.
    assert [step["name"] for step in job_steps(minimal)] == ["topics"]
    for service in KAFKA_CLIENTS:
        assert not set(SASL_VARIABLES) & set(minimal.env(service)), service
        assert minimal.value(service, "CASEDESK_KAFKA_SECURITY_PROTOCOL") == "PLAINTEXT"


# -- the brokers' CA -------------------------------------------------------------------------


def test_the_brokers_ca_may_come_from_a_config_map(render: Callable[..., Release]) -> None:
    values = {"kafka": {**KAFKA_SASL, "tls": {"caConfigMap": "kafka-trust", "caKey": "bundle.pem"}}}
    released = render("minimal-values.yaml", values=values)
    for service in KAFKA_CLIENTS:
        assert released.value(service, "CASEDESK_KAFKA_SSL_CAFILE") == (
            "/etc/casedesk/kafka-ca/bundle.pem"
        )
        assert released.mounts(service)["/etc/casedesk/kafka-ca"]["readOnly"] is True
        assert released.volumes(service)["kafka-ca"]["configMap"] == {
            "name": "kafka-trust",
            "items": [{"key": "bundle.pem", "path": "bundle.pem"}],
        }
    volumes = {v["name"]: v for v in job_pod(released)["volumes"]}
    assert volumes["kafka-ca"]["configMap"]["name"] == "kafka-trust"
