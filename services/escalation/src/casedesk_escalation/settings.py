"""Configuration of the escalation process (CASEDESK_* variables, see the README)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from casedesk_escalation.wire import CASE_TOPIC, DECISION_TOPIC, SLA_TOPIC, Topics
from casedesk_runtime.settings import ServiceSettings


class EscalationSettings(ServiceSettings):
    service_name: str = "escalation"
    grpc_port: int = Field(default=50054, ge=0, le=65535)

    # gRPC address of the case service (host:port).
    case_address: str = "127.0.0.1:50052"
    # Per-attempt deadline of an Escalate call, and how often a call failing with an unexpected
    # error (INTERNAL, UNKNOWN, ...) is retried before the decision is journaled as refused.
    # Unavailability is retried without limit: an escalation is delayed, never dropped.
    case_call_timeout_s: float = Field(default=5.0, gt=0)
    case_call_attempts: int = Field(default=5, ge=1)

    # A policy TOML to use instead of the packaged one (same format, its own version string).
    escalation_policy_file: str | None = None
    escalation_consumer_group: str = "casedesk-escalation"
    case_events_topic: str = CASE_TOPIC
    sla_events_topic: str = SLA_TOPIC
    escalation_decisions_topic: str = DECISION_TOPIC
    escalation_batch_max: int = Field(default=500, ge=1)
    # Cases whose Escalate calls run at the same time (a case's own calls are always sequential).
    escalation_call_concurrency: int = Field(default=32, ge=1)
    # How long a citizen's "no answer in time" may wait for sla.events.v1 to be read to its end.
    escalation_breach_wait_s: float = Field(default=5.0, ge=0)
    # Per-case states kept in memory between batches.
    escalation_state_cache: int = Field(default=100_000, ge=0)

    # Where decisions, per-case state and offsets live: an SQLite file, or PostgreSQL reached
    # through the same POSTGRES_* variables as the case service's event store.
    escalation_store: Literal["sqlite", "postgres"] = "sqlite"
    escalation_sqlite_path: str = "escalation.sqlite"
    postgres_host: str | None = Field(default=None, validation_alias="POSTGRES_HOST")
    postgres_port: int = Field(default=5432, validation_alias="POSTGRES_PORT")
    postgres_dbname: str | None = Field(default=None, validation_alias="POSTGRES_DBNAME")
    postgres_user: str | None = Field(default=None, validation_alias="POSTGRES_USER")
    postgres_password: str | None = Field(default=None, validation_alias="POSTGRES_PASSWORD")

    @model_validator(mode="after")
    def _postgres_complete(self) -> EscalationSettings:
        if self.escalation_store == "postgres":
            missing = [
                name
                for name, value in (
                    ("POSTGRES_HOST", self.postgres_host),
                    ("POSTGRES_DBNAME", self.postgres_dbname),
                    ("POSTGRES_USER", self.postgres_user),
                )
                if not value
            ]
            if missing:
                raise ValueError("CASEDESK_ESCALATION_STORE=postgres needs " + ", ".join(missing))
        return self

    def topics(self) -> Topics:
        return Topics(
            self.case_events_topic, self.sla_events_topic, self.escalation_decisions_topic
        )

    def postgres_conninfo(self) -> dict[str, Any]:
        return {
            "host": self.postgres_host,
            "port": self.postgres_port,
            "dbname": self.postgres_dbname,
            "user": self.postgres_user,
            "password": self.postgres_password,
        }
