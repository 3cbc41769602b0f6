"""What the citizen reads: status labels and the acknowledgement of a registered case.

Times are shown in Moscow time, the time zone of the support desk and of every deadline. A due
instant at midnight is "the end of" the previous day, as the regulation counts working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

MOSCOW = ZoneInfo("Europe/Moscow")

STATUS_LABELS = {
    "REGISTERED": "Зарегистрирована",
    "IN_PROGRESS": "В работе",
    "WAITING_FOR_CITIZEN": "Ожидает уточнения",
    "ANSWER_READY": "Ответ готов",
    "CLOSED": "Закрыта",
}

# The e-mail subject that routes a reply to its case (seed: "Подготовка к обращению").
EMAIL_SUBJECT_PREFIX = "Обращение в службу поддержки"


@dataclass(frozen=True)
class AcknowledgementFacts:
    number: str
    status: str
    resolution_due: datetime
    first_response_due: datetime | None = None
    linked_to_number: str = ""
    repeat_of_number: str = ""


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, "Статус уточняется")


def moscow_deadline(due: datetime) -> str:
    local = due.astimezone(MOSCOW)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"до конца дня {(local - timedelta(days=1)):%d.%m.%Y} (мск)"
    return f"до {local:%d.%m.%Y %H:%M} (мск)"


def acknowledgement_text(facts: AcknowledgementFacts) -> str:
    if facts.repeat_of_number:
        opening = (
            f"Ваше повторное обращение по заявке № {facts.repeat_of_number} "
            f"зарегистрировано под номером {facts.number}."
        )
    else:
        opening = f"Ваше обращение зарегистрировано под номером {facts.number}."
    lines = [opening, f"Статус: «{status_label(facts.status)}»."]
    if facts.linked_to_number:
        lines.append(
            f"Обращение связано с вашим ранее поданным обращением № {facts.linked_to_number}."
        )
    if facts.first_response_due is not None:
        lines.append(f"Первый ответ специалиста: {moscow_deadline(facts.first_response_due)}.")
    lines.append(f"Срок решения: {moscow_deadline(facts.resolution_due)}.")
    lines.append(
        "Уточнения и документы добавляйте комментарием к этому обращению, не создавая нового; "
        f"в письме укажите тему «{EMAIL_SUBJECT_PREFIX} - {facts.number}»."
    )
    return "\n".join(lines)
