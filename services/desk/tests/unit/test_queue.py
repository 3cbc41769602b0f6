from __future__ import annotations

from datetime import UTC, datetime, timedelta

from casedesk_desk.domain.queue import QueueRow, Urgency, by_deadline, duration, time_left
from casedesk_desk.domain.words import refusal_text

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _row(number: str, due: datetime | None) -> QueueRow:
    return QueueRow(number, number, "", "REGISTERED", "EMAIL", "q", "L1", "", T0, due)


def test_the_nearest_deadline_comes_first_and_rows_without_one_last() -> None:
    rows = [_row("a", T0 + timedelta(hours=5)), _row("b", None), _row("c", T0 + timedelta(1))]
    rows.insert(1, _row("d", T0 + timedelta(hours=1)))
    assert [r.number for r in by_deadline(rows)] == ["d", "a", "c", "b"]


def test_time_left_is_ok_then_warning_then_breach() -> None:
    due = T0 + timedelta(hours=10)
    assert time_left(T0, due, T0 + timedelta(hours=1)).urgency is Urgency.OK
    warning = time_left(T0, due, T0 + timedelta(hours=8, minutes=30))
    assert (warning.text, warning.urgency) == ("осталось 1 ч 30 мин", Urgency.WARNING)
    breach = time_left(T0, due, T0 + timedelta(days=1, hours=12))
    assert (breach.text, breach.urgency) == ("просрочено на 1 д 2 ч", Urgency.BREACH)
    assert time_left(T0, None, T0).urgency is Urgency.NONE
    assert duration(timedelta(minutes=45)) == "45 мин"


def test_the_tier_rule_reads_in_russian_and_anything_else_generically() -> None:
    assert refusal_text("l1.ivanova (L1) may not work an L3 case").startswith(
        "Недостаточно прав: специалист линии L1 не может работать с обращением линии L3."
    )
    assert refusal_text("l1.ivanova (L1) may not reassign cases: only supervisors do") == (
        "Недостаточно прав: переназначать обращения может только руководитель."
    )
    assert refusal_text("audit.kuznetsov (auditor) may not work cases: auditors only read") == (
        "Недостаточно прав для этого действия. Обратитесь к руководителю."
    )
