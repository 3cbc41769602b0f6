"""What `casedesk-replay` says about gaps, and `report --compare-with-store`, end to end on record
files and a SQLite event store (the same on Kafka and PostgreSQL: tests/integration)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from casedesk_replay.cli import EXIT_FAILED, EXIT_TOPIC_INCOMPLETE, main
from casedesk_replay.sources import EVERYTHING, TimeRange
from casedesk_replay.sources.recordfile import MAGIC_V1, RecordFileWriter, read_header
from casedesk_replay.sources.store import CaseStoreReader
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic import Scenario
from casedesk_replay_testing.synthetic.builders import MINUTE, T0, CaseEvents

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
SYSTEM = CommandMeta(EventContext(Actor(ActorKind.SYSTEM, "intake")))
SPECIALIST = CommandMeta(EventContext(Actor(ActorKind.SPECIALIST, "l1-004")))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(path: Path, events: Sequence[Any], window: TimeRange | None = EVERYTHING) -> Path:
    with RecordFileWriter(path, window) as writer:
        writer.write_all(Stream.CASE, (event.SerializeToString() for event in events))
    return path


def story(case_id: str, events: int) -> list[Any]:
    case = CaseEvents(case_id=case_id)
    case.created(T0)
    for index in range(1, events):
        case.comment(T0 + index * MINUTE)
    return case.events


@pytest.fixture
def gapped(tmp_path: Path) -> Path:
    """A's version 3 and B's Created never arrived; A's version 2 arrived twice."""
    a, b = story(A, 5), story(B, 3)
    return write(tmp_path / "gapped.records", [a[0], a[1], b[1], a[1], a[3], b[2], a[4]])


def flat(text: str) -> str:
    """Error messages are wrapped to the terminal's width."""
    return " ".join(text.split())


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "WARNING" in line]


# -- gaps --------------------------------------------------------------------------------------


def test_report_warns_about_gaps_and_puts_them_in_the_json(
    gapped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "report", "--file", str(gapped), "--json")
    assert code == 0, err
    assert json.loads(out)["gaps"] == {
        "judged_from": "version 1",
        "cases": 2,
        "cases_with_gaps": 2,
        "missing_events": 2,
        "duplicate_records": 1,
        "examples": [{"case_id": A, "versions": [3]}, {"case_id": B, "versions": [1]}],
    }
    assert warnings(err) == [
        "WARNING: gaps in the case stream: 2 events missing in 2 of 2 cases (versions expected "
        "from version 1); 1 duplicate record (re-sent, counted once). Figures about these cases "
        "are incomplete."
    ]
    assert f"case {A}: missing version 3" in err
    assert f"case {B}: missing version 1" in err
    assert "--compare-with-store" in err


