"""What the case page says about the end of a case and the loop back to the citizen: the close
reason, merges both ways (linked by number), the citizen's rating, the callback owed and the
callbacks made, and how a caller from abroad was identified."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from casedesk_desk.application.ports import CaseDetails, HistoryItem, Rating
from casedesk_desk.domain.callbacks import callback_left
from casedesk_desk.domain.queue import TimeLeft
from casedesk_desk.domain.words import CALLER_CHECKS, callback_purpose_label, close_reason_label


@dataclass(frozen=True)
class LinkedCase:
    case_id: str
    number: str  # the case id when no history line named its number


@dataclass(frozen=True)
class CallbackOwed:
    due: datetime
    left: TimeLeft
    purpose: str  # Russian; empty when the case service did not say


@dataclass(frozen=True)
class LoopFacts:
    close_reason: str  # Russian; empty unless closed with a known reason
    merged_into: LinkedCase | None
    duplicates: list[LinkedCase]
    rating: Rating | None
    callback: CallbackOwed | None
    callbacks: list[HistoryItem]  # the calls recorded, oldest first
    from_abroad: bool
    caller_checks: list[str]  # Russian, as the operator recorded them


def loop_facts(case: CaseDetails, history: Sequence[HistoryItem], now: datetime) -> LoopFacts:
    # CaseView names merged cases by id; their numbers are in the merge events' history lines.
    numbers = {item.related_case: item.related_number for item in history if item.related_case}

    def linked(case_id: str) -> LinkedCase:
        return LinkedCase(case_id, numbers.get(case_id) or case_id)

    callback = None
    if case.callback_due is not None:
        callback = CallbackOwed(
            case.callback_due,
            callback_left(case.callback_due, now),
            callback_purpose_label(case.callback_purpose),
        )
    phone = case.phone
    return LoopFacts(
        close_reason=close_reason_label(case.close_reason) if case.status == "CLOSED" else "",
        merged_into=linked(case.merged_into) if case.merged_into else None,
        duplicates=[linked(d) for d in case.merged_duplicates],
        rating=case.rating,
        callback=callback,
        callbacks=[item for item in history if item.kind == "callback_recorded"],
        from_abroad=phone is not None and phone.from_abroad,
        caller_checks=[CALLER_CHECKS.get(c, c) for c in phone.caller_checks] if phone else [],
    )
