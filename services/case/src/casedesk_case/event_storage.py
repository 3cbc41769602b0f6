"""How the case application stores its events: recorder, transcodings, saves and snapshots.

eventsourcing's infrastructure hooks, overridden where the service needs more than the defaults.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate, Snapshot
from eventsourcing.persistence import ApplicationRecorder, JSONTranscoder, Recording
from eventsourcing.utils import Environment, EnvType

from casedesk_case.group_commit import GroupCommitRecorder
from casedesk_case.transcodings import register_domain_transcodings

# Named, not imported: the module pulls in PostgreSQL's driver, needed only there.
POSTGRES_RECORDER_TOPIC = "casedesk_case.postgres_store:CasePostgresRecorder"


class CaseEventStorage(Application):
    _group_commit: bool = True  # set before eventsourcing constructs the recorder

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        environment = super().construct_env(name, env)
        # On PostgreSQL, this service's recorder writes the same table far cheaper (see
        # postgres_store.py); a recorder named in the environment still wins.
        if environment.get("PERSISTENCE_MODULE") == "eventsourcing.postgres" and not (
            environment.get("APPLICATION_RECORDER_TOPIC")
        ):
            environment["APPLICATION_RECORDER_TOPIC"] = POSTGRES_RECORDER_TOPIC
        return environment

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    def construct_recorder(self) -> ApplicationRecorder:
        recorder = super().construct_recorder()
        return GroupCommitRecorder(recorder) if self._group_commit else recorder

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording]:
        """The library's save, collecting the pending events of aggregates directly.

        The library checks each saved object against runtime-checkable Protocols, which on
        Python 3.11 costs more than collecting the events themselves.
        """
        processing_event: ProcessingEvent[Any] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, BaseAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def _take_snapshots(self, processing_event: ProcessingEvent[Any]) -> None:
        # Snapshot the aggregate just saved instead of rebuilding it from the store (the
        # library's way): a snapshot may then sit a version or two past the interval.
        if self.snapshots is None:
            return
        for aggregate_id, aggregate in processing_event.aggregates.items():
            interval = self.snapshotting_intervals.get(type(aggregate))
            versions = [
                e.originator_version
                for e in processing_event.events
                if e.originator_id == aggregate_id
            ]
            if interval and any(v % interval == 0 for v in versions):
                self.snapshots.put([Snapshot.take(aggregate)])
