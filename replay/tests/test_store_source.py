"""Reading case events from the case service's event store (SQLite), written by its application."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from casedesk_case.application import CommandMeta
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    EventContext,
    Status,
)
from casedesk_case.testing import CaseApplication
from casedesk_replay.progress import SilentProgress
from casedesk_replay.projections import ReplayState
from casedesk_replay.runner import Replay
from casedesk_replay.sources import SourceError, TimeRange
from casedesk_replay.sources.store import EventStoreSource, find_case_by_number

SPECIALIST = CommandMeta(EventContext(Actor(ActorKind.SPECIALIST, "l1-004")))
SYSTEM = CommandMeta(EventContext(Actor(ActorKind.SYSTEM, "intake")))


@pytest.fixture
def store_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "cases.db"),
    }


@pytest.fixture
def cases(store_env: dict[str, str]) -> Iterator[list[str]]:
    """Five cases: two answered, one closed, two just registered."""
    app = CaseApplication(env=store_env, group_commit=False)
    ids = []
    for index in range(5):
        view = app.create_case(
            channel=Channel.EMAIL, case_type=CaseType.TECHNICAL, category=Category.TECHNICAL_FAULT,
            citizen=Citizen(full_name="Петров Пётр", account_login=f"petrov{index}"),
            content=CaseContent(subject="Ошибка входа"), meta=SYSTEM,
        )  # fmt: skip
        ids.append(view.case_id)
    for case_id in ids[:3]:
        for status in (Status.IN_PROGRESS, Status.ANSWER_READY):
            if status is Status.ANSWER_READY:  # «Ответ готов» needs the answer first
                app.add_comment(case_id, body="Ответ", public=True, meta=SPECIALIST)
            app.change_status(case_id, to_status=status, reason="", meta=SPECIALIST)
    app.change_status(ids[0], to_status=Status.CLOSED, reason="", meta=SPECIALIST)
    yield ids
    app.close()


def replay(source: EventStoreSource) -> tuple[ReplayState, SilentProgress]:
    state, progress = ReplayState(), SilentProgress()
    asyncio.run(Replay([source], state, progress).run())
    return state, progress


def test_the_whole_store_replays_as_case_events(store_env, cases) -> None:
    state, progress = replay(EventStoreSource(store_env, batch_size=3))
    assert set(state.cases.rows) == set(cases)
    statuses = sorted(state.cases.rows[case_id]["status"] for case_id in cases)
    assert statuses == ["ANSWER_READY", "ANSWER_READY", "CLOSED", "REGISTERED", "REGISTERED"]
    assert len(state.cases.transitions) == 7
    assert state.cases.duplicates == 0
    assert all(
        row["created_seen"] and row["channel"] == "EMAIL" for row in state.cases.rows.values()
    )
    assert progress.events == state.events["case"] > 0


def test_one_case_is_read_from_its_own_stream(store_env, cases) -> None:
    state, _ = replay(EventStoreSource(store_env, case_id=UUID(cases[0])))
    assert list(state.cases.rows) == [cases[0]]
    assert state.cases.rows[cases[0]]["status"] == "CLOSED"


def test_a_time_range_keeps_the_events_that_occurred_in_it(store_env, cases) -> None:
    future = datetime.now(UTC) + timedelta(days=1)
    state, _ = replay(EventStoreSource(store_env, TimeRange(since=future)))
    assert state.cases.rows == {}
    state, _ = replay(EventStoreSource(store_env, TimeRange(until=future)))
    assert len(state.cases.rows) == len(cases)


def test_a_case_number_is_looked_up_in_the_store(store_env, cases) -> None:
    state, _ = replay(EventStoreSource(store_env, case_id=UUID(cases[1])))
    number = state.cases.rows[cases[1]]["number"]
    assert find_case_by_number(number, store_env) == cases[1]
    assert find_case_by_number("1999-0000001", store_env) is None


def test_a_store_without_tables_is_reported_not_created(tmp_path: Path) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "none.db")}
    with pytest.raises(SourceError, match="cannot open the case event store"):
        replay(EventStoreSource(env))
