"""`casedesk-replay what-if` on a record file of case events only: a baseline policy replayed in
the same pass, the breach list, the SLA events it emits and the counts of the SLA service's own
what-if tool (which this command replaced)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf import json_format

from casedesk.case.v1.events_pb2 import CaseEvent
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_replay.cli import main
from casedesk_replay.sources.recordfile import RecordFileWriter
from casedesk_replay.topics import Stream, TopicMap
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import Channel

# A Monday, well clear of Russian holidays, 10:00 Moscow time.
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def record_file(path: Path, events: list[CaseEvent]) -> Path:
    with RecordFileWriter(path) as writer:
        writer.write_all(Stream.CASE, (event.SerializeToString() for event in events))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def records(tmp_path: Path) -> Path:
    chat = CaseStream("chat-1", at=T0)
    return record_file(
        tmp_path / "cases.records",
        [
            chat.created(),
            chat.commented(public=True, at=T0 + timedelta(seconds=10)),
            CaseStream("mail-1", channel=Channel.EMAIL, at=T0).created(),
        ],
    )


def whatif_argv(records: Path, *more: str) -> list[str]:
    return ["what-if", "--file", str(records), "--policy", "test-seconds", "--baseline", "2023.1",
            "--as-of", "2026-03-02T10:01:00+03:00", "--list", *more]  # fmt: skip


def test_reports_what_would_breach_under_another_policy(
    records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emitted = tmp_path / "sla-events.jsonl"

    code, out, err = run(capsys, *whatif_argv(records, "--json", "--emit", str(emitted)))

    assert code == 0, err
    assert "replayed 3 events" in err
    result = json.loads(out)
    rows = {(row["channel"], row["target"]): row for row in result["rows"]}
    chat = rows[("PORTAL_CHAT", "FIRST_RESPONSE")]
    assert (chat["clocks"], chat["warned"], chat["breached"], chat["met"], chat["met_late"]) == (
        1, 1, 1, 1, 1,
    )  # fmt: skip
    assert result["breached_only_under_policy"] == 4
    assert result["breached_only_under_baseline"] == 0
    assert {
        "case_id": "chat-1",
        "target": "FIRST_RESPONSE",
        "due": "2026-03-02T07:00:04+00:00",
        "tier": "L1",
    } in result["breaches"]
    lines = emitted.read_text().splitlines()
    kinds = [json_format.Parse(line, sla_events.SlaEvent()).WhichOneof("payload") for line in lines]
    assert kinds.count("breached") == 4


def test_the_report_as_text(records: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *whatif_argv(records))

    assert code == 0, err
    assert "breached under test-seconds but not under 2023.1: 4" in out
    assert "breached under 2023.1 but not under test-seconds: 0" in out
    assert "chat-1  FIRST_RESPONSE  due 2026-03-02T07:00:04+00:00  tier L1" in out


def test_as_of_last_judges_just_after_the_last_event(
    records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The last event is 10 s after the start: the chat's resolution (8 s) and the e-mail's first
    # response (4 s under test-seconds) are breached by then.
    argv = ["what-if", "--file", str(records), "--policy", "test-seconds", "--as-of", "last"]
    code, out, err = run(capsys, *argv, "--json", "--list")

    assert code == 0, err
    breached = {(b["case_id"], b["target"]) for b in json.loads(out)["breaches"]}
    assert ("chat-1", "RESOLUTION") in breached
    assert ("chat-1", "FIRST_RESPONSE") in breached


def test_emit_refuses_a_checkpoint(
    records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *whatif_argv(records, "--emit", str(tmp_path / "e.jsonl"),
                                            "--checkpoint", str(tmp_path / "cp")))  # fmt: skip
    assert code == 1
    assert "leave out --checkpoint" in err


def test_unknown_policy_is_a_clear_error(records: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "what-if", "--file", str(records), "--policy", "1999.9")

    assert code == 1
    assert "unknown SLA policy version '1999.9'" in err


def test_a_topic_is_named_exactly_or_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["what-if", "--policy", "2023.1", "--topic", "cases=x"])
    assert "STREAM=NAME" in capsys.readouterr().err


def test_an_exact_topic_name_wins_over_the_prefix() -> None:
    topics = TopicMap("mirror.", {Stream.CASE: "case.events.v1.sla-test-1"})
    assert topics.topic(Stream.CASE) == "case.events.v1.sla-test-1"
    assert topics.topic(Stream.SLA) == "mirror.sla.events.v1"


def test_calendar_overrides_apply_to_the_policy_and_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An e-mail on Friday afternoon is due on Monday 15:00, unless Monday is declared a holiday.
    friday = datetime(2025, 10, 24, 12, 0, tzinfo=UTC)  # 15:00 Moscow time
    records = record_file(
        tmp_path / "mail.records",
        [CaseStream("mail-1", channel=Channel.EMAIL, at=friday).created()],
    )
    overrides = tmp_path / "overrides.toml"
    overrides.write_text("holidays = [2025-10-27]\n")
    argv = ["what-if", "--file", str(records), "--policy", "2023.1", "--baseline", "2023.1",
            "--as-of", "2026-01-01T00:00:00+03:00", "--list", "--json"]  # fmt: skip

    code, plain, _ = run(capsys, *argv)
    code_with, moved, err = run(capsys, *argv, "--calendar-overrides", str(overrides))

    assert code == code_with == 0, err
    due = {b["target"]: b["due"] for b in json.loads(plain)["breaches"]}
    due_moved = {b["target"]: b["due"] for b in json.loads(moved)["breaches"]}
    assert due["FIRST_RESPONSE"] == "2025-10-27T12:00:00+00:00"
    assert due_moved["FIRST_RESPONSE"] == "2025-10-28T12:00:00+00:00"
    assert json.loads(moved)["breached_only_under_baseline"] == 0  # the same calendar for both