def test_a_complete_stream_gives_no_warning_and_zeros(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = write(tmp_path / "all.records", scenario.case_events)
    code, out, err = run(capsys, "report", "--file", str(records), "--json")
    assert code == 0
    gaps = json.loads(out)["gaps"]
    assert (gaps["cases"], gaps["cases_with_gaps"], gaps["missing_events"]) == (
        scenario.expected.cases,
        0,
        0,
    )
    assert (gaps["duplicate_records"], gaps["examples"]) == (0, [])
    assert "WARNING" not in err
    code, _, err = run(capsys, "report", "--file", str(records))
    assert code == 0 and "WARNING" not in err


def test_export_what_if_and_case_warn_too(
    gapped: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "export", "--file", str(gapped), "--out", str(tmp_path / "t"))
    assert code == 0 and len(warnings(err)) == 1 and "2 events missing in 2 of 2 cases" in err
    code, _, err = run(capsys, "what-if", "--file", str(gapped), "--policy", "test-seconds")
    assert code == 0 and "2 events missing in 2 of 2 cases" in err
    code, out, err = run(capsys, "case", A, "--file", str(gapped))
    assert code == 0 and json.loads(out)["version"] == 5
    assert "1 event missing in 1 of 1 case " in err and f"case {A}: missing version 3" in err


def test_a_capture_of_a_window_replays_without_false_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --since fell after A's versions 1-2: the file starts mid-case, which is no gap...
    window = TimeRange(since=datetime(2025, 10, 20, 9, 2, tzinfo=UTC))
    later = story(A, 6)[2:]
    windowed = write(tmp_path / "window.records", later, window)
    code, out, err = run(capsys, "report", "--file", str(windowed), "--json")
    gaps = json.loads(out)["gaps"]
    assert code == 0 and "WARNING" not in err
    assert (gaps["judged_from"], gaps["cases_with_gaps"]) == ("the first version seen", 0)
    # ...but a hole inside the window is one.
    holed = write(tmp_path / "holed.records", [later[0], later[2], later[3]], window)
    code, out, err = run(capsys, "report", "--file", str(holed), "--json")
    assert json.loads(out)["gaps"]["examples"] == [{"case_id": A, "versions": [4]}]
    assert len(warnings(err)) == 1
    # The same records said to hold everything: versions 1 and 2 are missing.
    whole = write(tmp_path / "whole.records", later)
    code, out, _ = run(capsys, "report", "--file", str(whole), "--json")
    assert json.loads(out)["gaps"]["examples"] == [{"case_id": A, "versions": [1, 2]}]


def test_capture_writes_the_window_it_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = TimeRange(since=datetime(2025, 10, 20, 12, tzinfo=UTC), until=None)
    source = write(tmp_path / "window.records", story(A, 3)[1:], window)
    copy = tmp_path / "copy.records"
    code, _, err = run(capsys, "capture", "--file", str(source), "--out", str(copy))
    assert code == 0, err
    assert read_header(copy).window == window
    code, out, _ = run(capsys, "report", "--file", str(copy), "--json")
    assert json.loads(out)["gaps"]["cases_with_gaps"] == 0


def test_a_version_1_record_file_is_read_as_a_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Files written before the window line: still read; nothing said about their start, so
    only holes between the first and last version seen count."""
    events = story(A, 5)
    path = tmp_path / "v1.records"
    with path.open("wb") as file:
        file.write(MAGIC_V1)
    with RecordFileWriter(tmp_path / "v2.records") as writer:
        writer.write_all(Stream.CASE, (e.SerializeToString() for e in (events[2], events[4])))
    v2 = (tmp_path / "v2.records").read_bytes()
    with path.open("ab") as file:
        file.write(v2[read_header(tmp_path / "v2.records").size :])
    assert read_header(path).window is None
    code, out, err = run(capsys, "report", "--file", str(path), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["events"]["case"] == 2
    assert report["gaps"]["judged_from"] == "the first version seen"
    assert report["gaps"]["examples"] == [{"case_id": A, "versions": [4]}]


# -- the topic compared with the event store ---------------------------------------------------


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Four cases in a SQLite event store, chosen by the library's variables; their events as
    the relay publishes them."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    app = CaseApplication(env=env, group_commit=False)
    try:
        for index in range(4):
            view = app.create_case(
                channel=Channel.EMAIL, case_type=CaseType.TECHNICAL,
                category=Category.TECHNICAL_FAULT,
                citizen=Citizen(full_name="Петров Пётр", account_login=f"petrov{index}"),
                content=CaseContent(subject="Ошибка входа"), meta=SYSTEM,
            )  # fmt: skip
            for status in (Status.IN_PROGRESS, Status.ANSWER_READY)[: index % 3]:
                if status is Status.ANSWER_READY:  # «Ответ готов» needs the answer first
                    app.add_comment(view.case_id, body="Ответ", public=True, meta=SPECIALIST)
                app.change_status(view.case_id, to_status=status, reason="", meta=SPECIALIST)
    finally:
        app.close()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reader = CaseStoreReader(env)
    try:
        events, _ = reader.case_events(0, reader.last_notification_id(), 1_000)
    finally:
        reader.close()
    yield events


def compare(capsys: pytest.CaptureFixture[str], topic: Path, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "report", "--file", str(topic), "--streams", "case",
               "--compare-with-store", *extra)  # fmt: skip


def test_a_topic_missing_a_stored_event_fails_with_status_3(
    stored: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lost = next(e for e in stored if e.meta.case_version == 2)
    resent = stored[0]
    foreign = story(B, 2)  # a case the store has never heard of
    topic = [e for e in stored if e is not lost] + [resent, *foreign]
    records = write(tmp_path / "topic.records", topic)

    code, out, err = compare(capsys, records, "--json")
    assert code == EXIT_TOPIC_INCOMPLETE
    comparison = json.loads(out)["store_comparison"]
    assert comparison == {
        "stored_events": len(stored),
        "stored_cases": 4,
        "topic_events": len(stored) - 1 + 2,
        "topic_duplicates": 1,
        "missing_from_topic": 1,
        "cases_missing_events": 1,
        "cases_absent_from_topic": 0,
        "not_in_store": 2,
        "cases_not_in_store": 1,
        "missing_examples": [{"case_id": lost.meta.case_id, "versions": [2]}],
        "not_in_store_examples": [{"case_id": B, "versions": [1, 2]}],
        "topic_complete": False,
    }
    assert f"WARNING: the topic misses 1 of the {len(stored)} events in the case event store" in err
    assert f"case {lost.meta.case_id}: missing version 2" in err

    code, out, _ = compare(capsys, records)
    assert code == EXIT_TOPIC_INCOMPLETE
    assert f"events in the store: {len(stored)} (4 cases)" in out
    assert "stored events missing from the topic: 1 (in 1 case, 0 of them" in out
    assert f"case {lost.meta.case_id}: version 2" in out
    assert "events on the topic not in the store: 2 (in 1 case)" in out
    assert "duplicate records on the topic: 1" in out


def test_a_case_that_never_reached_the_topic_is_no_gap_but_is_missing(
    stored: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = stored[0].meta.case_id
    records = write(tmp_path / "t.records", [e for e in stored if e.meta.case_id != absent])
    code, out, err = compare(capsys, records, "--json")
    report = json.loads(out)
    assert code == EXIT_TOPIC_INCOMPLETE
    assert report["gaps"]["cases_with_gaps"] == 0  # only the store can tell
    assert report["store_comparison"]["cases_absent_from_topic"] == 1
    assert len(warnings(err)) == 1


def test_a_complete_topic_passes(
    stored: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Published out of order and partly twice, as a relay recovering from an outage might.
    records = write(tmp_path / "t.records", [*stored[::-1], *stored[:3]])
    code, out, err = compare(capsys, records, "--json")
    assert code == 0, err
    comparison = json.loads(out)["store_comparison"]
    assert (comparison["missing_from_topic"], comparison["topic_duplicates"]) == (0, 3)
    assert comparison["topic_complete"] is True
    assert "WARNING" not in err
    assert "read the case event store:" in err


def test_comparisons_that_would_mislead_are_refused(
    stored: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = write(tmp_path / "t.records", stored)
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    code, _, err = compare(capsys, records, "--since", since)
    assert code == EXIT_FAILED and "leave out --since and --until" in flat(err)
    code, _, err = run(capsys, "report", "--compare-with-store", "--case-events-from", "store",
                       "--streams", "case")  # fmt: skip
    assert code == EXIT_FAILED and "leave out --case-events-from store" in flat(err)
    code, _, err = compare(capsys, records, "--streams", "sla")
    assert code == EXIT_FAILED and "needs the case stream" in flat(err)
    windowed = write(tmp_path / "w.records", stored, TimeRange(since=datetime.now(UTC)))
    code, _, err = compare(capsys, windowed)
    assert code == EXIT_FAILED and "cannot be compared with the store" in flat(err)
