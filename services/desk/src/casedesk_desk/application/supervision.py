"""A supervisor's end of a case: closing spam with an explanation, merging a duplicate into
another case of the same citizen (after a confirmation showing both).

The desk offers these to the `supervisor` role only; the case service decides (it refuses anybody
else, and a merge it cannot make). Its refusals are shown with its own words where the desk's
could not say why (the merge's rules: the same citizen, a target still open, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from casedesk_desk.application.ports import CaseDetails, Cases
from casedesk_desk.domain.errors import RefusalKind, Refused, with_service_words
from casedesk_desk.domain.words import GENERIC_FORBIDDEN, SUPERVISOR_ONLY

# The journal's purpose of the reads that show both cases before a merge.
PURPOSE_MERGE = "объединение дубликатов"
MAX_TEXT = 10_000
# Case numbers as the case service gives them: the year, a dash, the sequence (2026-000123).
CASE_NUMBER = re.compile(r"\d{4}-\d{1,12}")


@dataclass(frozen=True)
class MergePreview:
    """What the supervisor confirms: the duplicate goes into the target."""

    duplicate: CaseDetails
    target: CaseDetails
    reason: str


class Supervision:
    def __init__(self, cases: Cases) -> None:
        self._cases = cases

    async def close_as_spam(self, token: str, case_id: str, explanation: str) -> str:
        explanation = _text(explanation, "Объясните, почему это спам: пояснение обязательно.")
        try:
            await self._cases.close_case(token, case_id, "SPAM", explanation)
        except Refused as refusal:
            raise explained(refusal) from None
        return "Обращение закрыто как спам."

    async def merge_preview(
        self, token: str, case_id: str, number: str, reason: str
    ) -> MergePreview:
        """Both cases as the supervisor confirms the merge (two journaled reads)."""
        number = number.strip()
        if not CASE_NUMBER.fullmatch(number):
            raise Refused(RefusalKind.INVALID, "Укажите номер обращения, например 2026-000123.")
        reason = reason.strip()
        if len(reason) > MAX_TEXT:
            raise Refused(RefusalKind.INVALID, f"Текст длиннее {MAX_TEXT} символов.")
        duplicate = await self._cases.get_case(token, case_id, PURPOSE_MERGE)
        try:
            target = await self._cases.find_case(token, number, PURPOSE_MERGE)
        except Refused as refusal:
            if refusal.kind is RefusalKind.NOT_FOUND:
                raise Refused(
                    RefusalKind.NOT_FOUND, f"Обращение № {number} не найдено.", refusal.detail
                ) from None
            raise
        if target.case_id == duplicate.case_id:
            raise Refused(RefusalKind.INVALID, "Нельзя объединить обращение с самим собой.")
        return MergePreview(duplicate, target, reason)

    async def merge(self, token: str, duplicate_id: str, target_id: str, reason: str) -> str:
        if not target_id or duplicate_id == target_id:
            raise Refused(RefusalKind.INVALID, "Выберите обращение, с которым объединить.")
        reason = reason.strip()
        if len(reason) > MAX_TEXT:
            raise Refused(RefusalKind.INVALID, f"Текст длиннее {MAX_TEXT} символов.")
        try:
            await self._cases.merge_cases(token, duplicate_id, target_id, reason)
        except Refused as refusal:
            raise explained(refusal) from None
        return "Дубликат объединён с этим обращением и закрыт."


def explained(refusal: Refused) -> Refused:
    """A refusal of a supervisor's action made clear: who may do it when the rule's words were
    not known; the case service's own words where the desk's would only say «not now»."""
    if refusal.kind is RefusalKind.FORBIDDEN and refusal.message == GENERIC_FORBIDDEN:
        return Refused(refusal.kind, SUPERVISOR_ONLY, refusal.detail)
    return with_service_words(refusal)


def _text(text: str, missing: str) -> str:
    text = text.strip()
    if not text:
        raise Refused(RefusalKind.INVALID, missing)
    if len(text) > MAX_TEXT:
        raise Refused(RefusalKind.INVALID, f"Текст длиннее {MAX_TEXT} символов.")
    return text
