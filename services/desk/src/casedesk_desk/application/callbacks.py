"""«Перезвонить»: the PHONE cases owing the citizen a callback, and recording a callback made.

The case service decides which cases owe one, orders them (earliest due first) and applies its
rules to who may record a call (a specialist who works the case's tier); the desk lists, asks and
shows what it answers.
"""

from __future__ import annotations

from casedesk_desk.application.ports import Cases, QueuePage, QueueQuery
from casedesk_desk.domain.errors import RefusalKind, Refused, with_service_words

MAX_NOTE = 10_000
# The form's answer to «Дозвонились?».
REACHED = {"yes": True, "no": False}


class Callbacks:
    def __init__(self, cases: Cases) -> None:
        self._cases = cases

    async def tasks(self, token: str, page_token: str = "") -> QueuePage:
        """One page of the callbacks owed, in the case service's order (earliest due first):
        any status, since the callback that gives the answer is owed at «Ответ готов»."""
        query = QueueQuery(callback_owed=True, by_deadline=False, page_token=page_token)
        return await self._cases.list_cases(token, query)

    async def record(self, token: str, case_id: str, reached: str, note: str) -> str:
        """Record a call made to the citizen; the Russian line saying it was recorded."""
        note = note.strip()
        if reached not in REACHED:
            raise Refused(RefusalKind.INVALID, "Отметьте, удалось ли дозвониться до гражданина.")
        if not note:
            raise Refused(
                RefusalKind.INVALID,
                "Запишите итог звонка: что сказали гражданину или почему не дозвонились.",
            )
        if len(note) > MAX_NOTE:
            raise Refused(RefusalKind.INVALID, f"Текст длиннее {MAX_NOTE} символов.")
        try:
            await self._cases.record_callback(token, case_id, REACHED[reached], note)
        except Refused as refusal:
            raise with_service_words(refusal) from None
        if REACHED[reached]:
            return "Звонок записан: гражданину дозвонились."
        return "Звонок записан: дозвониться не удалось."
