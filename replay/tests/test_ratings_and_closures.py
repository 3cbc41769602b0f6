"""Issue 19's facts in the replay: the citizens' ratings per queue, tier and specialist as the
case stood when it was rated; closures counted by reason; merges and callbacks on the case's row;
none of the free text (rating comments, callback notes) kept."""

from __future__ import annotations

import json
import pickle
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from casedesk.case.v1.events_pb2 import CaseEvent
from casedesk_replay import reports, tables
from casedesk_replay.cli import main
from casedesk_replay.history import CaseTimeline
from casedesk_replay.projections import ReplayState
from casedesk_replay.render import print_report, report_json
from casedesk_replay.scope import ReadScope
from casedesk_replay.sources import EVERYTHING
from casedesk_replay.sources.recordfile import RecordFileWriter
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic.builders import MINUTE, T0, CaseEvents


def three_rated_cases() -> list[CaseEvent]:
    """A: with spec-1 in tech when rated 5, reassigned afterwards. B: escalated to L2 and with
    spec-2 when rated 2, closed by the citizen's confirmation. C: rated 4 while with nobody,
    then closed automatically; D: a spam closing and an old closing without a reason."""
    a, b = CaseEvents(case_id="a"), CaseEvents(case_id="b")
    c, d, e = CaseEvents(case_id="c"), CaseEvents(case_id="d"), CaseEvents(case_id="e")
    return [
        a.created(T0, "PHONE"),
        a.assigned(T0 + MINUTE, "spec-1"),
        a.move(T0 + 2 * MINUTE, "ANSWER_READY"),
        a.rated(T0 + 3 * MINUTE, 5, channel="PHONE"),
        a.assigned(T0 + 4 * MINUTE, "spec-9", queue="other"),  # after the rating: not counted
        b.created(T0, "EMAIL"),
        b.escalated(T0 + MINUTE),
        b.assigned(T0 + 2 * MINUTE, "spec-2"),
        b.move(T0 + 3 * MINUTE, "ANSWER_READY"),
        b.rated(T0 + 4 * MINUTE, 2, comment="Ответ не помог, звоните +79161234567"),
        b.move(T0 + 5 * MINUTE, "CLOSED", actor="citizen", close_reason="ANSWER_CONFIRMED"),
        c.created(T0, "PORTAL_CHAT"),
        c.move(T0 + MINUTE, "ANSWER_READY"),
        c.rated(T0 + 2 * MINUTE, 4),
        c.move(T0 + 3 * MINUTE, "CLOSED", actor="system", close_reason="NO_REACTION"),
        d.created(T0, "SOCIAL"),
        d.move(T0 + MINUTE, "CLOSED", actor="supervisor", close_reason="SPAM"),
        e.created(T0, "EMAIL"),
        e.move(T0 + MINUTE, "CLOSED"),  # stored before close reasons existed
    ]


def fold(events: list[CaseEvent]) -> ReplayState:
    state = ReplayState()
    state.apply(Stream.CASE, events)
    return state


def _by_group(rows: list[reports.Ratings]) -> dict[str, tuple[int, float | None, dict[int, int]]]:
    return {row.group: (row.count, row.mean, row.scores) for row in rows}


def test_ratings_per_queue_tier_and_specialist_as_the_case_stood_when_rated() -> None:
    state = fold(three_rated_cases())
    five, two, four = ({s: int(s == n) for s in range(1, 6)} for n in (5, 2, 4))
    assert _by_group(reports.ratings(state, "specialist")) == {
        "spec-1": (1, 5.0, five),  # not spec-9, who got the case after the rating
        "spec-2": (1, 2.0, two),
        "UNASSIGNED": (1, 4.0, four),
        "ALL": (3, pytest.approx(11 / 3), {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}),
    }
    tiers = _by_group(reports.ratings(state, "tier"))
    assert (tiers["L1"][0], tiers["L1"][1], tiers["L2"][:2]) == (2, 4.5, (1, 2.0))
    queues = reports.ratings(state, "queue")
    assert [row.group for row in queues] == ["tech", "ALL"]  # "other" came after the rating
    assert reports.ratings(fold([]), "queue") == []


def test_a_republished_rating_counts_once() -> None:
    events = three_rated_cases()
    state = fold([*events, *events])
    assert next(r for r in reports.ratings(state, "tier") if r.group == "ALL").count == 3


def test_closures_are_counted_by_reason() -> None:
    got = reports.closures(fold(three_rated_cases()))
    assert got == reports.Closures(
        4,
        {"ANSWER_CONFIRMED": 1, "CLOSE_REASON_UNSPECIFIED": 1, "NO_REACTION": 1, "SPAM": 1},
    )


