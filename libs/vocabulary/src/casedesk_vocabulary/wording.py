"""The words citizens read, in one place so that the portal, replies, SMS and e-mail agree.

Status labels follow the seed («В работе», «Ответ готов», «Закрыта»); the clarification status
reads «Требуется уточнение» everywhere. Deadlines are shown in Moscow time; a deadline at
midnight is the end of the previous day, as the regulation counts working days.

A label says where a case stands; the news (`StatusNews`, `EscalationNews`) says what happened and
who did it: the same «В работе» is a specialist starting work or the citizen's own answer to a
clarification arriving, and a citizen must not read the one for the other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from casedesk_vocabulary.enums import (
    ActorKind,
    CallbackPurpose,
    CloseReason,
    EscalationReason,
    Status,
    Tier,
)
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


# -- what happened: the news of a status change or an escalation ------------------------------


class StatusNews(Enum):
    """What a citizen is told happened when his case changed status (see `status_news`)."""

    REGISTERED = "REGISTERED"
    TAKEN_INTO_WORK = "TAKEN_INTO_WORK"
    WORK_RESUMED = "WORK_RESUMED"  # a specialist took the case back without the citizen's answer
    CITIZEN_ANSWERED = "CITIZEN_ANSWERED"
    CLARIFICATION_REQUESTED = "CLARIFICATION_REQUESTED"
    ANSWER_READY = "ANSWER_READY"
    CLOSED_BY_SPECIALIST = "CLOSED_BY_SPECIALIST"
    CLOSED_AUTOMATICALLY = "CLOSED_AUTOMATICALLY"  # «Ответ готов» for the configured days
    CLOSED_BY_CITIZEN = "CLOSED_BY_CITIZEN"  # the citizen confirmed the answer
    CLOSED_AS_SPAM = "CLOSED_AS_SPAM"  # a supervisor closed it: no request to support in it
    CLOSED_AS_DUPLICATE = "CLOSED_AS_DUPLICATE"  # merged into another case of the citizen


# One sentence each, for a message that has room (an e-mail, a chat line).
STATUS_NEWS: dict[StatusNews, str] = {
    StatusNews.REGISTERED: "Обращение зарегистрировано и ожидает распределения специалисту.",
    StatusNews.TAKEN_INTO_WORK: "Специалист приступил к работе над обращением.",
    StatusNews.WORK_RESUMED: "Специалист продолжает работу над обращением.",
    StatusNews.CITIZEN_ANSWERED: (
        "Ваш ответ на запрос уточнения получен, специалист продолжает работу над обращением."
    ),
    StatusNews.CLARIFICATION_REQUESTED: "Специалисту нужны уточнения по обращению.",
    StatusNews.ANSWER_READY: "Ответ на обращение готов.",
    StatusNews.CLOSED_BY_SPECIALIST: "Специалист закрыл обращение.",
    StatusNews.CLOSED_AUTOMATICALLY: (
        "Обращение закрыто автоматически: после ответа от вас не поступило вопросов."
    ),
    StatusNews.CLOSED_BY_CITIZEN: "Обращение закрыто: вы подтвердили, что получили ответ.",
    StatusNews.CLOSED_AS_SPAM: (
        "Обращение закрыто без рассмотрения: в нём нет вопроса к службе поддержки."
    ),
    StatusNews.CLOSED_AS_DUPLICATE: (
        "Обращение объединено с другим вашим обращением по тому же вопросу: ответ придёт по нему."
    ),
}
# For an SMS, after «Обращение <номер>: статус «<label>».»: only where the label alone would
# mislead or leave out who acted («В работе» after the citizen's own answer, the three ways to
# «Закрыта»), and short enough to keep such an SMS one part.
STATUS_NEWS_SHORT: dict[StatusNews, str] = {
    StatusNews.CITIZEN_ANSWERED: "Ваш ответ получен.",
    StatusNews.CLARIFICATION_REQUESTED: "Ответьте на вопрос специалиста.",
    StatusNews.CLOSED_BY_SPECIALIST: "Закрыто специалистом.",
    StatusNews.CLOSED_AUTOMATICALLY: "Закрыто автоматически.",
    StatusNews.CLOSED_BY_CITIZEN: "Вы подтвердили ответ.",
    StatusNews.CLOSED_AS_SPAM: "Закрыто без рассмотрения.",
    StatusNews.CLOSED_AS_DUPLICATE: "Объединено с другим обращением.",
}


def status_news(
    from_status: Status | None,
    to_status: Status,
    actor: ActorKind | None,
    *,
    close_reason: CloseReason | None = None,
) -> StatusNews:
    """The news of a change to `to_status` made by `actor` (None: not known).

    The citizen moves a case only by answering a clarification (back to IN_PROGRESS) or by
    confirming the answer (CLOSED); the system closes an answered case nobody reacted to. A
    closing's `close_reason` (StatusChanged.close_reason), where the event has one, says why
    better than the actor: a supervisor's spam or duplicate closing is no specialist's answer.
    """
    if to_status is Status.CLOSED and close_reason is not None:
        return _CLOSING_NEWS[close_reason]
    if to_status is Status.IN_PROGRESS:
        if actor is ActorKind.CITIZEN:
            return StatusNews.CITIZEN_ANSWERED
        if from_status is Status.WAITING_FOR_CITIZEN:
            return StatusNews.WORK_RESUMED
        return StatusNews.TAKEN_INTO_WORK
    if to_status is Status.CLOSED:
        if actor is ActorKind.CITIZEN:
            return StatusNews.CLOSED_BY_CITIZEN
        if actor is ActorKind.SYSTEM:
            return StatusNews.CLOSED_AUTOMATICALLY
        return StatusNews.CLOSED_BY_SPECIALIST
    return {
        Status.REGISTERED: StatusNews.REGISTERED,
        Status.WAITING_FOR_CITIZEN: StatusNews.CLARIFICATION_REQUESTED,
        Status.ANSWER_READY: StatusNews.ANSWER_READY,
    }[to_status]


_CLOSING_NEWS: dict[CloseReason, StatusNews] = {
    CloseReason.CLOSED_BY_SPECIALIST: StatusNews.CLOSED_BY_SPECIALIST,
    CloseReason.ANSWER_CONFIRMED: StatusNews.CLOSED_BY_CITIZEN,
    CloseReason.NO_REACTION: StatusNews.CLOSED_AUTOMATICALLY,
    CloseReason.SPAM: StatusNews.CLOSED_AS_SPAM,
    CloseReason.DUPLICATE: StatusNews.CLOSED_AS_DUPLICATE,
}


class EscalationNews(Enum):
    """Why a case went up a tier, as the citizen is told (see `escalation_news`)."""

    BY_SPECIALIST = "BY_SPECIALIST"
    AT_CITIZENS_REQUEST = "AT_CITIZENS_REQUEST"
    FIRST_RESPONSE_OVERDUE = "FIRST_RESPONSE_OVERDUE"
    RESOLUTION_OVERDUE = "RESOLUTION_OVERDUE"


# Follows «Обращение передано <TIER_ESCALATED_TO>.»
ESCALATION_NEWS: dict[EscalationNews, str] = {
    EscalationNews.BY_SPECIALIST: "Так решил специалист, который работал с обращением.",
    EscalationNews.AT_CITIZENS_REQUEST: "Так сделано по вашему запросу.",
    EscalationNews.FIRST_RESPONSE_OVERDUE: "Так сделано, потому что истёк срок первого ответа.",
    EscalationNews.RESOLUTION_OVERDUE: "Так сделано, потому что истёк срок решения.",
}


def escalation_news(actor: ActorKind | None, reason: EscalationReason) -> EscalationNews | None:
    """Why, in the citizen's words: a breached deadline whoever acted on it; else a specialist's
    decision, or (the escalation service acting) the citizen's own request. None when the actor
    is not known: better no reason than a wrong one."""
    if reason is EscalationReason.FIRST_RESPONSE_BREACH:
        return EscalationNews.FIRST_RESPONSE_OVERDUE
    if reason is EscalationReason.RESOLUTION_BREACH:
        return EscalationNews.RESOLUTION_OVERDUE
    if actor is ActorKind.SPECIALIST:
        return EscalationNews.BY_SPECIALIST
    if actor in (ActorKind.SYSTEM, ActorKind.CITIZEN):
        return EscalationNews.AT_CITIZENS_REQUEST
    return None


def repeated_case_phrase(original_number: str) -> str:
    """The acknowledgement of a repeat: which case it repeats."""
    return f"Это повторное обращение по обращению № {original_number}."


# -- why a case was closed, and the callbacks a phone case owes ------------------------------

# How a closed case's reason reads, to the citizen (his case card) and to specialists (the desk).
CLOSE_REASON_LABELS: dict[CloseReason, str] = {
    CloseReason.CLOSED_BY_SPECIALIST: "Закрыто специалистом",
    CloseReason.ANSWER_CONFIRMED: "Ответ подтверждён заявителем",
    CloseReason.NO_REACTION: "Закрыто автоматически: после ответа не поступило вопросов",
    CloseReason.SPAM: "Закрыто без рассмотрения (спам)",
    CloseReason.DUPLICATE: "Объединено с другим обращением (дубликат)",
}


def close_reason_label(reason: CloseReason | str | None) -> str:
    """The label of a close reason (a member or its name); "" for none or an unknown name: a
    case closed before close reasons existed says only «Закрыта»."""
    if isinstance(reason, str):
        reason = CloseReason.__members__.get(reason)
    return CLOSE_REASON_LABELS.get(reason, "") if reason is not None else ""


# What the specialist calls the citizen of a PHONE case for (the desk's «Перезвонить» list).
CALLBACK_PURPOSE_LABELS: dict[CallbackPurpose, str] = {
    CallbackPurpose.FIRST_RESPONSE: "Первый ответ: перезвонить гражданину",
    CallbackPurpose.ANSWER: "Сообщить гражданину готовый ответ",
    CallbackPurpose.ESCALATION: "Перезвонить после передачи на старшую линию",
}


def callback_purpose_label(purpose: CallbackPurpose | str | None) -> str:
    """The label of a callback's purpose (a member or its name); "" for none or unknown."""
    if isinstance(purpose, str):
        purpose = CallbackPurpose.__members__.get(purpose)
    return CALLBACK_PURPOSE_LABELS.get(purpose, "") if purpose is not None else ""
