"""The chart configures the services as their settings modules read them, not as it once assumed.

Each service's pydantic settings class (and, for the case service's event store, eventsourcing's
own variables) is the source of truth: every variable the chart renders must be one the service
reads, and the rendered environment must load as a valid configuration whose local state lands in
the data volume.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import annotated_types
import pytest
import yaml
from eventsourcing.cipher import AESCipher
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import resolve_topic
from helmchart import CHART, DATA_DIR, SERVICES, Release
from pydantic_settings import BaseSettings

from casedesk_runtime.settings import ENV_PREFIX, ServiceSettings, load_settings

# Set by Kubernetes and read by the OpenTelemetry SDK, not by the services' settings.
PLATFORM_VARIABLES = {"POD_NAME", "POD_NAMESPACE", "OTEL_RESOURCE_ATTRIBUTES"}
# Files the settings check exist when they load (a mounted CA bundle): a stand-in file replaces
# the rendered path, once that path is known to lie in a read-only mount of the container.
CHECKED_FILES = {"CASEDESK_OIDC_CA_FILE", "CASEDESK_CITIZEN_OIDC_CA_FILE"}
# Numeric settings the chart owns: (service, key under services.<service>, settings field).
TUNING = [
    ("case", "relayPaceSeconds", "relay_pace_s"),
    ("case", "indexPaceSeconds", "index_pace_s"),
    *((service, "shutdownGraceSeconds", "shutdown_grace_s") for service in SERVICES),
]
# pydantic's Field(ge=..., ...) constraints as JSON-schema keywords.
SCHEMA_BOUNDS = {
    annotated_types.Ge: ("minimum", "ge"),
    annotated_types.Gt: ("exclusiveMinimum", "gt"),
    annotated_types.Le: ("maximum", "le"),
    annotated_types.Lt: ("exclusiveMaximum", "lt"),
}


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"casedesk_{service}.settings")
    (found,) = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
    ]
    return found


def variables_read_by(service: str) -> set[str]:
    cls: type[BaseSettings] = settings_class(service)
    names = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else ENV_PREFIX + field_name.upper())
    if service == "case":
        names |= event_store_variables()
    return names


def event_store_variables() -> set[str]:
    """The environment variables eventsourcing's SQLite and PostgreSQL factories read."""
    names = {AESCipher.CIPHER_KEY}
    for factory in (SQLiteFactory, PostgresFactory):
        constants = (
            getattr(factory, attribute) for attribute in dir(factory) if attribute.isupper()
        )
        names |= {value for value in constants if isinstance(value, str)}
    return names


