"""The acknowledgement the citizen reads."""

from __future__ import annotations

from datetime import UTC, datetime

from casedesk_intake.domain.wording import AcknowledgementFacts, acknowledgement_text
from casedesk_vocabulary.wording import deadline_phrase


def test_deadlines_are_shown_in_moscow_time() -> None:
    assert deadline_phrase(datetime(2026, 3, 2, 9, 5, tzinfo=UTC)) == "до 02.03.2026 12:05 (мск)"


def test_midnight_is_the_end_of_the_previous_day() -> None:
    assert (
        deadline_phrase(datetime(2026, 3, 4, 21, 0, tzinfo=UTC)) == "до конца дня 04.03.2026 (мск)"
    )


def test_acknowledgement_names_number_status_deadlines_and_link() -> None:
    text = acknowledgement_text(
        AcknowledgementFacts(
            number="2026-0000042",
            status="REGISTERED",
            first_response_due=datetime(2026, 3, 2, 9, 5, tzinfo=UTC),
            resolution_due=datetime(2026, 3, 4, 21, 0, tzinfo=UTC),
            linked_to_number="2026-0000040",
        )
    )
    assert "зарегистрировано под номером 2026-0000042" in text
    assert "«Зарегистрирована»" in text
    assert "Первый ответ специалиста: до 02.03.2026 12:05 (мск)" in text
    assert "Срок решения: до конца дня 04.03.2026 (мск)" in text
    assert "№ 2026-0000040" in text
    assert "Обращение в службу поддержки - 2026-0000042" in text


def test_desk_cases_have_no_first_response_line_and_repeats_say_so() -> None:
    text = acknowledgement_text(
        AcknowledgementFacts(
            number="2026-0000043",
            status="REGISTERED",
            resolution_due=datetime(2026, 3, 4, 21, 0, tzinfo=UTC),
            repeat_of_number="2026-0000001",
        )
    )
    assert "Первый ответ" not in text
    assert "повторное обращение по заявке № 2026-0000001" in text
