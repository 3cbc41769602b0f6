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
