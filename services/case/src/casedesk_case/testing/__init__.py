"""Test support for the case service's suites and for other suites that need a case store.

`CaseApplication` here is the application as the service assembles it (its own event store
adapters, the shipped roster unless one is given), constructed from eventsourcing's variables
alone: what tests and benchmarks write cases with.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.utils import EnvType

from casedesk_case import application
from casedesk_case.adapters.persistence import CaseStoreSetup
from casedesk_case.adapters.roster_file import load_roster
from casedesk_case.application import CommandMeta
from casedesk_case.domain.assignment import Roster

__all__ = ["CaseApplication", "CommandMeta"]


class CaseApplication(application.CaseApplication):
    # eventsourcing names a subclass after itself; the store's tables and variables are the
    # service's, so the name stays.
    name = application.CaseApplication.name

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        roster: Roster | None = None,
        group_commit: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(
            env,
            store_setup=CaseStoreSetup(group_commit=group_commit),
            roster=roster if roster is not None else load_roster(),
            **options,
        )
