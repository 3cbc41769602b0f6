"""Sealed logs (issue #18): with CASEDESK_SEAL_PERSONAL_DATA on, the case service's events carry
citizens' personal fields and free texts as tokens (`cdk1.…`). The replay has no keys: it counts
a sealed log exactly as the same log in clear, and shows no token anywhere (`[sealed]` in the
case view; the tables never held a personal field)."""

from __future__ import annotations

import ast
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from casedesk.case.v1 import events_pb2 as ce
from casedesk.common.v1 import types_pb2
from casedesk.notification.v1 import events_pb2 as ne
from casedesk_replay.cli import main
from casedesk_replay.history import CaseTimeline
from casedesk_replay.projections.notifications import NotificationJournal
from casedesk_replay.sealed import SEALED, is_sealed, shown, without_tokens
from casedesk_replay.sources.recordfile import RecordFileWriter
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic import Scenario, generate
from casedesk_replay_testing.synthetic.builders import CaseEvents, msk, notification_event
from casedesk_replay_testing.synthetic.sealing import sealed, sealed_log, token
from casedesk_vocabulary.sealed_fields import TOKEN_PREFIX

START = msk(2025, 10, 21, 10, 0)
H = timedelta(hours=1)
CLEAR_TEXTS = (
    "Иванов",
    "ivanov",
    "79161234567",
    "Спасибо",
    "Перезвонил",
    "дубликат",
    "Не помогло",
    "паспорт",
    "Ответ",
    "Уточнение",
    "Синтетическое",
    "Тестовый",
    "citizen-login",
)
SRC = Path(__file__).parents[1] / "src" / "casedesk_replay"

A_ID = "4f1c2d3e-0000-4000-8000-00000000000a"
B_ID = "4f1c2d3e-0000-4000-8000-00000000000b"
C_ID = "4f1c2d3e-0000-4000-8000-00000000000c"


def loop_cases() -> list[ce.CaseEvent]:
    """Three cases with every event that carries a personal field or a free text: the
    citizen's, the content, provenances, attachments, comments, status reasons, an escalation
    request's explanation, ratings' comments, a callback's note, a repeat and a merge."""
    a = CaseEvents(case_id=A_ID)
    b = CaseEvents(case_id=B_ID)
    c = CaseEvents(case_id=C_ID)
    email = types_pb2.Provenance(
        email=types_pb2.EmailOrigin(
            message_id="<ivanov.1@example.ru>", from_address="ivanov@example.ru"
        )
    )
    phone = types_pb2.Provenance(
        phone=types_pb2.PhoneOrigin(call_id="call-1", caller_number="+79161234567")
    )
    social = types_pb2.Provenance(
        social=types_pb2.SocialOrigin(
            network="vk", post_reference="-1_42", author_handle="ivanov_vk"
        )
    )
    scan = types_pb2.Attachment(attachment_id="a0", file_name="скан Иванова.png", size_bytes=9)
    a_events = [
        a.created(START, "EMAIL", number="2025-0100001", provenance=email, attachments=[scan]),
        a.assigned(START + H, "l1-004"),
        a.move(START + 2 * H, "IN_PROGRESS"),
        a.comment(START + 3 * H),
        a.move(START + 4 * H, "WAITING_FOR_CITIZEN", reason="Нужен СНИЛС Иванова"),
        a.comment(START + 5 * H, actor="citizen"),
        a.attachment(START + 5 * H),
        a.requested(START + 6 * H, explanation="Иванов Иван Иванович недоволен"),
        a.escalated(START + 7 * H),
        a.move(START + 8 * H, "ANSWER_READY"),
        a.rated(START + 9 * H, 4, comment="Спасибо, Иванов"),
        a.move(START + 10 * H, "CLOSED", actor="citizen", close_reason="ANSWER_CONFIRMED"),
        a.repeated(START + 30 * H, B_ID, "2025-0100002"),
    ]
    b_events = [
        b.created(START + 30 * H, "PHONE", number="2025-0100002", repeat_of=A_ID, provenance=phone),
        b.callback(START + 30.5 * H, reached=True),
        b.move(START + 31 * H, "IN_PROGRESS"),
        b.duplicate_merged(START + 32 * H, C_ID),
        b.move(START + 33 * H, "ANSWER_READY"),
        b.rated(START + 34 * H, 2, channel="PHONE", comment="Иванов: не помогли"),
        b.move(
            START + 80 * H,
            "CLOSED",
            actor="system",
            close_reason="NO_REACTION",
            reason="нет реакции гражданина",
        ),
    ]
    c_events = [
        c.created(START + 31 * H, "SOCIAL", number="2025-0100003", provenance=social),
        c.merged_into(START + 32 * H, B_ID, "2025-0100002"),
        c.move(
            START + 32 * H,
            "CLOSED",
            actor="supervisor",
            close_reason="DUPLICATE",
            reason="дубликат обращения Иванова",
        ),
    ]
    return [*a_events, *b_events, *c_events]