def test_the_tables_keep_scores_reasons_merges_and_calls_but_no_free_text() -> None:
    dup, target = CaseEvents(case_id="dup"), CaseEvents(case_id="target")
    events = [
        *three_rated_cases(),
        dup.created(T0, "PHONE"),
        dup.callback(T0 + MINUTE, reached=False),
        dup.callback(T0 + 2 * MINUTE, reached=True),
        dup.merged_into(T0 + 3 * MINUTE, "target", "2025-0000009"),
        dup.move(T0 + 3 * MINUTE, "CLOSED", actor="supervisor", close_reason="DUPLICATE"),
        target.created(T0, "PHONE"),
        target.duplicate_merged(T0 + 3 * MINUTE, "dup"),
    ]
    state = fold(events)
    cases = {row["case_id"]: row for row in tables.cases(state).to_pylist()}
    assert (cases["b"]["rating"], cases["b"]["close_reason"]) == (2, "ANSWER_CONFIRMED")
    assert cases["d"]["rating"] is None and cases["d"]["close_reason"] == "SPAM"
    assert (cases["dup"]["merged_into"], cases["dup"]["close_reason"]) == ("target", "DUPLICATE")
    assert (cases["dup"]["callbacks"], cases["dup"]["callbacks_reached"]) == (2, 1)
    assert cases["target"]["duplicates_merged"] == 1
    transitions = tables.status_transitions(state).to_pylist()
    assert {t["close_reason"] for t in transitions if t["to_status"] != "CLOSED"} == {""}
    ratings = tables.ratings(state).to_pylist()
    assert [(r["case_id"], r["score"], r["rated_via"], r["assignee"]) for r in ratings] == [
        ("a", 5, "PHONE", "spec-1"), ("b", 2, "PORTAL_CHAT", "spec-2"),
        ("c", 4, "PORTAL_CHAT", ""),
    ]  # fmt: skip
    everything = repr([t.to_pylist() for t in (tables.cases(state), tables.ratings(state))])
    assert "79161234567" not in everything and "Спасибо" not in everything


def test_a_resumed_replay_keeps_the_ratings_of_the_first_part() -> None:
    events = three_rated_cases()
    whole = fold(events)
    first = fold(events[:8])
    resumed = ReplayState()
    resumed.restore(pickle.loads(pickle.dumps(first.snapshot())))
    resumed.apply(Stream.CASE, events[8:])
    assert resumed.cases.ratings == whole.cases.ratings
    assert reports.closures(resumed) == reports.closures(whole)


def test_the_report_prints_the_ratings_tables_and_the_closures() -> None:
    summary = reports.summarize(fold(three_rated_cases()), ("tier",))
    console = Console(width=10_000, record=True)
    print_report(summary, console, ReadScope({Stream.CASE: "on case.events.v1"}, EVERYTHING))
    text = console.export_text()
    assert ("Closures: 4; by reason ANSWER_CONFIRMED 1, CLOSE_REASON_UNSPECIFIED 1, "
            "NO_REACTION 1, SPAM 1") in text  # fmt: skip
    for dimension in ("queue", "tier", "specialist"):
        assert f"Answer ratings per {dimension} (when rated)" in text
    spec_1 = next(line for line in text.splitlines() if "spec-1" in line)
    cells = [cell.strip() for cell in spec_1.split("│")[1:-1]]
    assert cells == ["spec-1", "1", "5.00", "0", "0", "0", "0", "1"]
    data = json.loads(report_json(summary))
    assert data["closures"]["by_reason"]["SPAM"] == 1
    all_tiers = data["ratings"]["tier"][-1]
    assert (all_tiers["group"], all_tiers["count"], all_tiers["scores"]["5"]) == ("ALL", 3, 1)
    assert all_tiers["mean"] == pytest.approx(11 / 3)


def test_without_ratings_the_report_says_why_the_tables_are_empty() -> None:
    case = CaseEvents()
    summary = reports.summarize(fold([case.created(T0)]), ("tier",))
    console = Console(width=10_000, record=True)
    print_report(summary, console, ReadScope({Stream.CASE: "on case.events.v1"}, EVERYTHING))
    assert "Answer ratings per queue (when rated): no answer rated in the 1 case event read" in (
        console.export_text()
    )


def test_a_case_view_summarises_ratings_merges_and_calls_without_their_text() -> None:
    case = CaseEvents(case_id="dup")
    events = [
        case.created(T0, "PHONE"),
        case.callback(T0 + MINUTE, reached=True),
        case.move(T0 + 2 * MINUTE, "ANSWER_READY"),
        case.rated(T0 + 3 * MINUTE, 3, channel="EMAIL"),
        case.merged_into(T0 + 4 * MINUTE, "target", "2025-0000009"),
        case.move(
            T0 + 4 * MINUTE + timedelta(seconds=1),
            "CLOSED",
            actor="supervisor",
            close_reason="DUPLICATE",
        ),
    ]
    timeline = CaseTimeline("dup")
    timeline.apply(Stream.CASE, events)
    view = timeline.view()
    assert view is not None
    assert [line["summary"] for line in view["history"]][1:] == [
        "callback: reached",
        "REGISTERED -> ANSWER_READY",
        "rated 3/5 via EMAIL",
        "merged into 2025-0000009",
        "ANSWER_READY -> CLOSED (DUPLICATE)",
    ]
    assert "Спасибо" not in repr(view) and "79161234567" not in repr(view)


def test_the_command_line_report_and_export_carry_the_ratings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From a record file (the bytes a Kafka topic holds) through the CLI, as an analyst runs it."""
    path = tmp_path / "rated.records"
    with RecordFileWriter(path) as writer:
        writer.write_all(Stream.CASE, (e.SerializeToString() for e in three_rated_cases()))
    assert main(["report", "--file", str(path), "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    specialists = {row["group"]: row for row in report["ratings"]["specialist"]}
    assert (specialists["spec-2"]["count"], specialists["spec-2"]["mean"]) == (1, 2.0)
    assert report["closures"] == {
        "closed": 4,
        "by_reason": {"ANSWER_CONFIRMED": 1, "CLOSE_REASON_UNSPECIFIED": 1, "NO_REACTION": 1,
                      "SPAM": 1},
    }  # fmt: skip
    out = tmp_path / "tables"
    argv = ["export", "--file", str(path), "--out", str(out), "--tables", "ratings"]
    assert main([*argv, "--no-progress"]) == 0
    exported = pq.read_table(out / "ratings.parquet").to_pylist()
    assert sorted((r["tier"], r["score"]) for r in exported) == [("L1", 4), ("L1", 5), ("L2", 2)]
