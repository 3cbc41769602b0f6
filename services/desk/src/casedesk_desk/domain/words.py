"""The Russian words of the workspace (statuses, close reasons and callbacks' purposes come from
the shared vocabulary)."""

from __future__ import annotations

import re
from datetime import datetime

from casedesk_vocabulary import notices
from casedesk_vocabulary.wording import (
    STATUS_LABELS,
    callback_purpose_label,
    close_reason_label,
    deadline_phrase,
    status_label,
)

__all__ = [
    "ANSWER_MISSING_TEXT",
    "CALLER_CHECKS",
    "CATEGORY_LABELS",
    "CHANNEL_LABELS",
    "DESK_ESCALATION_REASONS",
    "ESCALATION_REASONS",
    "STATUS_LABELS",
    "callback_announcements",
    "callback_purpose_label",
    "close_reason_label",
    "notification_line",
    "queue_announcements",
    "refusal_text",
    "sla_line",
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
# How the operator identified a caller (CallerCheck names); a call from abroad needs all three.
CALLER_CHECKS = {
    "PROFILE_MOBILE_NUMBER": "российский мобильный номер из личного кабинета",
    "PROFILE_NAME_BIRTH_DATE_SNILS": "ФИО, дата рождения и СНИЛС из профиля",
    "SMS_ONE_TIME_CODE": "одноразовый код по SMS на этот номер",
}
# The case service's refusal of Assign to a person who is not a supervisor.
_REASSIGN_RULE = re.compile(r"may not reassign cases")
# The case service's tier rules, as domain/person_rules.py words them: working a case, opening it.
_TIER_RULE = re.compile(r"^\S+ \((L\d|no tier)\) may not (work|open) an (L\d) case$")
# Closing as spam and merging duplicates refused to anybody but a supervisor.
_SUPERVISE_RULE = re.compile(r"may not (close|merge)")
SUPERVISOR_ONLY = (
    "Недостаточно прав: закрывать обращения как спам и объединять дубликаты может только "
    "руководитель."
)
# A refusal whose rule the desk does not know by its words.
GENERIC_FORBIDDEN = "Недостаточно прав для этого действия. Обратитесь к руководителю."
# «Ответ готов» refused: no public reply after the latest question (most often an escalation
# that came after his reply, which the new line must answer).
ANSWER_MISSING_TEXT = (
    "«Ответ готов» можно отметить только после ответа гражданину: после последнего вопроса или "
    "эскалации обращения ещё нет публичного ответа (внутренняя заметка ответом не считается). "
    "Ответьте гражданину и отметьте «Ответ готов» снова."
)
# The supervisors' overview refused to anybody else.
_OVERSEE_RULE = re.compile(r"may not see the desk overview")


def refusal_text(detail: str) -> str:
    """The specialist's reading of a PERMISSION_DENIED from the case service."""
    match = _TIER_RULE.match(detail)
    if match:
        mine, verb, theirs = match.groups()
        mine = "без линии" if mine == "no tier" else f"линии {mine}"
        if verb == "open":
            return (
                f"Недостаточно прав: специалист {mine} не может открывать обращения линии "
                f"{theirs}. С вопросом по нему обратитесь к специалисту этой линии или "
                "руководителю."
            )
        return (
            f"Недостаточно прав: специалист {mine} не может работать с обращением линии "
            f"{theirs}. Передайте его специалисту нужной линии или руководителю."
        )
    if _REASSIGN_RULE.search(detail):
        return "Недостаточно прав: переназначать обращения может только руководитель."
    if _SUPERVISE_RULE.search(detail):
        return SUPERVISOR_ONLY
    if _OVERSEE_RULE.search(detail):
        return "Недостаточно прав: обзор очередей и сроков доступен только руководителю."
    return GENERIC_FORBIDDEN


# The SLA service's targets, as «срок …» reads them.
SLA_TARGETS = {"FIRST_RESPONSE": "первого ответа", "RESOLUTION": "решения"}
NOTIFICATION_CHANNELS = {"SMS": "SMS", "EMAIL": "письмо", "SOCIAL": "ответ в соцсети"}


def sla_line(kind: str, target: str, due: datetime | None, late: bool = False) -> str:
    """One SLA fact as the case's history says it: «Срок первого ответа: отсчёт начат, до …»."""
    what = f"Срок {SLA_TARGETS.get(target, target.lower() or 'обработки')}"
    until = f", {deadline_phrase(due)}" if due is not None else ""
    lines = {
        "started": f"{what}: отсчёт начат{until}",
        "paused": f"{what}: приостановлен, ждём ответа гражданина",
        "resumed": f"{what}: отсчёт возобновлён{until}",
        "warning": f"{what} скоро истекает{until}",
        "breached": f"{what} нарушен",
        "met": f"{what} выполнен с опозданием" if late else f"{what} соблюдён",
    }
    return lines.get(kind, f"{what}: {kind}")


# What became of a notice (casedesk_vocabulary.notices); anything else is a failed attempt.
# notify's own decisions are not failures: the citizen was told, or will be.
_NOTICE_LINES = {
    notices.SENT: "Уведомление отправлено: {to}",
    notices.DEAD_LETTERED: "Уведомление не отправлено, попытки исчерпаны: {to}",
    notices.HELD: "Уведомление отложено (лимит сообщений получателю): {to}",
    notices.SUPERSEDED: "Уведомление заменено более поздним о том же обращении: {to}",
    notices.SUPPRESSED: "Уведомление не отправлено по правилам рассылки: {to}",
    notices.MERGED: "Уведомление объединено со следующим о смене статуса: {to}",
}


def notification_line(kind: str, channel: str, recipient_masked: str) -> str:
    """One notice to the citizen: «Уведомление отправлено: SMS на +7***67»."""
    how = NOTIFICATION_CHANNELS.get(channel, channel)
    to = f"{how} на {recipient_masked}" if recipient_masked else how
    line = _NOTICE_LINES.get(kind, "Уведомление не доставлено: {to}")
    return line.format(to=to)


def queue_announcements(number: str, status: str) -> dict[str, str]:
    """What a screen reader hears when the live queue adds, changes or drops the case's row."""
    return {
        "added": f"В очереди новое обращение № {number}, статус «{status_label(status)}».",
        "changed": f"Обращение № {number} изменилось, статус «{status_label(status)}».",
        "removed": f"Обращение № {number} больше не в этой очереди.",
    }


def callback_announcements(number: str) -> dict[str, str]:
    """What a screen reader hears when the live callback list adds, changes or drops a task."""
    return {
        "added": f"Новая задача: перезвонить по обращению № {number}.",
        "changed": f"Задача по обращению № {number} изменилась.",
        "removed": f"Перезванивать по обращению № {number} больше не нужно.",
    }
