"""The case timeline (application/timeline.py): what sla.events.v1 and notification.events.v1 say
about cases, kept in the case service's own database (SQLite or PostgreSQL, as eventsourcing's
variables choose, beside the case index) or in memory for the POPO store, and the Kafka consumer
that keeps it (consumer.py)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import InfrastructureFactory

from casedesk_case.adapters.timeline.store import TimelineStore

__all__ = ["TimelineStore", "case_timeline"]


def case_timeline(factory: InfrastructureFactory[Any]) -> TimelineStore:
    """The timeline on the database of the application's event store (`app.factory`)."""
    # Imported here: each implementation pulls in its database driver.
    module = type(factory).__module__
    store: TimelineStore
    if module == "eventsourcing.postgres":
        from casedesk_case.adapters.timeline.postgres import PostgresCaseTimeline

        store = PostgresCaseTimeline(factory.datastore)  # type: ignore[attr-defined]
    elif module == "eventsourcing.sqlite":
        from casedesk_case.adapters.timeline.sql import SQLiteCaseTimeline

        store = SQLiteCaseTimeline(factory.datastore)  # type: ignore[attr-defined]
    else:
        from casedesk_case.adapters.timeline.memory import InMemoryCaseTimeline

        return InMemoryCaseTimeline()
    # Like the event tables: created unless CREATE_TABLE=false (tables made by a migration).
    if factory.env_create_table():  # type: ignore[attr-defined]
        store.create_tables()
    return store
