"""The desk's settings: CASEDESK_* environment variables on top of the shared ServiceSettings
(CASEDESK_TLS_* for the desk's own certificate, `desk`) and OidcSettings (CASEDESK_OIDC_ISSUER,
CASEDESK_OIDC_AUDIENCE = casedesk-case: what the access tokens it gets must name)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from casedesk_runtime.oidc import OidcSettings
from casedesk_runtime.settings import METRICS_PORT_OFFSET, ServiceSettings


class DeskSettings(ServiceSettings, OidcSettings):
    service_name: str = "desk"

    desk_http_host: str = "127.0.0.1"
    desk_http_port: int = Field(default=8080, ge=0, le=65535)
    # The address browsers reach the desk at: the OIDC redirect URI and the post-logout URI are
    # built from it; an https:// one makes the session cookie Secure.
    desk_public_url: str = "http://127.0.0.1:8080"
    # The identity provider's client of the desk (public: PKCE instead of a secret).
    desk_client_id: str = "casedesk-desk"
    # Secure cookie; unset: Secure exactly when the public URL is https.
    desk_cookie_secure: bool | None = None
    # A session ends after this long without a request.
    desk_session_idle_s: float = Field(default=1800.0, gt=0)

    # Canned replies (TOML, see canned_replies.toml in the package); unset: the packaged file.
    desk_canned_replies_file: Path | None = None
    # How often an open case page's event stream checks that its session still lives (and sends
    # a heartbeat): a signed-out or idle session's stream ends within this.
    desk_live_check_s: float = Field(default=15.0, gt=0)

    case_address: str = "127.0.0.1:50052"
    # Server name checked in the case service's certificate; unset: the address's host.
    case_server_name: str | None = None
    case_service_timeout_s: float = Field(default=10.0, gt=0)

    # Intake's AttachmentVaultService: the only place attachments are decrypted.
    intake_address: str = "127.0.0.1:50051"
    # Server name checked in intake's certificate; unset: the address's host.
    intake_server_name: str | None = None
    # Deadline of one attachment's whole download.
    intake_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("desk_public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError("must be an http(s):// URL without a query")
        return value.rstrip("/")

    def metrics_address(self) -> tuple[str, int] | None:
        """Where /metrics listens (CASEDESK_METRICS_PORT, _HOST): the desk serves no gRPC, so an
        unset port is its HTTP port + METRICS_PORT_OFFSET (9080) and an unset host its HTTP
        host; 0, or an HTTP port picked at random, means none."""
        port = self.metrics_port
        if port is None and self.desk_http_port:
            port = self.desk_http_port + METRICS_PORT_OFFSET
        if not port or port > 65535:
            return None
        return (self.metrics_host or self.desk_http_host, port)

    @property
    def cookie_secure(self) -> bool:
        if self.desk_cookie_secure is not None:
            return self.desk_cookie_secure
        return self.desk_public_url.startswith("https://")