def load_rendered(release: Release, service: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service's settings loaded from the rendered environment (Secrets: placeholders)."""
    for name in list(os.environ):
        if name.startswith((ENV_PREFIX, "POSTGRES_")):
            monkeypatch.delenv(name)
    for name, variable in release.env(service).items():
        if name in PLATFORM_VARIABLES:
            continue
        value = variable.get("value")
        if value is None:
            ref = variable["valueFrom"]["secretKeyRef"]
            value = f"from-secret-{ref['name']}-{ref['key']}"
        if name in CHECKED_FILES:
            mounts = [m for m in release.container(service)["volumeMounts"] if m.get("readOnly")]
            assert any(Path(value).parent == Path(m["mountPath"]) for m in mounts), (name, value)
            stand_in = Path(tempfile.mkdtemp()) / Path(value).name
            stand_in.write_text("-----BEGIN CERTIFICATE-----\n")
            value = str(stand_in)
        monkeypatch.setenv(name, value)
    return load_settings(settings_class(service))


@pytest.mark.parametrize("service", SERVICES)
def test_every_rendered_variable_is_read_by_its_service(release: Release, service: str) -> None:
    rendered = set(release.env(service)) - PLATFORM_VARIABLES
    assert rendered - variables_read_by(service) == set()


@pytest.mark.parametrize("service", SERVICES)
def test_rendered_environment_is_a_valid_configuration(
    release: Release, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_rendered(release, service, monkeypatch)
    assert settings.service_name == service
    assert settings.grpc_host == "0.0.0.0"


def test_local_state_lands_in_the_data_volume(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = Path(DATA_DIR)
    intake = load_rendered(release, "intake", monkeypatch)
    assert intake.resolved_attachments_dir().is_relative_to(data)
    assert intake.data_dir == data
    sla = load_rendered(release, "sla", monkeypatch)
    assert Path(sla.sla_db_path).parent == data
    notify = load_rendered(release, "notify", monkeypatch)
    assert notify.store_path.parent == data


def test_sqlite_stores_land_in_the_data_volume(
    minimal: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = load_rendered(minimal, "intake", monkeypatch)
    assert intake.resolved_database_url() == f"sqlite:///{DATA_DIR}/intake.sqlite3"
    escalation = load_rendered(minimal, "escalation", monkeypatch)
    assert escalation.escalation_store == "sqlite"
    assert Path(escalation.escalation_sqlite_path).parent == Path(DATA_DIR)
    assert Path(minimal.value("case", "SQLITE_DBNAME")).parent == Path(DATA_DIR)


def test_inline_frontends_load_as_intake_reads_them(
    minimal: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = load_rendered(minimal, "intake", monkeypatch)
    (frontend,) = intake.frontends
    assert frontend.name == "portal-chat"
    assert frontend.channels == ["PORTAL_CHAT"]
    # The master key is a Secret's (persistence, the default, must not hold the key beside the
    # attachments); without databaseUrl the idempotency records are SQLite in the data volume.
    assert intake.master_key.get_secret_value() == "from-secret-casedesk-intake-master-key"
    assert intake.database_url is None


def test_production_settings_come_from_their_secrets(
    production: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = load_rendered(production, "intake", monkeypatch)
    assert intake.database_url == "from-secret-casedesk-intake-database-url"
    assert intake.master_key.get_secret_value() == "from-secret-casedesk-intake-master-key"
    assert intake.frontends_file == Path("/etc/casedesk/frontends/frontends.toml")
    escalation = load_rendered(production, "escalation", monkeypatch)
    assert escalation.escalation_store == "postgres"
    assert escalation.postgres_conninfo()["host"] == "casedesk-pg-rw.postgres.svc"


def test_event_cipher_names_a_cipher_eventsourcing_can_load(production: Release) -> None:
    assert resolve_topic(production.value("case", "CIPHER_TOPIC")) is AESCipher


def schema_of_value(service: str, key: str) -> dict[str, Any]:
    """The schema of services.<service>.<key>: the service's own, or the one every service has."""
    definitions = json.loads((CHART / "values.schema.json").read_text())["definitions"]
    own = definitions[f"{service}Service"]["properties"][key]
    return own if isinstance(own, dict) else definitions["service"]["properties"][key]


@pytest.mark.parametrize(("service", "key", "field"), TUNING)
def test_tuning_values_have_their_settings_bounds_and_defaults(
    service: str, key: str, field: str
) -> None:
    setting = settings_class(service).model_fields[field]
    bounds = {
        SCHEMA_BOUNDS[type(c)][0]: getattr(c, SCHEMA_BOUNDS[type(c)][1])
        for c in setting.metadata
        if type(c) in SCHEMA_BOUNDS
    }
    schema = schema_of_value(service, key)
    keywords = {keyword for keyword, _ in SCHEMA_BOUNDS.values()}
    assert schema["type"] == "number"
    assert {k: v for k, v in schema.items() if k in keywords} == bounds
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert defaults["services"][service][key] == setting.default


def test_tuning_values_reach_the_service_as_it_reads_them(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    tuned = {"relayPaceSeconds": 0.5, "indexPaceSeconds": 0, "shutdownGraceSeconds": 2.5}
    case = load_rendered(
        render("minimal-values.yaml", values={"services": {"case": tuned}}), "case", monkeypatch
    )
    assert (case.relay_pace_s, case.index_pace_s, case.shutdown_grace_s) == (0.5, 0.0, 2.5)
