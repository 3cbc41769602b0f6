"""Configuration of the SLA service (CASEDESK_* environment variables)."""

from __future__ import annotations

from pydantic import Field

from casedesk_deadlines import DEFAULT_POLICY_VERSION
from casedesk_runtime.settings import ServiceSettings
from casedesk_vocabulary.topics import CASE_EVENTS, SLA_EVENTS


class SlaSettings(ServiceSettings):
    service_name: str = "sla"
    grpc_port: int = Field(default=50053, ge=0, le=65535)

    # CASEDESK_SLA_POLICY_VERSION: the policy new clocks start under (a file shipped with
    # casedesk_deadlines); running clocks keep the version they started with.
    sla_policy_version: str = DEFAULT_POLICY_VERSION
    # Optional TOML file of production-calendar corrections (decrees newer than the release).
    sla_calendar_overrides: str | None = None
    # SQLite file holding clocks, offsets and the outbox; /tmp is the container's writable path.
    sla_db_path: str = "sla.sqlite3"
    # CASEDESK_CASE_EVENTS_TOPIC / CASEDESK_SLA_EVENTS_TOPIC: older than the vocabulary's
    # CASEDESK_<NAME>_TOPIC names and kept, as the system tests and their stacks set them.
    case_events_topic: str = CASE_EVENTS
    sla_events_topic: str = SLA_EVENTS
    sla_consumer_group: str = "casedesk-sla"
    sla_batch_max_records: int = Field(default=1000, ge=1)
    sla_relay_batch_size: int = Field(default=500, ge=1)
