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
from helmchart import (
    CHART,
    DATA_DIR,
    INTAKE_SEALING,
    MODULES,
    PORTS,
    SEALING,
    SERVICES,
    Release,
    component_name,
)
from pydantic_settings import BaseSettings

from casedesk_keys.settings import PREFIX as KEYS_PREFIX
from casedesk_keys.settings import KeysSettings, KeysSettingsError
from casedesk_runtime.settings import ENV_PREFIX, ServiceSettings, load_settings

# Set by Kubernetes and read by the OpenTelemetry SDK, not by the services' settings.
PLATFORM_VARIABLES = {"POD_NAME", "POD_NAMESPACE", "OTEL_RESOURCE_ATTRIBUTES"}
# Read by the HSM's PKCS#11 library, which the key service loads (ci/production-values.yaml sets
# the Luna client's configuration directory through services.keys.env).
HSM_LIBRARY_VARIABLES = {"ChrystokiConfigurationPath"}
# Files the settings check exist when they load (a mounted CA bundle): a stand-in file replaces
# the rendered path, once that path is known to lie in a read-only mount of the container.
CHECKED_FILES = {"CASEDESK_OIDC_CA_FILE", "CASEDESK_CITIZEN_OIDC_CA_FILE"}
# Numeric settings the chart owns: (service, key under services.<service>, settings field).
TUNING = [
    ("case", "relayPaceSeconds", "relay_pace_s"),
    ("case", "indexPaceSeconds", "index_pace_s"),
    *((service, "shutdownGraceSeconds", "shutdown_grace_s") for service in SERVICES),
    # notify's notice policy (services/notify/README.md)
    ("notify", "replyMergeWindowSeconds", "reply_merge_window_s"),
    ("notify", "recipientLimit", "recipient_limit"),
    ("notify", "recipientWindowSeconds", "recipient_window_s"),
    ("notify", "recipientHoldMax", "recipient_hold_max"),
    ("notify", "smtpDataTimeoutSeconds", "smtp_data_timeout_s"),
    # the key service's own (services/keys/README.md "Settings")
    ("keys", "erasurePollSeconds", "keys_erasure_poll_s"),
    ("keys", "watchBatch", "keys_watch_batch"),
]
# notify's social connectors' limits, under the top-level `social`: (key, settings field).
SOCIAL_TUNING = [
    ("timeoutSeconds", "social_timeout_s"),
    ("maxInFlight", "social_max_in_flight"),
    ("ratePerSecond", "social_rate_per_s"),
    ("burst", "social_burst"),
]
# What a client of the key service reads of casedesk_keys.KeysSettings: the index key subjects are
# derived with, the key cache's bounds (values services.keys.indexKey and clientCache).
KEY_CLIENT_FIELDS = ("index_key_file", "cache_ttl_s", "cache_max")
# The case service's sealing and what comes with it; none of them is rendered while it is off.
SEALING_VARIABLES = {
    "CASEDESK_SEAL_PERSONAL_DATA",
    "CASEDESK_KEY_SERVICE_ADDRESS",
    *(KEYS_PREFIX + field.upper() for field in KEY_CLIENT_FIELDS),
}
# pydantic's Field(ge=..., ...) constraints as JSON-schema keywords.
SCHEMA_BOUNDS = {
    annotated_types.Ge: ("minimum", "ge"),
    annotated_types.Gt: ("exclusiveMinimum", "gt"),
    annotated_types.Le: ("maximum", "le"),
    annotated_types.Lt: ("exclusiveMaximum", "lt"),
}


def settings_class(service: str) -> type[ServiceSettings]:
    package = MODULES.get(service, f"casedesk_{service}")  # the desk is no `services` entry
    module = importlib.import_module(f"{package}.settings")
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
    if service in ("case", "intake"):
        names |= key_client_variables()
    if service == "keys":
        names |= key_owner_variables()
    return names


def key_client_variables() -> set[str]:
    """The CASEDESK_KEYS_* variables a sealing client of the key service reads (the case service
    and intake with CASEDESK_SEAL_PERSONAL_DATA: their __main__ reads KeysSettings), each a field
    of KeysSettings. Notify's are fields of its own settings."""
    assert set(KEY_CLIENT_FIELDS) <= set(KeysSettings.__dataclass_fields__)
    return {KEYS_PREFIX + field.upper() for field in KEY_CLIENT_FIELDS}


def key_owner_variables() -> set[str]:
    """The CASEDESK_KEYS_* variables casedesk_keys.KeysSettings.from_env reads: one per field."""
    return {KEYS_PREFIX + field.upper() for field in KeysSettings.__dataclass_fields__}


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
        if name in PLATFORM_VARIABLES | HSM_LIBRARY_VARIABLES:
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
    if service == "keys":
        rendered -= HSM_LIBRARY_VARIABLES
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


