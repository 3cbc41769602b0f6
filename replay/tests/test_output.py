"""What the command line prints where no terminal reads it, and what an empty table says."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from casedesk_replay.cli import main
from casedesk_replay.sources import TimeRange
from casedesk_replay.sources.recordfile import RecordFileWriter
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic import Scenario

MSK = timezone(timedelta(hours=3))
# Environment that would make rich treat a redirected stream as a terminal of some width.
_TERMINAL_HINTS = ("COLUMNS", "FORCE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


@pytest.fixture(scope="module")
def records(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("output") / "scenario.records"
    with RecordFileWriter(path) as writer:
        for stream, events in scenario.streams().items():
            writer.write_all(stream, (event.SerializeToString() for event in events))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def replay_process(*argv: str, **streams: object) -> subprocess.CompletedProcess[str]:
    """`python -m casedesk_replay` as a shell runs it, stdout wherever `streams` say."""
    env = {k: v for k, v in os.environ.items() if k not in _TERMINAL_HINTS}
    # Colours on: rich then calls the redirected stream a terminal, the width must not follow.
    env["FORCE_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "casedesk_replay", *argv, "--no-progress"],
        env=env, text=True, check=True, stderr=subprocess.PIPE, timeout=120, **streams,
    )  # fmt: skip


def test_a_report_redirected_to_a_file_keeps_full_names(records: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    with out.open("w") as file:
        replay_process("report", "--file", str(records), "--by", "channel,category", stdout=file)
    text = out.read_text()
    for name in ("FIRST_RESPONSE", "PERSONAL_ACCOUNT", "REGISTRATION_SIGN_IN", "first_response"):
        assert name in text
    assert "…" not in text


def test_a_report_piped_keeps_full_names(records: Path) -> None:
    done = replay_process("report", "--file", str(records), stdout=subprocess.PIPE)
    assert "FIRST_RESPONSE" in done.stdout
    assert "…" not in done.stdout


def test_tables_in_captured_output_keep_full_names(
    records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "what-if", "--file", str(records), "--policy", "test-seconds")
    assert code == 0
    assert "FIRST_RESPONSE" in out
    assert "PERSONAL_ACCOUNT" in out
    assert "…" not in out


def test_an_empty_window_says_why_each_table_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = TimeRange(datetime(2026, 10, 1, tzinfo=MSK), datetime(2026, 11, 1, tzinfo=MSK))
    path = tmp_path / "october.records"
    with RecordFileWriter(path, window):
        pass
    code, out, _ = run(capsys, "report", "--file", str(path), "--by", "channel")
    assert code == 0
    in_window = (
        f"in the record file {path} in the window 2026-10-01T00:00:00+03:00 … "
        "2026-11-01T00:00:00+03:00"
    )
    assert f"SLA compliance per channel: no SLA events {in_window}" in out
    times = "Time to first response and to resolution (wall clock)"
    assert f"{times}: no case events {in_window}" in out
    assert f"no case events {in_window}" in out.split("Repeat rate")[1]
    assert "┏" not in out  # no empty frames

    code, out, _ = run(capsys, "what-if", "--file", str(path), "--policy", "2023.1")
    assert code == 0
    assert f"What if policy 2023.1 had been in force: no case events {in_window}" in out


def test_a_stream_left_out_is_named_as_the_reason(
    records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "report", "--file", str(records), "--streams", "case")
    assert code == 0
    for dimension in ("channel", "category", "tier", "week"):
        line = f"SLA compliance per {dimension}: no SLA events: the sla stream was not read"
        assert line in out
    assert "Time to first response" in out and "┏" in out  # the case tables still print


def test_a_window_without_registrations_says_so(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Case events of cases registered before the file begins: no registration, no response time.
    later = [event for event in scenario.case_events if not event.HasField("created")]
    path = tmp_path / "later.records"
    with RecordFileWriter(path, TimeRange(since=datetime(2025, 10, 1, tzinfo=MSK))) as writer:
        writer.write_all(Stream.CASE, (e.SerializeToString() for e in later))
    code, out, _ = run(capsys, "report", "--file", str(path), "--streams", "case")
    assert code == 0
    assert "Repeat rate (cases that repeat an earlier answered case): no case registered in" in out
    assert "were registered before it began" in out
