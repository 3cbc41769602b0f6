"""The case timeline on PostgreSQL: the shared SQL, in the event store's schema, case by case.

Replicas of the case service share the consumer group, so a case's records reach one of them at a
time, except around a rebalance, when the previous owner may still be recording a batch the new
owner reads again. Each recorder therefore takes a transaction-scoped advisory lock per case it
recomputes (in case-id order, so two batches never wait for each other in a circle): without it,
two transactions could each recompute a clock without the other's new fact and the later commit
would win.
"""

from __future__ import annotations

from typing import Any

from casedesk_case.adapters.timeline.sql import FACTS_TABLE, SqlCaseTimeline
from casedesk_case.application.timeline import SLA_TABLE


class PostgresCaseTimeline(SqlCaseTimeline):
    placeholder = "%s"

    def __init__(self, datastore: Any) -> None:
        super().__init__(datastore)
        self.schema = datastore.schema
        self.facts_table = f'"{self.schema}".{FACTS_TABLE}'
        self.sla_table = f'"{self.schema}".{SLA_TABLE}'

    def create_statements(self) -> list[str]:
        lock_name = f"{self.schema}.{FACTS_TABLE}".replace("'", "''")
        # Replicas starting together would race on the catalog ("duplicate key value violates
        # unique constraint pg_type_typname_nsp_index"): one at a time.
        return [f"SELECT pg_advisory_xact_lock(hashtext('{lock_name}'))",
                *super().create_statements()]  # fmt: skip

    def _lock_cases(self, cursor: Any, case_ids: list[str]) -> None:
        if case_ids:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('case_sla/' || c, 0)) "
                "FROM unnest(%s::text[]) AS c",
                [case_ids],
            )