def assert_schema_and_default_match(schema: dict[str, Any], default: Any, field: Any) -> None:
    """The value's schema has exactly the setting's bounds and type, its default the setting's."""
    bounds = {
        SCHEMA_BOUNDS[type(c)][0]: getattr(c, SCHEMA_BOUNDS[type(c)][1])
        for c in field.metadata
        if type(c) in SCHEMA_BOUNDS
    }
    keywords = {keyword for keyword, _ in SCHEMA_BOUNDS.values()}
    assert schema["type"] == ("integer" if field.annotation is int else "number")
    assert {k: v for k, v in schema.items() if k in keywords} == bounds
    assert default == field.default


def chart_defaults() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


@pytest.mark.parametrize(("service", "key", "field"), TUNING)
def test_tuning_values_have_their_settings_bounds_and_defaults(
    service: str, key: str, field: str
) -> None:
    assert_schema_and_default_match(
        schema_of_value(service, key),
        chart_defaults()["services"][service][key],
        settings_class(service).model_fields[field],
    )


@pytest.mark.parametrize(("key", "field"), SOCIAL_TUNING)
def test_social_limits_have_notify_s_bounds_and_defaults(key: str, field: str) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert_schema_and_default_match(
        schema["properties"]["social"]["properties"][key],
        chart_defaults()["social"][key],
        settings_class("notify").model_fields[field],
    )


def test_social_apis_default_to_notify_s() -> None:
    social = chart_defaults()["social"]
    fields = settings_class("notify").model_fields
    assert social["telegram"]["apiUrl"] == fields["telegram_api_url"].default
    assert social["vk"]["apiUrl"] == fields["vk_api_url"].default
    assert social["vk"]["apiVersion"] == fields["vk_api_version"].default


