"""Configuration of the key service: `CASEDESK_*` (this class and casedesk_runtime's) and the key
owner's `CASEDESK_KEYS_*` (casedesk_keys.KeysSettings: the KEK provider, the key store, the
index key). README.md "Settings" lists them all."""

from __future__ import annotations

from pydantic import Field

from casedesk_runtime.event_loop import EventLoop
from casedesk_runtime.oidc import OidcSettings
from casedesk_runtime.settings import ServiceSettings


class KeyServiceSettings(ServiceSettings, OidcSettings):
    service_name: str = "keys"
    grpc_port: int = Field(default=50056, ge=0, le=65535)
    event_loop: EventLoop = "uvloop"
    # How often a replica looks for erasures journaled by the other replicas (its own are
    # announced at once): with the round trip, how long a cache may use an erased key when the
    # erasure was made through another replica.
    keys_erasure_poll_s: float = Field(default=1.0, gt=0, le=60)
    # Erasures sent in one WatchErasures message (a watcher far behind catches up in batches).
    keys_watch_batch: int = Field(default=500, ge=1, le=10_000)
