"""The analysts' replay notices what an outage of the outbox relay left out of case.events.v1.

On the real broker: a topic with one event held back in the middle of a case, one case's Created
held back and one record re-sent, read whole and from a window that opens mid-case; and a topic
compared with the case service's event store on PostgreSQL, before and after the missing events
are published late (out of order, as a recovering relay would).

Every topic carries a unique prefix, and the cases a schema of their own, so that other tests'
events do not count.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
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
from casedesk_replay.cli import EXIT_TOPIC_INCOMPLETE, main
from casedesk_replay.sources.store import CaseStoreReader
from casedesk_replay.topics import Stream, TopicMap
from casedesk_replay_testing.synthetic import generate
from casedesk_replay_testing.synthetic.publish import publish_events

pytestmark = pytest.mark.integration

SYSTEM = CommandMeta(EventContext(Actor(ActorKind.SYSTEM, "intake")))
SPECIALIST = CommandMeta(EventContext(Actor(ActorKind.SPECIALIST, "l1-004")))
LIFECYCLE = (Status.IN_PROGRESS, Status.ANSWER_READY, Status.CLOSED)


def _replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _key(event: Any) -> tuple[str, int]:
    return event.meta.case_id, event.meta.case_version


def test_the_replay_warns_about_events_missing_from_the_topic(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = generate(150, seed=4242).case_events
    tops: dict[str, int] = {}
    for event in events:
        tops[event.meta.case_id] = max(tops.get(event.meta.case_id, 0), event.meta.case_version)
    long_cases = sorted(case_id for case_id, top in tops.items() if top >= 5)
    holed, headless = long_cases[0], long_cases[1]
    held_back = {(holed, 4), (headless, 1)}
    # Two publications a second apart, so that `--since` can open a window between them, in the
    # middle of every case that has more than two events.
    early = [e for e in events if e.meta.case_version <= 2 and _key(e) not in held_back]
    late = [e for e in events if e.meta.case_version >= 3 and _key(e) not in held_back]
    resent = late[len(late) // 2]
    topics = TopicMap(prefix=f"it-gaps-{uuid.uuid4().hex[:8]}.")
    topic = topics.topic(Stream.CASE)
    asyncio.run(publish_events(kafka_bootstrap, topic, early))
    time.sleep(1.1)  # record timestamps are milliseconds: keep the publications apart
    between = datetime.now(UTC)
    time.sleep(0.1)
    asyncio.run(publish_events(kafka_bootstrap, topic, [*late, resent]))
    common = ["--bootstrap", kafka_bootstrap, "--topic-prefix", topics.prefix, "--streams", "case"]

    code, out, err = _replay(capsys, "report", *common, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["events"]["case"] == len(events) - 2 + 1
    assert report["gaps"] == {
        "judged_from": "version 1",
        "cases": len(tops),
        "cases_with_gaps": 2,
        "missing_events": 2,
        "duplicate_records": 1,
        "examples": sorted(
            [{"case_id": holed, "versions": [4]}, {"case_id": headless, "versions": [1]}],
            key=lambda example: example["case_id"],
        ),
    }
    assert f"WARNING: gaps in the case stream: 2 events missing in 2 of {len(tops)} cases" in err
    assert f"case {holed}: missing version 4" in err

    # A window opened after versions 1-2: only the hole inside it counts.
    code, out, err = _replay(capsys, "report", *common, "--json", "--since", between.isoformat())
    assert code == 0, err
    gaps = json.loads(out)["gaps"]
    assert gaps["judged_from"] == "the first version seen"
    assert gaps["cases"] == len([case_id for case_id, top in tops.items() if top >= 3])
    assert (gaps["cases_with_gaps"], gaps["missing_events"], gaps["duplicate_records"]) == (1, 1, 1)
    assert gaps["examples"] == [{"case_id": holed, "versions": [4]}]

    code, _, err = _replay(capsys, "export", *common, "--out", str(tmp_path / "tables"))
    assert code == 0 and "2 events missing in 2 of" in err


@pytest.fixture
def store_env(
    postgres_env: dict[str, str], postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The case service's store in a schema of its own, chosen through the library's variables
    in the environment, as an operator would run the replay."""
    schema = f"replay_gaps_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    env = {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def stored_events(store_env: dict[str, str]) -> list[Any]:
    """Twelve cases written by the case application; their events as the relay publishes them."""
    app = CaseApplication(env=store_env)
    try:
        for index in range(12):
            view = app.create_case(
                channel=Channel.EMAIL, case_type=CaseType.CONSULTATION,
                category=Category.SERVICE_DELIVERY,
                citizen=Citizen(full_name="Сидорова Анна", account_login=f"sidorova{index}"),
                content=CaseContent(subject="Статус заявления"), meta=SYSTEM,
            )  # fmt: skip
            for status in LIFECYCLE[: index % 4]:
                if status is Status.ANSWER_READY:  # «Ответ готов» needs the answer first
                    app.add_comment(view.case_id, body="Ответ", public=True, meta=SPECIALIST)
                app.change_status(view.case_id, to_status=status, reason="", meta=SPECIALIST)
    finally:
        app.close()
    reader = CaseStoreReader(store_env)
    try:
        events, _ = reader.case_events(0, reader.last_notification_id(), 10_000)
    finally:
        reader.close()
    return events


def test_report_compares_the_topic_with_the_event_store(
    kafka_bootstrap: str, stored_events: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    by_case: dict[str, list[Any]] = {}
    for event in stored_events:
        by_case.setdefault(event.meta.case_id, []).append(event)
    holed = next(case_id for case_id, events in by_case.items() if len(events) == 3)
    absent = next(case_id for case_id, events in by_case.items() if len(events) == 2)
    lost = [by_case[holed][1], *by_case[absent]]
    published = [e for e in stored_events if e not in lost]
    topics = TopicMap(prefix=f"it-gaps-{uuid.uuid4().hex[:8]}.")
    topic = topics.topic(Stream.CASE)
    asyncio.run(publish_events(kafka_bootstrap, topic, [*published, published[0]]))
    argv = ["report", "--compare-with-store", "--bootstrap", kafka_bootstrap,
            "--topic-prefix", topics.prefix, "--streams", "case", "--json"]  # fmt: skip

    code, out, err = _replay(capsys, *argv)
    assert code == EXIT_TOPIC_INCOMPLETE, err
    comparison = json.loads(out)["store_comparison"]
    assert comparison == {
        "stored_events": len(stored_events),
        "stored_cases": 12,
        "topic_events": len(stored_events) - 3,
        "topic_duplicates": 1,
        "missing_from_topic": 3,
        "cases_missing_events": 2,
        "cases_absent_from_topic": 1,
        "not_in_store": 0,
        "cases_not_in_store": 0,
        "missing_examples": sorted(
            [{"case_id": holed, "versions": [2]}, {"case_id": absent, "versions": [1, 2]}],
            key=lambda example: example["case_id"],
        ),
        "not_in_store_examples": [],
        "topic_complete": False,
    }
    assert f"WARNING: the topic misses 3 of the {len(stored_events)} events" in err
    assert f"case {holed}: missing version 2" in err

    # The relay catches up: the missing events arrive late, after their successors.
    asyncio.run(publish_events(kafka_bootstrap, topic, lost))
    code, out, err = _replay(capsys, *argv)
    assert code == 0, err
    report = json.loads(out)
    assert report["store_comparison"]["topic_complete"] is True
    assert report["store_comparison"]["topic_events"] == len(stored_events)
    assert (report["gaps"]["cases_with_gaps"], report["gaps"]["duplicate_records"]) == (0, 1)
    assert "WARNING" not in err
