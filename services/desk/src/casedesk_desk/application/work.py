"""Working cases for the signed-in specialist: the queue, the case page and its actions.

The rules of who may do what live in the case service alone; the desk shows what it answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from casedesk_desk.application.callbacks import Callbacks
from casedesk_desk.application.citizen_search import CitizenSearch
from casedesk_desk.application.ports import (
    CaseDetails,
    Cases,
    HistoryItem,
    QueuePage,
    QueueQuery,
    Timeline,
)
from casedesk_desk.application.supervision import Supervision
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.overview import Overview
from casedesk_desk.domain.queue import NO_CLOCK, Clock, QueueView
from casedesk_desk.domain.queue_filter import QueueFilter
from casedesk_desk.domain.sessions import Person
from casedesk_desk.domain.words import DESK_ESCALATION_REASONS
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)

# The journal's purpose of each read (x-access-purpose).
PURPOSE_WORK = "работа с обращением"
PURPOSE_REVEAL = "просмотр персональных данных гражданина"
PURPOSE_QUEUE = "работа с очередью"
ACTIONS = {
    "take": "TAKE_IN_WORK",
    "clarify": "ASK_CLARIFICATION",
    "ready": "ANSWER_READY_ACTION",
    "close": "CLOSE",
}
MAX_TEXT = 10_000
ESCALATION_TIERS = ("L2", "L3")
MAX_SPECIALIST_ID = 200
# The supervisors' overview: SLA compliance over this many days, today included.
OVERVIEW_DAYS = 14


@dataclass(frozen=True)
class CasePage:
    case: CaseDetails
    history: list[HistoryItem]  # case events, SLA facts and notices, by time
    clock: Clock
    timeline_missing: bool = False  # the SLA and notice part could not be read just now


class Work:
    def __init__(self, cases: Cases) -> None:
        self._cases = cases
        # The phone callbacks, a supervisor's closing and merging, and finding a citizen's cases
        # by SNILS, phone or e-mail: their own modules.
        self.callbacks = Callbacks(cases)
        self.supervision = Supervision(cases)
        self.citizens = CitizenSearch(cases)

    async def queue(
        self, token: str, person: Person, page: QueueFilter, page_token: str = ""
    ) -> QueuePage:
        """One page of a queue view as the case service filters, orders (nearest running
        deadline first) and pages it."""
        query = QueueQuery(
            status=page.status,
            channel=page.channel,
            category=page.category,
            queue=page.queue,
            open_only=not page.status,
            page_token=page_token,
        )
        if page.view is QueueView.MINE:
            query = replace(query, assignee=person.username)
        elif page.view is QueueView.UNASSIGNED:
            query = replace(query, unassigned=True)
        elif person.tier is None:
            return QueuePage([], "")  # a person without a tier has no tier queue
        else:
            query = replace(query, tier=person.tier)
        return await self._cases.list_cases(token, query)

    async def case_page(self, token: str, case_id: str, reveal: bool) -> CasePage:
        purpose = PURPOSE_REVEAL if reveal else PURPOSE_WORK
        case = await self._cases.get_case(token, case_id, purpose)
        history, timeline = await asyncio.gather(
            self._cases.history(token, case_id, purpose),
            self._timeline(token, case_id, purpose),
        )
        if timeline is None:
            return CasePage(case, history, NO_CLOCK, timeline_missing=True)
        # Stable: a case event and an SLA fact of the same instant keep the event first.
        merged = sorted([*history, *timeline.items], key=lambda item: item.at)
        return CasePage(case, merged, timeline.clock)

    async def _timeline(self, token: str, case_id: str, purpose: str) -> Timeline | None:
        """The SLA clocks and notices; None while they cannot be read: the case page is still
        worth showing without them."""
        try:
            return await self._cases.timeline(token, case_id, purpose)
        except Refused as refusal:
            if refusal.kind is not RefusalKind.UNAVAILABLE:
                raise
            log.warning("case timeline unavailable: %s", refusal.detail)
            return None

    async def overview(self, token: str) -> Overview:
        """The supervisors' overview; the case service refuses anybody else."""
        return await self._cases.overview(token, OVERVIEW_DAYS)

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
