"""`casedesk-replay` end to end on a record file (Kafka is covered by tests/integration)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from casedesk_replay.cli import main
from casedesk_replay.sources.recordfile import RecordFileWriter
from casedesk_replay_testing.synthetic import Scenario


@pytest.fixture
def records(scenario: Scenario, tmp_path: Path) -> Path:
    path = tmp_path / "scenario.records"
    with RecordFileWriter(path) as writer:
        for stream, events in scenario.streams().items():
            writer.write_all(stream, (event.SerializeToString() for event in events))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_as_json(scenario, records: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", "--file", str(records), "--json", "--by", "channel")
    assert code == 0, err
    report = json.loads(out)
    assert report["events"]["case"] == len(scenario.case_events)
    assert set(report["compliance"]) == {"channel"}
    rows = report["compliance"]["channel"]
    assert sum(r["breached"] + r["met_late"] for r in rows) == scenario.expected.breaches
    assert report["escalations"]["escalations"] == scenario.expected.escalated
    assert f"replayed {scenario.total_events:,} events" in err


def test_report_as_tables(records: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--file", str(records))
    assert code == 0
    for title in (
        "SLA compliance per channel",
        "per week",
        "Time to first response",
        "Repeat rate",
    ):
        assert title in out


def test_export_writes_parquet_and_csv(
    scenario, records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "tables"
    argv = ["export", "--file", str(records), "--out", str(out_dir), "--format", "parquet,csv"]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    names = {"cases", "status_transitions", "ratings", "sla_outcomes", "escalations",
             "notifications"}  # fmt: skip
    assert {p.name for p in out_dir.iterdir()} == {
        f"{n}.{f}" for n in names for f in ("parquet", "csv")
    }
    assert pq.read_table(out_dir / "cases.parquet").num_rows == scenario.expected.cases


def test_case_by_number_as_of_a_moment(
    scenario, records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    created = scenario.case_events[0]
    registered = created.created.registered_at.ToDatetime().isoformat() + "+00:00"
    argv = ["case", created.created.number, "--file", str(records), "--as-of", registered]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    view = json.loads(out)
    assert (view["case_id"], view["status"], view["version"]) == (
        created.meta.case_id,
        "REGISTERED",
        1,
    )


def test_an_unknown_case_fails(records: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "case", "1999-0000001", "--file", str(records))
    assert code == 1
    assert "no case numbered 1999-0000001" in err


def test_what_if_a_stricter_policy(
    scenario, records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    as_of = scenario.as_of.isoformat()
    argv = ["what-if", "--file", str(records), "--policy", "test-seconds", "--as-of", as_of,
            "--json", "--out", str(tmp_path / "whatif")]  # fmt: skip
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    result = json.loads(out)
    assert result["policy"] == "test-seconds"
    assert sum(row["newly_breached"] for row in result["rows"]) > 0
    table = pq.read_table(tmp_path / "whatif" / "whatif_outcomes.parquet")
    assert set(table.column("policy_version").to_pylist()) == {"test-seconds"}


def test_capture_copies_the_chosen_streams(
    scenario, records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "cases-only.records"
    code, _, _ = run(
        capsys, "capture", "--file", str(records), "--streams", "case", "--out", str(copy)
    )
    assert code == 0
    code, out, _ = run(capsys, "report", "--file", str(copy), "--json")
    events = json.loads(out)["events"]
    assert events == {
        "case": len(scenario.case_events),
        "sla": 0,
        "notification": 0,
        "escalation": 0,
    }


def test_a_finished_checkpoint_is_reused(
    records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", "--file", str(records), "--json", "--checkpoint", str(tmp_path / "cp")]
    first_code, first, _ = run(capsys, *argv)
    code, second, err = run(capsys, *argv)
    assert first_code == code == 0
    assert "replayed 0 events" in err and "resumed from the checkpoint" in err
    assert json.loads(second) == json.loads(first)


def test_errors_are_one_line_and_a_failure_code(
    records: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "what-if", "--file", str(records), "--policy", "1999.9")
    assert code == 1 and "unknown SLA policy version '1999.9'" in err
    code, _, err = run(capsys, "report", "--file", str(tmp_path / "missing.records"))
    assert code == 1 and "cannot read" in err


def test_times_without_an_offset_are_refused(
    records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--file", str(records), "--since", "2025-10-20T00:00"])
    assert exit_info.value.code == 2
    assert "needs a UTC offset" in capsys.readouterr().err
