"""The what-if command line on a file of case events."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import json_format
from sla_builders import SECOND, T0, case_stream, moment

from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_sla.cli import whatif
from casedesk_vocabulary.enums import Channel


def write_log(path: Path, events) -> Path:
    path.write_text("".join(json_format.MessageToJson(e, indent=None) + "\n" for e in events))
    return path


def test_reports_what_would_breach_under_another_policy(tmp_path: Path, capsys) -> None:
    chat = case_stream("chat-1")
    log = write_log(
        tmp_path / "case-events.jsonl",
        [
            chat.created(),
            chat.commented(public=True, at=moment(T0 + 10 * SECOND)),
            case_stream("mail-1", channel=Channel.EMAIL).created(),
        ],
    )
    emitted = tmp_path / "sla-events.jsonl"

    code = whatif.main(
        [
            "--policy",
            "test-seconds",
            "--baseline",
            "2023.1",
            "--events",
            str(log),
            "--as-of",
            "2026-03-02T10:01:00+03:00",
            "--list",
            "--emit",
            str(emitted),
        ]
    )

    report = capsys.readouterr().out
    assert code == 0
    assert "What-if replay of 3 case events" in report
    assert (
        "PORTAL_CHAT       FIRST_RESPONSE           1         1         1         1         1"
        in report
    )
    assert "breached under test-seconds but not under 2023.1: 4" in report
    assert "chat-1  FIRST_RESPONSE  due 2026-03-02T07:00:04+00:00  tier L1" in report
    lines = emitted.read_text().splitlines()
    kinds = [json_format.Parse(line, sla_events.SlaEvent()).WhichOneof("payload") for line in lines]
    assert kinds.count("breached") == 4


def test_unknown_policy_is_a_clear_error(tmp_path: Path, capsys) -> None:
    log = write_log(tmp_path / "case-events.jsonl", [case_stream("chat-1").created()])

    code = whatif.main(["--policy", "1999.9", "--events", str(log)])

    assert code == 2
    assert "unknown SLA policy version '1999.9'" in capsys.readouterr().err
