"""The analysts' replay reading case events from the case service's event store on PostgreSQL,
when Kafka's history is not enough: cases written by the case application itself, replayed by
`casedesk-replay --case-events-from store` through the library's own variables.

The cases live in a schema of their own, so other tests' cases in the same database do not count.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
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
from casedesk_replay.cli import main

pytestmark = pytest.mark.integration

SYSTEM = CommandMeta(EventContext(Actor(ActorKind.SYSTEM, "intake")))
SPECIALIST = CommandMeta(EventContext(Actor(ActorKind.SPECIALIST, "l1-004")))
CHANNELS = (Channel.EMAIL, Channel.PORTAL_CHAT, Channel.PHONE)
LIFECYCLE = (Status.IN_PROGRESS, Status.ANSWER_READY, Status.CLOSED)


@pytest.fixture
def store_env(postgres_env: dict[str, str], postgres_dsn: str) -> Iterator[dict[str, str]]:
    schema = f"replay_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    yield {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
    }
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@dataclass(frozen=True)
class Written:
    statuses: dict[str, Status]  # case id -> last status
    numbers: dict[str, str]  # case id -> number


@pytest.fixture
def written(store_env: dict[str, str]) -> Written:
    """60 cases through the case application: a third closed, a third in progress, a third new."""
    app = CaseApplication(env=store_env)
    statuses: dict[str, Status] = {}
    numbers: dict[str, str] = {}
    try:
        for index in range(60):
            view = app.create_case(
                channel=CHANNELS[index % 3],
                case_type=CaseType.CONSULTATION,
                category=Category.SERVICE_DELIVERY,
                citizen=Citizen(full_name="Сидорова Анна", account_login=f"sidorova{index}"),
                content=CaseContent(subject="Статус заявления"),
                meta=SYSTEM,
            )
            steps = LIFECYCLE[: 3 if index % 3 == 0 else 1 if index % 3 == 1 else 0]
            for status in steps:
                if status is Status.ANSWER_READY:  # «Ответ готов» needs the answer first
                    app.add_comment(view.case_id, body="Ответ", public=True, meta=SPECIALIST)
                app.change_status(view.case_id, to_status=status, reason="", meta=SPECIALIST)
            statuses[view.case_id] = steps[-1] if steps else Status.REGISTERED
            numbers[view.case_id] = view.number
    finally:
        app.close()
    return Written(statuses, numbers)


def _replay(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main([*argv, "--case-events-from", "store", "--streams", "case", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_the_store_replays_every_case(
    store_env: dict[str, str],
    written: Written,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in store_env.items():
        monkeypatch.setenv(name, value)
    _replay(capsys, "export", "--out", str(tmp_path), "--tables", "cases,status_transitions")
    cases = pq.read_table(tmp_path / "cases.parquet").to_pylist()
    expected = {case_id: status.value for case_id, status in written.statuses.items()}
    assert {row["case_id"]: row["status"] for row in cases} == expected
    assert pq.read_table(tmp_path / "status_transitions.parquet").num_rows == 20 * 3 + 20

    case_id, number = next(iter(written.numbers.items()))
    view = json.loads(_replay(capsys, "case", number))
    assert (view["case_id"], view["status"]) == (case_id, "CLOSED")
    transitions = [line["summary"] for line in view["history"] if "StatusChanged" in line["event"]]
    assert transitions == [
        "REGISTERED -> IN_PROGRESS",
        "IN_PROGRESS -> ANSWER_READY",
        "ANSWER_READY -> CLOSED (CLOSED_BY_SPECIALIST)",  # a specialist closed it
    ]