def test_tuning_values_reach_the_service_as_it_reads_them(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    tuned = {"relayPaceSeconds": 0.5, "indexPaceSeconds": 0, "shutdownGraceSeconds": 2.5}
    case = load_rendered(
        render("minimal-values.yaml", values={"services": {"case": tuned}}), "case", monkeypatch
    )
    assert (case.relay_pace_s, case.index_pace_s, case.shutdown_grace_s) == (0.5, 0.0, 2.5)


def test_notice_policy_reaches_notify_as_it_reads_it(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A limit in the millions: a number from a values file is a float to the template, and an
    # integer setting must still get digits, not 1e+06.
    policy = {
        "replyMergeWindowSeconds": 0,
        "recipientLimit": 2_000_000,
        "recipientWindowSeconds": 86_400,
        "recipientHoldMax": 0,
        "smtpDataTimeoutSeconds": 12.5,
    }
    released = render("minimal-values.yaml", values={"services": {"notify": policy}})
    assert released.value("notify", "CASEDESK_RECIPIENT_LIMIT") == "2000000"
    notify = load_rendered(released, "notify", monkeypatch)
    assert notify.reply_merge_window_s == 0
    assert (notify.recipient_limit, notify.recipient_window_s) == (2_000_000, 86_400)
    assert notify.recipient_hold_max == 0
    assert notify.smtp_data_timeout_s == 12.5


def test_notify_runs_its_default_notice_policy_explicitly(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rendered, not left to the image: the values file shows what runs.
    for variable in (
        "CASEDESK_REPLY_MERGE_WINDOW_S",
        "CASEDESK_RECIPIENT_LIMIT",
        "CASEDESK_RECIPIENT_WINDOW_S",
        "CASEDESK_RECIPIENT_HOLD_MAX",
        "CASEDESK_SMTP_DATA_TIMEOUT_S",
    ):
        assert variable in release.env("notify"), variable
    rendered = load_rendered(release, "notify", monkeypatch)
    fields = settings_class("notify").model_fields
    for name in (
        "reply_merge_window_s",
        "recipient_limit",
        "recipient_window_s",
        "recipient_hold_max",
        "smtp_data_timeout_s",
    ):
        assert getattr(rendered, name) == fields[name].default, name


def key_owner_settings(release: Release, monkeypatch: pytest.MonkeyPatch) -> KeysSettings:
    """The key service's CASEDESK_KEYS_* as casedesk_keys reads them from the rendered
    environment, checked as the key owner checks them at start."""
    load_rendered(release, "keys", monkeypatch)
    settings = KeysSettings.from_env()
    settings.require_owner()
    return settings


def mounted_from(release: Release, path: Path, service: str = "keys") -> dict[str, Any]:
    """The volume of the service's read-only mount holding `path`."""
    (mount,) = [
        m
        for m in release.container(service)["volumeMounts"]
        if path.is_relative_to(m["mountPath"]) and m.get("readOnly")
    ]
    return release.volumes(service)[mount["name"]]


def test_the_key_service_reads_its_kek_and_index_key_from_mounted_secrets(
    minimal: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = key_owner_settings(minimal, monkeypatch)
    assert keys.kek_provider == "secret-file"
    assert keys.kek_label == "casedesk-kek"
    assert keys.kek_dir is not None and keys.index_key_file is not None
    # The KEK Secret whole (a version added later reaches the pod), the index key's key only.
    assert mounted_from(minimal, keys.kek_dir)["secret"] == {
        "secretName": "casedesk-kek",
        "defaultMode": 0o440,
    }
    index = mounted_from(minimal, keys.index_key_file)["secret"]
    assert index["secretName"] == "casedesk-keys"
    assert index["items"] == [{"key": "index-key", "path": keys.index_key_file.name}]
    # Without storeUrl: the SQLite store, in the data volume (a claim: see test_keys.py).
    assert keys.store_url is not None
    assert Path(keys.store_url).parent == Path(DATA_DIR)
    assert keys.kek_create is False


def test_the_key_service_opens_the_hsm_with_the_mounted_pin(
    production: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = key_owner_settings(production, monkeypatch)
    assert keys.kek_provider == "pkcs11"
    assert keys.pkcs11_module == "/opt/hsm/lib/libCryptoki2_64.so"
    assert keys.pkcs11_token_label == "casedesk"
    assert keys.pkcs11_pin_file is not None and keys.kek_dir is None
    pin = mounted_from(production, keys.pkcs11_pin_file)["secret"]
    assert (pin["secretName"], pin["items"]) == (
        "casedesk-hsm",
        [{"key": "pin", "path": keys.pkcs11_pin_file.name}],
    )
    # The library is on the HSM client's volume, read-only.
    assert mounted_from(production, Path(keys.pkcs11_module))["persistentVolumeClaim"] == {
        "claimName": "hsm-client",
        "readOnly": True,
    }
    assert keys.store_url == "from-secret-casedesk-keys-store-url"


@pytest.mark.parametrize("values_file", ["minimal-values.yaml", "production-values.yaml"])
def test_a_sealing_case_service_reads_its_key_settings_as_the_chart_renders_them(
    render: Callable[..., Release], values_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = render(values_file, values=SEALING)
    rendered = set(released.env("case"))
    assert rendered >= SEALING_VARIABLES
    assert rendered - PLATFORM_VARIABLES - variables_read_by("case") == set()
    case = load_rendered(released, "case", monkeypatch)
    assert case.seal_personal_data is True
    # The key service's Service, on its port: the address its certificate names, as every
    # address variable of the chart.
    assert case.key_service_address == f"{component_name('keys')}:{PORTS['keys']}"
    ports = released.get("Service", component_name("keys"))["spec"]["ports"]
    assert {p["name"]: p["port"] for p in ports}["grpc"] == PORTS["keys"]
    # What casedesk_keys reads in the case service (the environment load_rendered set).
    client = KeysSettings.from_env()
    defaults = chart_defaults()["services"]["keys"]["clientCache"]
    assert (client.cache_ttl_s, client.cache_max) == (
        defaults["ttlSeconds"],
        defaults["maxEntries"],
    )
    # The index key: the key service's own file, from the same Secret and key, read-only.
    assert client.index_key_file is not None
    owner = key_owner_settings(released, monkeypatch)
    assert client.index_key_file == owner.index_key_file
    assert mounted_from(released, client.index_key_file, "case") == mounted_from(
        released, client.index_key_file
    )
    assert mounted_from(released, client.index_key_file, "case")["secret"]["defaultMode"] == 0o440


def test_the_key_cache_values_reach_the_case_service_as_it_reads_them(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bound in the millions prints as digits (int64), not 1e+06, which the library refuses.
    cache = {"ttlSeconds": 2.5, "maxEntries": 2_000_000}
    released = render(
        "minimal-values.yaml",
        values={"services": {**SEALING["services"], "keys": {"clientCache": cache}}},
    )
    assert released.value("case", "CASEDESK_KEYS_CACHE_MAX") == "2000000"
    load_rendered(released, "case", monkeypatch)
    client = KeysSettings.from_env()
    assert (client.cache_ttl_s, client.cache_max) == (2.5, 2_000_000)


def test_without_sealing_the_case_service_gets_none_of_it(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(release.env("case")) & SEALING_VARIABLES == set()
    assert "keys-index" not in release.volumes("case")
    assert load_rendered(release, "case", monkeypatch).seal_personal_data is False


def test_key_cache_values_have_the_library_s_defaults_and_bounds() -> None:
    schema = schema_of_value("keys", "clientCache")["properties"]
    defaults = chart_defaults()["services"]["keys"]["clientCache"]
    fields = KeysSettings.__dataclass_fields__
    assert defaults == {
        "ttlSeconds": fields["cache_ttl_s"].default,
        "maxEntries": fields["cache_max"].default,
    }
    assert (schema["ttlSeconds"]["type"], schema["maxEntries"]["type"]) == ("number", "integer")
    # The schema's least value is the library's: accepted, and anything below it refused.
    for key, variable, below in (
        ("ttlSeconds", "CACHE_TTL_S", lambda least: least / 2),
        ("maxEntries", "CACHE_MAX", lambda least: least - 1),
    ):
        least = schema[key]["minimum"]
        assert set(schema[key]) == {"type", "minimum", "description"}, key
        KeysSettings.from_env({KEYS_PREFIX + variable: str(least)})
        with pytest.raises(KeysSettingsError, match=KEYS_PREFIX + variable):
            KeysSettings.from_env({KEYS_PREFIX + variable: str(below(least))})


@pytest.mark.parametrize("values_file", ["minimal-values.yaml", "production-values.yaml"])
def test_a_sealing_intake_reads_its_key_settings_as_the_chart_renders_them(
    render: Callable[..., Release], values_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = render(values_file, values=INTAKE_SEALING)
    rendered = set(released.env("intake"))
    assert rendered >= SEALING_VARIABLES
    assert rendered - PLATFORM_VARIABLES - variables_read_by("intake") == set()
    intake = load_rendered(released, "intake", monkeypatch)
    # Its own validator (sealing needs the address) passed; both as rendered.
    assert intake.seal_personal_data is True
    assert intake.key_service_address == f"{component_name('keys')}:{PORTS['keys']}"
    # What casedesk_keys reads in intake (keys_config): the cache's bounds and the index key,
    # the key service's own file from the same Secret.
    client = KeysSettings.from_env()
    defaults = chart_defaults()["services"]["keys"]["clientCache"]
    assert (client.cache_ttl_s, client.cache_max) == (
        defaults["ttlSeconds"],
        defaults["maxEntries"],
    )
    assert client.index_key_file is not None
    owner = key_owner_settings(released, monkeypatch)
    assert client.index_key_file == owner.index_key_file
    assert mounted_from(released, client.index_key_file, "intake") == mounted_from(
        released, client.index_key_file
    )


def test_without_its_switch_intake_gets_none_of_it(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(release.env("intake")) & SEALING_VARIABLES == set()
    intake = load_rendered(release, "intake", monkeypatch)
    assert (intake.seal_personal_data, intake.key_service_address) == (False, "")


def test_notify_reads_the_key_service_s_address_and_cache_as_rendered(
    release: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    notify = load_rendered(release, "notify", monkeypatch)
    assert notify.key_service_address == f"{component_name('keys')}:{PORTS['keys']}"
    defaults = chart_defaults()["services"]["keys"]["clientCache"]
    assert (notify.keys_cache_ttl_s, notify.keys_cache_max) == (
        defaults["ttlSeconds"],
        defaults["maxEntries"],
    )
    # Notify derives no subject: the index key stays out of its pod.
    assert "CASEDESK_KEYS_INDEX_KEY_FILE" not in release.env("notify")


def test_the_key_cache_s_extremes_reach_notify_as_it_reads_them(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The schema's least values (test_key_cache_values_have_the_library_s_defaults_and_bounds)
    # load in notify as well, and a large bound prints as digits.
    schema = schema_of_value("keys", "clientCache")["properties"]
    for cache in (
        {
            "ttlSeconds": schema["ttlSeconds"]["minimum"],
            "maxEntries": schema["maxEntries"]["minimum"],
        },
        {"ttlSeconds": 2.5, "maxEntries": 2_000_000},
    ):
        released = render(
            "minimal-values.yaml", values={"services": {"keys": {"clientCache": cache}}}
        )
        notify = load_rendered(released, "notify", monkeypatch)
        assert (notify.keys_cache_ttl_s, notify.keys_cache_max) == (
            cache["ttlSeconds"],
            cache["maxEntries"],
        )


def test_notify_s_key_cache_defaults_are_the_chart_s() -> None:
    fields = settings_class("notify").model_fields
    defaults = chart_defaults()["services"]["keys"]["clientCache"]
    assert (fields["keys_cache_ttl_s"].default, fields["keys_cache_max"].default) == (
        defaults["ttlSeconds"],
        defaults["maxEntries"],
    )


def test_without_the_key_service_notify_opens_nothing(
    render: Callable[..., Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    released = render("minimal-values.yaml", values={"services": {"keys": {"enabled": False}}})
    assert load_rendered(released, "notify", monkeypatch).key_service_address == ""
