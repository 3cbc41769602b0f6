"""Intake's settings: CASEDESK_* environment variables on top of the shared ServiceSettings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from casedesk_intake.domain.request_limits import (
    MIB,
    default_receive_limit,
    smallest_receive_limit,
)
from casedesk_runtime.event_loop import EventLoop
from casedesk_runtime.oidc import CitizenOidcSettings, OidcSettings
from casedesk_runtime.workers import WorkerSettings
from casedesk_vocabulary.attachments import ATTACHMENT_MEDIA_TYPES
from casedesk_vocabulary.enums import Channel

CHANNELS = tuple(channel.value for channel in Channel)


class FrontendEntry(BaseModel):
    """One frontend as configured (TOML file or the CASEDESK_FRONTENDS JSON setting)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    channels: list[str] = Field(min_length=1)
    # Portal clients (the `azp` of citizen tokens) this frontend forwards tokens of; empty: any.
    citizen_token_clients: list[str] = Field(default_factory=list)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, channels: list[str]) -> list[str]:
        unknown = sorted(set(channels) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channels {unknown}; known: {', '.join(CHANNELS)}")
        return channels


class IntakeSettings(WorkerSettings, CitizenOidcSettings, OidcSettings):
    """CASEDESK_CITIZEN_OIDC_*: the portal's sign-in, whose tokens prove citizens
    (x-citizen-token); CASEDESK_OIDC_*: the staff's identity provider, whose tokens prove the
    operators acting for citizens (x-person-token). Either unset: such tokens are refused.
    CASEDESK_WORKERS: worker processes sharing the port (casedesk_runtime.workers)."""

    service_name: str = "intake"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    # uvloop: a C event loop, less CPU per call (casedesk_runtime.event_loop); asyncio: the
    # standard library's.
    event_loop: EventLoop = "uvloop"

    case_address: str = "127.0.0.1:50052"
    # Deadline a call to the case service gets before intake answers UNAVAILABLE.
    case_service_timeout_s: float = Field(default=10.0, gt=0)
    # Creates waiting while another is on its way go to the case service together, up to this
    # many per CreateCases call; 1 sends one CreateCase call per case.
    case_creates_per_call: int = Field(default=64, ge=1, le=256)

    # Where idempotency records, the linking index, keys and attachments live by default.
    data_dir: Path = Path("intake-data")
    # sqlite:///path/to/file.db (default: <data_dir>/intake.sqlite3) or postgresql://user:pw@host/db
    database_url: str | None = None
    idempotency_retention_days: int = Field(default=7, ge=1)

    # Frontends: a TOML file of [[frontend]] tables and/or a JSON list in CASEDESK_FRONTENDS.
    frontends_file: Path | None = None
    frontends: list[FrontendEntry] = Field(default_factory=list)

    # Base64 of 32 random bytes; wraps every citizen's data key. Unset: a key file in data_dir is
    # created on first start (fine for a laptop, not for a cluster: set it from a secret).
    master_key: SecretStr | None = None

    classification_rules_path: Path | None = None
    deadline_policy_version: str | None = None
    # A new case about the same service from the same citizen within this window is linked.
    link_window_hours: float = Field(default=72.0, ge=0)

    attachments_dir: Path | None = None
    attachment_max_count: int = Field(default=5, ge=0)
    attachment_max_bytes: int = Field(default=3 * MIB, ge=1)
    # Per request; the receive limit (grpc_max_receive_bytes) follows it unless that is set.
    attachments_max_total_bytes: int = Field(default=3 * MIB + MIB // 2, ge=1)
    attachment_media_types: list[str] = Field(default_factory=lambda: list(ATTACHMENT_MEDIA_TYPES))

    # The public edge (grpc_api/edge.py). The largest request message read; unset: room for the
    # largest valid request (domain/request_limits.py). Larger messages: RESOURCE_EXHAUSTED.
    grpc_max_receive_bytes: int | None = Field(default=None, ge=1)
    # Calls one frontend may have in progress; one more is refused RESOURCE_EXHAUSTED at once.
    frontend_max_concurrent_calls: int = Field(default=32, ge=1)
    # Calls without a frontend token (health checks, reflection) in progress together: a health
    # check's request is read before anything checks its caller, so their number is bounded.
    tokenless_max_concurrent_calls: int = Field(default=16, ge=1)
    # Attachments the desk may be opening at once (AttachmentVaultService): each holds its
    # decrypted file in memory, up to attachment_max_bytes. One more: RESOURCE_EXHAUSTED.
    attachment_max_concurrent_opens: int = Field(default=8, ge=1)
    # WatchMyCase streams one frontend may keep open (apart from its calls' slots), and how long
    # one lasts: it ends cleanly after watch_my_case_idle_s without a change sent, and at the
    # latest watch_my_case_max_s after it began (the frontend watches again from its version).
    watch_my_case_streams_per_frontend: int = Field(default=100, ge=1)
    watch_my_case_idle_s: float = Field(default=600.0, gt=0)
    watch_my_case_max_s: float = Field(default=3600.0, gt=0)

    citizen_rate_per_s: float = Field(default=0.5, gt=0)
    citizen_burst: float = Field(default=20, ge=1)
    frontend_rate_per_s: float = Field(default=2000, gt=0)
    frontend_burst: float = Field(default=4000, ge=1)

    # Realm roles of the staff token that let an operator act for citizens.
    operator_roles: list[str] = Field(default_factory=lambda: ["specialist", "supervisor"])

    # One-time codes for citizens without a portal account (domain/access_codes.py).
    access_code_ttl_s: float = Field(default=600.0, ge=60, le=3600)
    # The access_code_max_wrong-th wrong code locks the code.
    access_code_max_wrong: int = Field(default=10, ge=1, le=100)
    # Code requests per case number, and codes sent per contact: this many at once, then one
    # more every access_code_refill_s.
    access_code_case_burst: int = Field(default=3, ge=1)
    access_code_contact_burst: int = Field(default=5, ge=1)
    access_code_refill_s: float = Field(default=600.0, gt=0)

    # Where codes go: the same servers, and variables, as notify's. Unset: that kind is not sent.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "Служба поддержки <support@casedesk.local>"
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    smtp_validate_certs: bool = True
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    sms_sender_name: str = ""
    sms_field_to: str = "to"
    sms_field_text: str = "text"
    sms_field_client_id: str = "client_message_id"
    sms_field_sender: str = "sender"
    sms_timeout_s: float = Field(default=5.0, gt=0)

    social_networks: list[str] = Field(
        default_factory=lambda: ["telegram", "vk", "ok", "facebook", "instagram", "max"]
    )
    # IngestEmail: how much of a raw e-mail is read (domain/mail_limits.py), README "E-mail".
    mail_max_header_fields: int = Field(default=500, ge=1)
    mail_max_header_field_bytes: int = Field(default=16 * 1024, ge=1)
    mail_max_header_bytes: int = Field(default=128 * 1024, ge=1)
    mail_max_subject_bytes: int = Field(default=8 * 1024, ge=1)
    mail_max_parts: int = Field(default=50, ge=1)
    mail_case_lookups: int = Field(default=3, ge=1)
    mail_parse_workers: int = Field(default=2, ge=1)
    mail_trusted_authserv_ids: list[str] = Field(default_factory=list)
    # Citizens' data keys held unwrapped between uses (adapters/keys.DataKeyCache): at most this
    # many, least recently used dropped first, each at most the TTL after it was unwrapped.
    attachment_key_cache_max: int = Field(default=10_000, ge=1)
    attachment_key_cache_ttl_s: float = Field(default=300.0, gt=0)
    # Citizens' data keys from the key service (issue #18, README "Sealed personal data"): new
    # attachments and intake's own records of a citizen are sealed with his key. Off: as before.
    # On, the index key comes from CASEDESK_KEYS_INDEX_KEY_FILE and the key cache's bounds from
    # CASEDESK_KEYS_CACHE_TTL_S / _CACHE_MAX (casedesk_keys.KeysSettings).
    seal_personal_data: bool = False
    # The key service (services/keys), reached with this process's mutual TLS; required when
    # sealing.
    key_service_address: str = ""

    @model_validator(mode="after")
    def _sealing_needs_the_key_service(self) -> Self:
        if self.seal_personal_data and not self.key_service_address.strip():
            raise ValueError(
                "CASEDESK_SEAL_PERSONAL_DATA=true needs CASEDESK_KEY_SERVICE_ADDRESS (the key "
                "service holding the citizens' data keys)"
            )
        return self

    @model_validator(mode="after")
    def _receive_limit_fits_attachments(self) -> Self:
        needed = smallest_receive_limit(self.attachments_max_total_bytes)
        if self.grpc_max_receive_bytes is not None and self.grpc_max_receive_bytes < needed:
            raise ValueError(
                f"CASEDESK_GRPC_MAX_RECEIVE_BYTES ({self.grpc_max_receive_bytes}) is below the "
                f"{needed} bytes a request with CASEDESK_ATTACHMENTS_MAX_TOTAL_BYTES of "
                "attachments needs: raise it, lower the attachments' total, or leave it unset"
            )
        return self

    def max_receive_bytes(self) -> int:
        if self.grpc_max_receive_bytes is not None:
            return self.grpc_max_receive_bytes
        return default_receive_limit(self.attachments_max_total_bytes)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'intake.sqlite3'}"

    def resolved_attachments_dir(self) -> Path:
        return self.attachments_dir or self.data_dir / "attachments"
