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
