"""Settings of the case service (CASEDESK_* variables); the event store has its own variables."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from casedesk_runtime.event_loop import EventLoop
from casedesk_runtime.oidc import OidcSettings
from casedesk_runtime.workers import WorkerSettings
from casedesk_vocabulary.topics import CASE_EVENTS, NOTIFICATION_EVENTS, SLA_EVENTS


class CaseSettings(WorkerSettings, OidcSettings):
    """CASEDESK_OIDC_ISSUER / _AUDIENCE (casedesk-case) / _JWKS_URL / _CA_FILE / _LEEWAY_S: the
    specialists' identity provider, whose access tokens the desk's calls carry (OidcSettings).
    CASEDESK_WORKERS: worker processes sharing the port (casedesk_runtime.workers), on
    PostgreSQL only (__main__.py)."""

    service_name: str = "case"
    grpc_port: int = Field(default=50052, ge=0, le=65535)
    # uvloop: a C event loop, less CPU per call (casedesk_runtime.event_loop); asyncio: the
    # standard library's.
    event_loop: EventLoop = "uvloop"

    # Specialists, queues and tiers; unset: the roster shipped in the package.
    roster_path: Path | None = None
    # Case numbers each replica reserves at once (unused ones are skipped after a restart).
    number_block_size: int = Field(default=50, ge=1, le=100_000)
    # Threads running application calls (database I/O) for the asyncio gRPC server.
    command_workers: int = Field(default=16, ge=1, le=256)
    # Group concurrent saves into one transaction (see adapters/persistence/group_commit.py).
    group_commit: bool = True
    # Commands decided and stored in batches by one thread (see application/pipeline.py); off:
    # a thread of the pool per command.
    command_pipeline: bool = True

    case_events_topic: str = CASE_EVENTS
    # The outbox relay: off, or started late, only to exercise crash recovery in tests.
    relay_enabled: bool = True
    relay_start_delay_s: float = Field(default=0.0, ge=0)
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Keep the case index (ListCases, load) up to date from this process.
    index_enabled: bool = True
    # How often followers look for events stored by other replicas.
    follow_idle_s: float = Field(default=0.2, gt=0, le=60)
    # Under a steady stream of commands the relay and the index step at most this often, each
    # step taking everything stored meanwhile: a step costs a few queries however small it is.
    relay_pace_s: float = Field(default=0.02, ge=0, le=5)
    index_pace_s: float = Field(default=0.1, ge=0, le=5)

    # The case timeline (adapters/timeline): the SLA service's clocks and notify's notices, read
    # from their topics into this service's database. Unset: on whenever the outbox relay is,
    # that is whenever this process talks to Kafka at all.
    case_timeline_enabled: bool | None = None
    # Its consumer group, shared by the replicas; Kafka's ACLs allow the `case` principal only
    # this group (casedesk_runtime.kafka_access.DEFAULT_GROUPS, `--group case=...` for another).
    case_timeline_group: str = Field(default="casedesk-case-timeline", min_length=1)
    case_timeline_batch_size: int = Field(default=500, ge=1, le=10_000)
    sla_events_topic: str = SLA_EVENTS
    notification_events_topic: str = NOTIFICATION_EVENTS
    # WatchQueue streams served at once by this process (each follows the log and journals what
    # it sends); one more is RESOURCE_EXHAUSTED.
    queue_streams_max: int = Field(default=200, ge=1, le=10_000)
    # WatchCase streams served at once by this process (each holds a feed subscription and reads
    # its case's events on every change); one more is RESOURCE_EXHAUSTED. A stream ends cleanly
    # (OK) after watch_case_idle_s without an event and at the latest watch_case_max_s after it
    # began; the client watches again after the last version it received.
    watch_case_streams_max: int = Field(default=500, ge=1, le=10_000)
    watch_case_idle_s: float = Field(default=600.0, gt=0, le=86_400)
    watch_case_max_s: float = Field(default=3600.0, gt=0, le=86_400)

    # The auto-closer (adapters/auto_close.py): a case at «Ответ готов» the citizen does not react
    # to is closed this long after its latest change (README "The end of a case"). A number is
    # days; or a number with a unit: `7d`, `36h`, `90m`, `30s` (the tests' seconds policy).
    auto_close_after: timedelta = Field(default=timedelta(days=7), gt=timedelta())
    # Run it in this process (the first worker only, like the relay), and how often it looks.
    auto_close_enabled: bool = True
    auto_close_scan_s: float = Field(default=60.0, gt=0, le=3600)

    # Personal data sealed inside the events (issue #18, application/personal_data.py): the
    # citizen record, the free texts of a case and its comments, the attachments' names, with
    # each citizen's data key from the key service. Off: stored as sent, no key service needed.
    # On, the index key comes from CASEDESK_KEYS_INDEX_KEY_FILE and the cache's bounds from
    # CASEDESK_KEYS_CACHE_TTL_S / _CACHE_MAX (casedesk_keys.KeysSettings).
    seal_personal_data: bool = False
    # The key service (services/keys), reached with this process's mutual TLS.
    key_service_address: str = Field(default="127.0.0.1:50056", min_length=1)
    # Retention (adapters/retention.py, with sealing on): a citizen whose cases are all closed
    # for longer than this is erased (his data key, in the key service). Five years by default:
    # how long citizens' appeals are kept (README "Sealed personal data"). Same units as
    # auto_close_after (`1826d`, or days as a bare number).
    retention_after_close: timedelta = Field(default=timedelta(days=1826), gt=timedelta())
    # Run it in this process (the first worker only, like the auto-closer), and how often.
    retention_enabled: bool = True
    retention_scan_s: float = Field(default=3600.0, gt=0, le=86_400)

    @field_validator("auto_close_after", "retention_after_close", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)

    @property
    def timeline_follows(self) -> bool:
        """Whether this process runs the timeline's consumer."""
        if self.case_timeline_enabled is None:
            return self.relay_enabled
        return self.case_timeline_enabled


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhms]?)\s*$")
_UNITS = {"": "days", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(value: Any) -> Any:
    """`7`, `7d`, `36h`, `90m`, `30s` as a timedelta (a bare number is days); anything else is
    left to pydantic's own timedelta parsing, which names the problem."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and (match := _DURATION.match(value.lower())):
        amount = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        if amount <= timedelta():
            raise ValueError("must be longer than zero")
        return amount
    return value