@pytest.fixture(scope="module")
def clear() -> Scenario:
    scenario = generate(60, seed=18)
    scenario.case_events = [*scenario.case_events, *loop_cases()]
    return scenario


def write(path: Path, scenario: Scenario, case_events: list[ce.CaseEvent]) -> Path:
    streams = {**scenario.streams(), Stream.CASE: case_events}
    with RecordFileWriter(path) as writer:
        for stream, events in streams.items():
            writer.write_all(stream, (event.SerializeToString() for event in events))
    return path


@pytest.fixture(scope="module")
def logs(clear: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same log in clear, sealed, and sealed with the free texts of an erased citizen."""
    root = tmp_path_factory.mktemp("logs")
    return {
        "clear": write(root / "clear.records", clear, clear.case_events),
        "sealed": write(root / "sealed.records", clear, sealed_log(clear.case_events)),
        "erased": write(root / "erased.records", clear, sealed_log(clear.case_events, erased=True)),
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out, captured.err


def no_token_in(*texts: str) -> None:
    for text in texts:
        assert TOKEN_PREFIX not in text


def files_of(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


# -- the helpers -----------------------------------------------------------------------------


def test_a_token_is_shown_as_the_marker_and_a_clear_value_masked() -> None:
    sealed_phone = token("case-1", "citizen.mobile_phone", "+79161234567")
    assert is_sealed(sealed_phone) and not is_sealed("+79161234567")
    assert shown(sealed_phone, lambda value: "masked") == SEALED == "[sealed]"
    assert shown("+79161234567", lambda value: "masked") == "masked"
    assert shown("", lambda value: "masked") == ""


def test_tokens_inside_a_text_are_replaced_and_a_plain_text_is_left_alone() -> None:
    sealed_email = token("case-1", "citizen.email", "ivanov@example.ru")
    assert without_tokens(f"no route to {sealed_email}; gave up") == "no route to [sealed]; gave up"
    assert without_tokens(f"({sealed_email})") == "([sealed])"
    plain = "550 mailbox ivanov@example.ru unavailable; tag xcdk1.abc"
    assert without_tokens(plain) == plain


def test_the_test_tokens_look_like_the_key_librarys() -> None:
    # casedesk_keys: "cdk1." + unpadded base64url, 70 characters and a third of the UTF-8 text.
    value = "Спасибо"
    sealed_value = token("case-1", "rating.comment", value)
    assert sealed_value.startswith("cdk1.") and "=" not in sealed_value
    assert len(sealed_value) == len("cdk1.") + -(-(49 + len(value.encode())) * 4 // 3)
    event = CaseEvents().rated(START, 5, comment=value)
    assert is_sealed(sealed(event).answer_rated.comment)
    assert is_sealed(sealed(event).meta.actor.id)
    assert sealed(event, erased=True).answer_rated.comment == ""
    assert event.answer_rated.comment == value  # a copy: the clear event is left as it was


def test_the_sealed_log_holds_no_clear_text(clear: Scenario) -> None:
    sealed_events = sealed_log(clear.case_events)
    blob = b"".join(event.SerializeToString() for event in sealed_events)
    for text in CLEAR_TEXTS:
        assert text.encode() not in blob, text
    # Each Created: the full name, the login and the subject at least.
    created = sum(event.HasField("created") for event in sealed_events)
    assert blob.count(TOKEN_PREFIX.encode()) >= 3 * created > 0


# -- exports, reports and what-if: the same as in clear, with no token ---------------------


@pytest.mark.parametrize("kind", ["sealed", "erased"])
def test_a_sealed_log_exports_the_same_tables_as_in_clear(
    kind: str, logs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = {}
    for name in ("clear", kind):
        out = tmp_path / name
        _, err = run(
            capsys,
            "export",
            "--file",
            str(logs[name]),
            "--out",
            str(out),
            "--format",
            "parquet,csv",
        )
        no_token_in(err)
        tables[name] = out
    sealed_files = files_of(tables[kind])
    assert len(sealed_files) == 12
    for name, content in sealed_files.items():
        assert TOKEN_PREFIX.encode() not in content, name
        if name.endswith(".csv"):  # CSV byte for byte; Parquet by content (metadata may vary)
            assert content == (tables["clear"] / name).read_bytes(), name
        else:
            assert pq.read_table(tables[kind] / name).equals(
                pq.read_table(tables["clear"] / name)
            ), name
    ratings = pq.read_table(tables[kind] / "ratings.parquet").to_pylist()
    assert sorted(r["score"] for r in ratings if r["case_id"] in (A_ID, B_ID)) == [2, 4]
    cases = {
        row["case_id"]: row for row in pq.read_table(tables[kind] / "cases.parquet").to_pylist()
    }
    assert (cases[A_ID]["status"], cases[A_ID]["close_reason"], cases[A_ID]["rating"]) == (
        "CLOSED",
        "ANSWER_CONFIRMED",
        4,
    )
    assert (cases[B_ID]["repeat_of"], cases[B_ID]["callbacks_reached"]) == (A_ID, 1)
    assert (cases[C_ID]["merged_into"], cases[C_ID]["close_reason"]) == (B_ID, "DUPLICATE")


@pytest.mark.parametrize("kind", ["sealed", "erased"])
def test_a_sealed_log_reports_the_same_counts_ratings_and_sla_outcomes(
    kind: str, clear: Scenario, logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    reports = {}
    for name in ("clear", kind):
        out, err = run(capsys, "report", "--file", str(logs[name]), "--json")
        no_token_in(out, err)
        reports[name] = json.loads(out)
    assert reports[kind] == reports["clear"]
    report = reports[kind]
    assert report["events"]["case"] == len(clear.case_events)
    rows = report["compliance"]["channel"]
    assert sum(r["breached"] + r["met_late"] for r in rows) == clear.expected.breaches
    by_queue = {row["group"]: row for row in report["ratings"]["queue"]}
    assert by_queue["ALL"]["count"] == 2 and by_queue["ALL"]["scores"]["4"] == 1
    assert report["closures"]["by_reason"]["DUPLICATE"] == 1
    tables = {}
    for name in ("clear", kind):
        out, err = run(capsys, "report", "--file", str(logs[name]))
        no_token_in(out, err)
        assert SEALED not in out
        tables[name] = out
    assert tables[kind] == tables["clear"]


@pytest.mark.parametrize("kind", ["sealed", "erased"])
def test_what_if_on_a_sealed_log_decides_as_in_clear(
    kind: str,
    clear: Scenario,
    logs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = {}
    for name in ("clear", kind):
        out_dir = tmp_path / name
        argv = [
            "what-if",
            "--file",
            str(logs[name]),
            "--policy",
            "test-seconds",
            "--as-of",
            clear.as_of.isoformat(),
            "--json",
            "--list",
            "--out",
            str(out_dir),
        ]
        out, err = run(capsys, *argv)
        no_token_in(out, err)
        emitted = tmp_path / f"{name}.jsonl"
        argv = [
            "what-if",
            "--file",
            str(logs[name]),
            "--policy",
            "2023.1",
            "--as-of",
            clear.as_of.isoformat(),
            "--streams",
            "case",
            "--emit",
            str(emitted),
        ]
        table_out, err = run(capsys, *argv)
        no_token_in(table_out, err, emitted.read_text())
        results[name] = (
            json.loads(out),
            table_out,
            emitted.read_text(),
            pq.read_table(out_dir / "whatif_outcomes.parquet"),
        )
    (result, table_out, emitted_lines, outcomes) = results[kind]
    assert result == results["clear"][0]
    assert sum(row["newly_breached"] for row in result["rows"]) > 0 and result["breaches"]
    assert table_out == results["clear"][1]
    assert emitted_lines == results["clear"][2] and emitted_lines
    assert outcomes.equals(results["clear"][3])
    no_token_in(*(str(v) for v in outcomes.to_pylist()))


# -- the case view: `[sealed]` in place of each sealed field --------------------------------


def case_view(capsys: pytest.CaptureFixture[str], log: Path, number: str) -> dict[str, Any]:
    out, err = run(capsys, "case", number, "--file", str(log))
    no_token_in(out, err)
    return json.loads(out)


@pytest.mark.parametrize("kind", ["sealed", "erased"])
def test_the_case_view_of_a_sealed_case_shows_the_marker(
    kind: str, logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for number in ("2025-0100001", "2025-0100002", "2025-0100003"):
        plain = case_view(capsys, logs["clear"], number)
        view = case_view(capsys, logs[kind], number)
        assert SEALED not in json.dumps(plain, ensure_ascii=False)
        assert view["subject"] == SEALED
        assert view["citizen"] == {
            "account_login": SEALED,
            "mobile_phone": SEALED,
            "email": SEALED,
            "has_snils": "true",
            "has_inn": "false",
        }
        citizen_lines = [line for line in plain["history"] if line["actor"].startswith("CITIZEN")]
        for line in view["history"]:
            if line["actor"].startswith("CITIZEN"):
                assert line["actor"] == f"CITIZEN:{SEALED}"
        # Everything else is the same as in clear: the row, the history's events and summaries,
        # the SLA clocks and the notifications.
        personal = ("subject", "citizen", "history")
        assert {k: v for k, v in view.items() if k not in personal} == {
            k: v for k, v in plain.items() if k not in personal
        }
        assert [{**line, "actor": ""} for line in view["history"]] == [
            {**line, "actor": ""} for line in plain["history"]
        ]
        if number == "2025-0100001":
            assert citizen_lines and plain["subject"] != SEALED
            summaries = [line["summary"] for line in view["history"]]
            assert "rated 4/5 via PORTAL_CHAT" in summaries


def test_the_case_view_in_clear_is_masked_as_before(case: CaseEvents) -> None:
    events = [case.created(START), case.rated(START + H, 5)]
    timeline = CaseTimeline(case.case_id)
    timeline.apply(Stream.CASE, events)
    view = timeline.view()
    assert view is not None
    assert view["citizen"] == {
        "account_login": "i***",
        "mobile_phone": "+***67",
        "email": "i***@example.ru",
        "has_snils": "true",
        "has_inn": "false",
    }
    # Masked by casedesk_runtime.masking (its own tests say how): the text, not the marker.
    assert view["subject"].startswith("Не приходит СМС-код на ")
    assert "79161234567" not in view["subject"]
    assert [line["actor"] for line in view["history"]] == ["SYSTEM:casedesk-case", "CITIZEN:i***"]


def test_a_case_sealed_in_part_shows_each_field_as_it_is(case: CaseEvents) -> None:
    """Events recorded before sealing was turned on stay in clear; later ones are sealed."""
    created = case.created(START)
    later = sealed(case.comment(START + H, actor="citizen"))
    timeline = CaseTimeline(case.case_id)
    timeline.apply(Stream.CASE, [created, later])
    view = timeline.view()
    assert view is not None
    assert view["citizen"]["email"] == "i***@example.ru"
    assert [line["actor"] for line in view["history"]] == [
        "SYSTEM:casedesk-case",
        f"CITIZEN:{SEALED}",
    ]


# -- the delivery journal and the tool's imports -----------------------------------------------


def test_a_delivery_error_quoting_a_token_keeps_the_marker() -> None:
    quoted = token("case-1", "citizen.email", "ivanov@example.ru")
    journal = NotificationJournal()
    journal.apply(notification_event("n-1", START, requested=ne.Requested()))
    journal.apply(
        notification_event(
            "n-1", START + H, failed=ne.Failed(attempt=1, error=f"refused {quoted}", temporary=True)
        )
    )
    assert journal.notifications["n-1"]["last_error"] == "refused [sealed]"
    dead = ne.DeadLettered(attempts=2, error=f"gave up: {quoted}")
    journal.apply(notification_event("n-1", START + 2 * H, dead_lettered=dead))
    assert journal.notifications["n-1"]["last_error"] == "gave up: [sealed]"
    journal.apply(
        notification_event(
            "n-2", START, failed=ne.Failed(attempt=1, error="550 ivanov@example.ru unknown")
        )
    )
    assert journal.notifications["n-2"]["last_error"] == "550 i***@example.ru unknown"


def test_the_replay_imports_no_key_library() -> None:
    """The tool has no keys and must not get any: no module of it imports the key library or
    the key service's client (the prefix comes from casedesk_vocabulary)."""
    imported = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    assert "casedesk_vocabulary.sealed_fields" in imported
    assert not {m for m in imported if m.split(".")[0] in ("casedesk_keys", "casedesk_keyservice")}
