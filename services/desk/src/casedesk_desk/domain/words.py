"""The Russian words of the workspace (statuses come from the shared vocabulary)."""

from __future__ import annotations

import re

from casedesk_vocabulary.wording import STATUS_LABELS, status_label

__all__ = [
    "CATEGORY_LABELS",
    "CHANNEL_LABELS",
    "DESK_ESCALATION_REASONS",
    "ESCALATION_REASONS",
    "STATUS_LABELS",
    "refusal_text",
    "status_label",
]

CHANNEL_LABELS = {
    "PORTAL_CHAT": "Чат портала",
    "PERSONAL_ACCOUNT": "Личный кабинет",
    "EMAIL": "Электронная почта",
    "PHONE": "Телефон",
    "SOCIAL": "Социальные сети",
    "MFC": "МФЦ",
}
CATEGORY_LABELS = {
    "REGISTRATION_SIGN_IN": "Регистрация и вход",
    "SERVICE_DELIVERY": "Получение услуги",
    "TECHNICAL_FAULT": "Техническая ошибка",
    "OTHER": "Другое",
}

# Why a case went up a tier (EscalationReason names), as the history says it.
ESCALATION_REASONS = {
    "CRITICAL_ERROR": "критическая ошибка, нужна следующая линия",
    "UNSATISFYING_ANSWER": "гражданин не удовлетворён ответом",
    "NO_ANSWER_IN_TIME": "ответ не удаётся дать в срок",
    "FIRST_RESPONSE_BREACH": "нарушен срок первого ответа",
    "RESOLUTION_BREACH": "нарушен срок решения",
}
# The ones a specialist chooses on the escalation form (the breaches are the system's).
DESK_ESCALATION_REASONS = ("CRITICAL_ERROR", "UNSATISFYING_ANSWER", "NO_ANSWER_IN_TIME")
# The case service's refusal of Assign to a person who is not a supervisor.
_REASSIGN_RULE = re.compile(r"may not reassign cases")
# The case service's tier rule, as domain/person_rules.py words it.
_TIER_RULE = re.compile(r"^\S+ \((L\d|no tier)\) may not work an (L\d) case$")


def refusal_text(detail: str) -> str:
    """The specialist's reading of a PERMISSION_DENIED from the case service."""
    match = _TIER_RULE.match(detail)
    if match:
        mine, theirs = match.groups()
        mine = "без линии" if mine == "no tier" else f"линии {mine}"
        return (
            f"Недостаточно прав: специалист {mine} не может работать с обращением линии "
            f"{theirs}. Передайте его специалисту нужной линии или руководителю."
        )
    if _REASSIGN_RULE.search(detail):
        return "Недостаточно прав: переназначать обращения может только руководитель."
    return "Недостаточно прав для этого действия. Обратитесь к руководителю."
