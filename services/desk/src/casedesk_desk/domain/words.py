"""The Russian words of the workspace (statuses come from the shared vocabulary)."""

from __future__ import annotations

import re

from casedesk_vocabulary.wording import STATUS_LABELS, status_label

__all__ = ["CATEGORY_LABELS", "CHANNEL_LABELS", "STATUS_LABELS", "refusal_text", "status_label"]

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
    return "Недостаточно прав для этого действия. Обратитесь к руководителю."
