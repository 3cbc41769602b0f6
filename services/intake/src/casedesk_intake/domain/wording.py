"""What the citizen reads in intake's acknowledgement of a registered case.

Status labels and deadline phrasing are the whole system's (casedesk_vocabulary.wording), so the
acknowledgement, the portal, SMS and e-mail read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casedesk_vocabulary.enums import Status
from casedesk_vocabulary.wording import deadline_phrase, status_label

# The e-mail subject that routes a reply to its case (seed: "Подготовка к обращению").
EMAIL_SUBJECT_PREFIX = "Обращение в службу поддержки"


@dataclass(frozen=True)
class AcknowledgementFacts:
    number: str
    status: Status | str
    resolution_due: datetime
    first_response_due: datetime | None = None
    linked_to_number: str = ""
    repeat_of_number: str = ""


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
        lines.append(f"Первый ответ специалиста: {deadline_phrase(facts.first_response_due)}.")
    lines.append(f"Срок решения: {deadline_phrase(facts.resolution_due)}.")
    lines.append(
        "Уточнения и документы добавляйте комментарием к этому обращению, не создавая нового; "
        f"в письме укажите тему «{EMAIL_SUBJECT_PREFIX} - {facts.number}»."
    )
    return "\n".join(lines)


def minutes_phrase(minutes: int) -> str:
    """«1 минуту», «3 минуты», «10 минут» (the accusative after «в течение», «действует»)."""
    if minutes % 10 == 1 and minutes % 100 != 11:
        word = "минуту"
    elif 2 <= minutes % 10 <= 4 and not 12 <= minutes % 100 <= 14:
        word = "минуты"
    else:
        word = "минут"
    return f"{minutes} {word}"


def access_code_requested_text(valid_minutes: int) -> str:
    """The answer to every code request, whatever became of it (domain/access_codes.py)."""
    return (
        "Если обращение с этим номером зарегистрировано, код доступа отправлен на телефон или "
        "адрес электронной почты, указанный в обращении. Код действует "
        f"{minutes_phrase(valid_minutes)}."
    )


def access_code_subject(number: str) -> str:
    return f"Код доступа к обращению № {number}"


def access_code_text(number: str, code: str, valid_minutes: int) -> str:
    """Within two SMS parts in Cyrillic (134 characters), with the case number."""
    return (
        f"Код доступа к обращению № {number}: {code}. Действует "
        f"{minutes_phrase(valid_minutes)}. Никому не сообщайте код."
    )
