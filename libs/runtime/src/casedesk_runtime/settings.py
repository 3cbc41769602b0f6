"""Settings from `CASEDESK_*` environment variables, validated once at start.

Each service subclasses `ServiceSettings` with its own fields; `load_settings` turns pydantic's
validation error into one message that names every offending variable, so a misconfigured pod
fails at start with an actionable line instead of a traceback deep in a handler.
"""

from __future__ import annotations

from typing import Literal, Self, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CASEDESK_"
# The default metrics port is the gRPC port plus this: one process, two ports side by side, and a
# process started on a free gRPC port (tests) gets a metrics port that is very likely free too.
METRICS_PORT_OFFSET = 1000


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

    # OTLP/gRPC endpoint of a collector; unset means telemetry stays in-process (off). Always TLS
    # unless CASEDESK_OTLP_INSECURE=true (telemetry.otlp_credentials): `https://host:port` or
    # `host:port`; an `http://` endpoint means plaintext, so it needs CASEDESK_OTLP_INSECURE=true.
    otlp_endpoint: str | None = None
    # CA bundle the collector's certificate is checked against; unset: the system's CAs.
    otlp_ca_file: str | None = None
    # Plaintext to the collector, for a collector beside the process (a sidecar) or development.
    otlp_insecure: bool = False
    # Mutual TLS: present this process's own certificate (CASEDESK_TLS_CERT_FILE/_KEY_FILE) to
    # the collector, for a collector that authenticates its senders.
    otlp_client_auth: bool = False

    # Mutual TLS on every gRPC connection (grpc_tls): this process's certificate and key (served
    # and presented when calling others) and the CA bundle it trusts. All three or none.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_ca_file: str | None = None
    # `optional` (a public edge only): client certificates are not requested, see grpc_tls.
    tls_client_auth: Literal["require", "optional"] = "require"
    # Plaintext gRPC without authorisation, for development and tests; without it and without
    # the TLS files a server refuses to start and a client refuses to make a channel.
    grpc_insecure_dev: bool = False
    # A plaintext listener serving only the health service, for Kubernetes' native gRPC probes
    # (which cannot do TLS); unset: none. 0 picks a free port (tests).
    grpc_health_port: int | None = Field(default=None, ge=0, le=65535)
    # Prometheus metrics (`/metrics`, plain HTTP) on a port of their own (metrics_endpoint): unset,
    # the gRPC port + METRICS_PORT_OFFSET (intake 51051 ... notify 51055), none when that is not
    # a fixed port; 0: no metrics endpoint.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # The metrics listener's address; unset: CASEDESK_GRPC_HOST.
    metrics_host: str | None = None

    def metrics_address(self) -> tuple[str, int] | None:
        """Where the metrics endpoint listens, None when there is none (see metrics_port)."""
        port = self.metrics_port
        if port is None and self.grpc_port:
            port = self.grpc_port + METRICS_PORT_OFFSET
        if not port or port > 65535:
            return None
        return (self.metrics_host or self.grpc_host, port)

    @model_validator(mode="after")
    def _tls_files_together(self) -> Self:
        files = {
            "CASEDESK_TLS_CERT_FILE": self.tls_cert_file,
            "CASEDESK_TLS_KEY_FILE": self.tls_key_file,
            "CASEDESK_TLS_CA_FILE": self.tls_ca_file,
        }
        missing = [name for name, value in files.items() if not value]
        if missing and len(missing) < len(files):
            raise ValueError(
                "TLS needs all of CASEDESK_TLS_CERT_FILE, CASEDESK_TLS_KEY_FILE and "
                f"CASEDESK_TLS_CA_FILE; missing: {', '.join(missing)}"
            )
        return self

    @model_validator(mode="after")
    def _otlp_transport_is_unambiguous(self) -> Self:
        # Each contradiction would otherwise be settled silently, one way or the other.
        problems = []
        scheme = (self.otlp_endpoint or "").partition("://")[0].lower()
        if self.otlp_insecure:
            if scheme == "https":
                problems.append(
                    "CASEDESK_OTLP_ENDPOINT is https:// but CASEDESK_OTLP_INSECURE=true"
                )
            if self.otlp_ca_file:
                problems.append("CASEDESK_OTLP_CA_FILE is set but CASEDESK_OTLP_INSECURE=true")
            if self.otlp_client_auth:
                problems.append("CASEDESK_OTLP_CLIENT_AUTH=true but CASEDESK_OTLP_INSECURE=true")
        elif scheme == "http":
            problems.append(
                "CASEDESK_OTLP_ENDPOINT is http:// (plaintext): use https://host:port or host:port "
                "for TLS, or set CASEDESK_OTLP_INSECURE=true to send telemetry unencrypted"
            )
        if self.otlp_client_auth and not (self.tls_cert_file and self.tls_key_file):
            problems.append(
                "CASEDESK_OTLP_CLIENT_AUTH=true presents this process's certificate: set "
                "CASEDESK_TLS_CERT_FILE, CASEDESK_TLS_KEY_FILE and CASEDESK_TLS_CA_FILE"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


S = TypeVar("S", bound=ServiceSettings)


def load_settings(settings_class: type[S], **overrides: object) -> S:
    try:
        return settings_class(**overrides)  # type: ignore[arg-type]  # pydantic validates
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            if field:
                problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
            else:  # a check across fields names its variables itself
                problems.append(str(error["msg"]).removeprefix("Value error, "))
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
