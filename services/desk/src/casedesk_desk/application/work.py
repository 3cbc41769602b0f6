"""Working cases for the signed-in specialist: the queue, the case page and its actions.

The rules of who may do what live in the case service alone; the desk shows what it answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_desk.application.ports import (
    CaseDetails,
    Cases,
    HistoryItem,
    QueuePage,
    QueueQuery,
)
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.queue import QueueView, by_deadline
from casedesk_desk.domain.sessions import Person
from casedesk_desk.domain.words import DESK_ESCALATION_REASONS

OPEN_STATUSES = ("REGISTERED", "IN_PROGRESS", "WAITING_FOR_CITIZEN")
# The journal's purpose of each read (x-access-purpose).
PURPOSE_WORK = "работа с обращением"
PURPOSE_REVEAL = "просмотр персональных данных гражданина"
ACTIONS = {
    "take": "TAKE_IN_WORK",
    "clarify": "ASK_CLARIFICATION",
    "ready": "ANSWER_READY_ACTION",
    "close": "CLOSE",
}
MAX_TEXT = 10_000
ESCALATION_TIERS = ("L2", "L3")
MAX_SPECIALIST_ID = 200


@dataclass(frozen=True)
class CasePage:
    case: CaseDetails
    history: list[HistoryItem]


class Work:
    def __init__(self, cases: Cases) -> None:
        self._cases = cases

    async def queue(
        self, token: str, person: Person, view: QueueView, query: QueueQuery
    ) -> QueuePage:
        """One page of a queue view, nearest deadline first. «Моя линия» and «Не назначенные» are
        taken from the page the case service lists: it filters neither by tier nor by an empty
        assignee."""
        if view is QueueView.MINE:
            query = QueueQuery(**{**query.__dict__, "assignee": person.username})
        page = await self._cases.list_cases(token, query)
        rows = page.rows
        if not query.status:
            rows = [row for row in rows if row.status in OPEN_STATUSES]
        if view is QueueView.TIER:
            rows = [row for row in rows if row.tier == (person.tier or "")]
        elif view is QueueView.UNASSIGNED:
            rows = [row for row in rows if not row.assignee]
        return QueuePage(by_deadline(rows), page.next_page_token)

    async def case_page(self, token: str, case_id: str, reveal: bool) -> CasePage:
        purpose = PURPOSE_REVEAL if reveal else PURPOSE_WORK
        case = await self._cases.get_case(token, case_id, purpose)
        history = await self._cases.history(token, case_id, purpose)
        return CasePage(case, history)

    async def act(self, token: str, case_id: str, action: str, text: str) -> str:
        """Do a form's action; the Russian line saying it was done."""
        text = text.strip()
        if len(text) > MAX_TEXT:
            raise Refused(RefusalKind.INVALID, f"Текст длиннее {MAX_TEXT} символов.")
        if action in ("reply", "note"):
            if not text:
                raise Refused(RefusalKind.INVALID, "Напишите текст сообщения.")
            await self._cases.comment(token, case_id, text, public=action == "reply")
            return "Ответ отправлен гражданину." if action == "reply" else "Заметка добавлена."
        if action == "clarify":
            if not text:
                raise Refused(RefusalKind.INVALID, "Напишите вопрос гражданину.")
            # The question is a public comment, so it is in the citizen's view of the case.
            await self._cases.comment(token, case_id, text, public=True)
        if action not in ACTIONS:
            raise Refused(RefusalKind.NOT_FOUND, "Такого действия нет.")
        await self._cases.change_status(token, case_id, ACTIONS[action], text)
        return {
            "take": "Обращение взято в работу.",
            "clarify": "Запрос уточнения отправлен.",
            "ready": "Обращение отмечено: «Ответ готов».",
            "close": "Обращение закрыто.",
        }[action]

    async def escalate(
        self, token: str, case_id: str, to_tier: str, reason: str, explanation: str
    ) -> str:
        """Up a tier with a reason: the chosen one travels with the escalation, the words go into
        an internal note for the next tier to read."""
        explanation = explanation.strip()
        if to_tier not in ESCALATION_TIERS:
            raise Refused(RefusalKind.INVALID, "Выберите линию, на которую передать: L2 или L3.")
        if reason not in DESK_ESCALATION_REASONS:
            raise Refused(RefusalKind.INVALID, "Выберите причину эскалации из списка.")
        if not explanation:
            raise Refused(
                RefusalKind.INVALID, "Опишите причину эскалации: её прочтёт специалист линии."
            )
        if len(explanation) > MAX_TEXT:
            raise Refused(RefusalKind.INVALID, f"Текст длиннее {MAX_TEXT} символов.")
        # The note first: once the case is on a higher tier, a specialist of the lower one may no
        # longer add to it (the tier rule).
        await self._cases.comment(token, case_id, f"Причина эскалации: {explanation}", public=False)
        await self._cases.escalate(token, case_id, to_tier, reason)
        return f"Обращение передано на линию {to_tier}."

    async def reassign(self, token: str, case_id: str, specialist_id: str) -> str:
        """Assign (supervisors only: the case service refuses anybody else)."""
        specialist_id = specialist_id.strip()
        if len(specialist_id) > MAX_SPECIALIST_ID or any(c.isspace() for c in specialist_id):
            raise Refused(
                RefusalKind.INVALID, "Идентификатор специалиста без пробелов, до 200 знаков."
            )
        await self._cases.assign(token, case_id, specialist_id)
        if specialist_id:
            return f"Обращение назначено специалисту {specialist_id}."
        return "Обращение назначено по специализации и загрузке."
