"""The words citizens read, in one place so that the portal, replies, SMS and e-mail agree.

Status labels follow the seed («В работе», «Ответ готов», «Закрыта»); the clarification status
reads «Требуется уточнение» everywhere. Deadlines are shown in Moscow time; a deadline at
midnight is the end of the previous day, as the regulation counts working days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from casedesk_vocabulary.enums import Status, Tier
from casedesk_vocabulary.moscow import MOSCOW

STATUS_LABELS: dict[Status, str] = {
    Status.REGISTERED: "Зарегистрирована",
    Status.IN_PROGRESS: "В работе",
    Status.WAITING_FOR_CITIZEN: "Требуется уточнение",
    Status.ANSWER_READY: "Ответ готов",
    Status.CLOSED: "Закрыта",
}
UNKNOWN_STATUS_LABEL = "Статус уточняется"

TIER_NAMES: dict[Tier, str] = {
    Tier.L1: "первая линия поддержки",
    Tier.L2: "старший специалист",
    Tier.L3: "отдел контроля качества",
}
# «Обращение передано …»: where an escalated case went.
TIER_ESCALATED_TO: dict[Tier, str] = {
    Tier.L1: "специалисту первой линии",
    Tier.L2: "старшему специалисту",
    Tier.L3: "в отдел контроля качества",
}


def status_label(status: Status | str) -> str:
    """The label of a status (a member or its name); unknown names read «Статус уточняется»."""
    if isinstance(status, str):
        status = Status.__members__.get(status)  # type: ignore[assignment]
    return STATUS_LABELS.get(status, UNKNOWN_STATUS_LABEL)  # type: ignore[arg-type]


def deadline_phrase(due: datetime) -> str:
    """«до 05.12.2026 15:00 (мск)», or «до конца дня 04.12.2026 (мск)» for a midnight."""
    local = due.astimezone(MOSCOW)
    if _midnight(local):
        return f"до конца дня {(local - timedelta(days=1)):%d.%m.%Y} (мск)"
    return f"до {local:%d.%m.%Y %H:%M} (мск)"


def deadline_phrase_short(due: datetime) -> str:
    """For an SMS: «до 05.12 15:00 мск», or «до конца дня 04.12 мск» for a midnight."""
    local = due.astimezone(MOSCOW)
    if _midnight(local):
        return f"до конца дня {(local - timedelta(days=1)):%d.%m} мск"
    return f"до {local:%d.%m %H:%M} мск"


def _midnight(local: datetime) -> bool:
    return (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
