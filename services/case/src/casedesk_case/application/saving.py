"""How the case application stores its events: saves, batches of saves, and snapshots.

eventsourcing's infrastructure hooks, overridden where the service needs more than the defaults;
what depends on the database (recorder, transcodings) comes from an `EventStoreSetup`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate, Snapshot
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    JSONTranscoder,
    Recording,
)
from eventsourcing.utils import Environment, EnvType

from casedesk_case.application.ports import EventStoreSetup


class EventSaving(Application):
    _setup: EventStoreSetup  # set before eventsourcing constructs the store

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        environment = super().construct_env(name, env)
        self._setup.configure(environment)
        return environment

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        self._setup.register_transcodings(transcoder)

    def construct_recorder(self) -> ApplicationRecorder:
        return self._setup.recorder(super().construct_recorder())

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording]:
        """The library's save, collecting the pending events of aggregates directly.

        The library checks each saved object against runtime-checkable Protocols, which on
        Python 3.11 costs more than collecting the events themselves.
        """
        processing_event = _collect(objs)
        processing_event.saved_kwargs.update(kwargs)
        return self._store(processing_event)

    def save_groups(self, groups: Sequence[Sequence[Any]]) -> list[BaseException | None]:
        """Save several commands' aggregates in one transaction; one outcome per group.

        When the transaction is refused (a group conflicts with a concurrent write), each group
        is saved on its own so that only the conflicting ones fail.
        """
        collected = [_collect(group) for group in groups]
        together: ProcessingEvent[Any] = ProcessingEvent()
        for processing_event in collected:
            together.events.extend(processing_event.events)
            together.aggregates.update(processing_event.aggregates)
        try:
            self._store(together)
        except IntegrityError:
            pass  # somebody in the group conflicts: find out who, one by one
        except Exception as error:
            return [error] * len(groups)
        else:
            return [None] * len(groups)
        outcomes: list[BaseException | None] = []
        for processing_event in collected:
            try:
                self._store(processing_event)
            except Exception as error:
                outcomes.append(error)
            else:
                outcomes.append(None)
        return outcomes

    def _store(self, processing_event: ProcessingEvent[Any]) -> list[Recording]:
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def _notify(self, recordings: list[Recording]) -> None:
        """Called after each save with what it stored."""

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


def _collect(objs: Iterable[Any]) -> ProcessingEvent[Any]:
    processing_event: ProcessingEvent[Any] = ProcessingEvent()
    for obj in objs:
        if isinstance(obj, BaseAggregate):
            processing_event.events.extend(obj.collect_events())
            processing_event.aggregates[obj.id] = obj
        else:
            processing_event.collect_events(obj)
    return processing_event
