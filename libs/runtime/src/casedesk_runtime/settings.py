"""Settings from `CASEDESK_*` environment variables, validated once at start.

Each service subclasses `ServiceSettings` with its own fields; `load_settings` turns pydantic's
validation error into one message that names every offending variable, so a misconfigured pod
fails at start with an actionable line instead of a traceback deep in a handler.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CASEDESK_"


class SettingsError(RuntimeError):
    """Raised when the environment does not describe a valid configuration."""


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    service_name: str = "casedesk"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50050, ge=0, le=65535)
    # Seconds in-flight RPCs get to finish after SIGTERM before the server stops.
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None

    # OTLP/gRPC endpoint of a collector; unset means telemetry stays in-process (off).
    otlp_endpoint: str | None = None


S = TypeVar("S", bound=ServiceSettings)


def load_settings(settings_class: type[S], **overrides: object) -> S:
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
