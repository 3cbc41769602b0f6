"""The case service's event store and case index on the database eventsourcing was given.

Implements the application's `EventStoreSetup`: on PostgreSQL the service's own recorder
(postgres_recorder.py), saves grouped into shared transactions (group_commit.py), the domain's
values stored by explicit names (transcodings.py); the case index (casedesk_case.adapters.readmodel)
and the access journal (casedesk_case.adapters.access_journal) live next to the events.
"""

from __future__ import annotations

from typing import Any, cast

from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, JSONTranscoder
from eventsourcing.utils import Environment

from casedesk_case.adapters.persistence.group_commit import GroupCommitRecorder
from casedesk_case.adapters.persistence.transcodings import (
    TRANSCODER_TOPIC,
    register_domain_transcodings,
)
from casedesk_case.application.ports import AccessJournal, CaseIndex

# Named, not imported: the module pulls in PostgreSQL's driver, needed only there.
POSTGRES_RECORDER_TOPIC = (
    "casedesk_case.adapters.persistence.postgres_recorder:CasePostgresRecorder"
)


class CaseStoreSetup:
    def __init__(self, *, group_commit: bool = True) -> None:
        self._group_commit = group_commit

    def configure(self, environment: Environment) -> None:
        # On PostgreSQL, this service's recorder writes the same table far cheaper (see
        # postgres_recorder.py); a recorder named in the environment still wins.
        if environment.get("PERSISTENCE_MODULE") == "eventsourcing.postgres" and not (
            environment.get("APPLICATION_RECORDER_TOPIC")
        ):
            environment["APPLICATION_RECORDER_TOPIC"] = POSTGRES_RECORDER_TOPIC
        # The same JSON as the library's transcoder, written for less (transcodings.py).
        if not environment.get("TRANSCODER_TOPIC"):
            environment["TRANSCODER_TOPIC"] = TRANSCODER_TOPIC

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        register_domain_transcodings(transcoder)

    def recorder(self, recorder: ApplicationRecorder) -> ApplicationRecorder:
        return GroupCommitRecorder(recorder) if self._group_commit else recorder

    def case_index(self, factory: InfrastructureFactory[Any]) -> CaseIndex:
        # Imported here: each implementation pulls in its database driver.
        module = type(factory).__module__
        if module == "eventsourcing.postgres":
            from casedesk_case.adapters.readmodel.postgres import PostgresCaseIndex

            return cast(CaseIndex, factory.tracking_recorder(PostgresCaseIndex))
        if module == "eventsourcing.sqlite":
            from casedesk_case.adapters.readmodel.sql import SQLiteCaseIndex

            return cast(CaseIndex, factory.tracking_recorder(SQLiteCaseIndex))
        from casedesk_case.adapters.readmodel.memory import InMemoryCaseIndex

        return cast(CaseIndex, factory.tracking_recorder(InMemoryCaseIndex))

    def access_journal(self, factory: InfrastructureFactory[Any]) -> AccessJournal:
        module = type(factory).__module__
        journal: AccessJournal
        if module == "eventsourcing.postgres":
            from casedesk_case.adapters.access_journal.postgres import PostgresAccessJournal

            journal = PostgresAccessJournal(factory.datastore)  # type: ignore[attr-defined]
        elif module == "eventsourcing.sqlite":
            from casedesk_case.adapters.access_journal.sql import SQLiteAccessJournal

            journal = SQLiteAccessJournal(factory.datastore)  # type: ignore[attr-defined]
        else:
            from casedesk_case.adapters.access_journal.memory import InMemoryAccessJournal

            return InMemoryAccessJournal()
        # Like the event tables: created unless CREATE_TABLE=false (tables made by a migration).
        if factory.env_create_table():  # type: ignore[attr-defined]
            journal.create_table()
        return journal
