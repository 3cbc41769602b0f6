"""Durable state of the escalation service: decisions, per-case state and consumed offsets."""

from __future__ import annotations

from casedesk_escalation.settings import EscalationSettings
from casedesk_escalation.store.dialects import postgres_dialect, sqlite_dialect
from casedesk_escalation.store.sql import DecisionStore


def store_from_settings(settings: EscalationSettings) -> DecisionStore:
    if settings.escalation_store == "postgres":
        return DecisionStore(postgres_dialect(settings.postgres_conninfo()))
    return DecisionStore(sqlite_dialect(settings.escalation_sqlite_path))
