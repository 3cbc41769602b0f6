"""Settings of the replay tool: the shared CASEDESK_* Kafka variables (bootstrap, security).

The case event store is configured by the eventsourcing library's own variables, as for the case
service (PERSISTENCE_MODULE, SQLITE_DBNAME, POSTGRES_*), and read by that library.
"""

from __future__ import annotations

from casedesk_runtime.settings import ServiceSettings


class ReplaySettings(ServiceSettings):
    service_name: str = "replay"
