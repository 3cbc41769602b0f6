"""The callbacks a PHONE case owes the citizen: the answer goes back the way the question came.

A citizen who called is answered by a call (DESIGN.md "The loop back to the citizen"). A PHONE
case owes one callback at a time, until a specialist records one that reached the citizen
(`RecordCallback`, reached=true); one that did not reach him leaves it owed, due as before:

- FIRST_RESPONSE, from the registration: due CALLBACK_WITHIN after it, the seed's «обратный
  вызов в течение 30 минут», a phone case's first response;
- ANSWER, from the move to ANSWER_READY («Ответ готов»): due CALLBACK_WITHIN after it, or at the
  earlier due of a callback still owed (one call answers both);
- ESCALATION, from an escalation with callback_required (the senior specialist calls): due
  CALLBACK_WITHIN after it, unless a callback is owed already (that call serves).

A closed case owes nothing. The case (Case.callback) and the case index's row (its projector)
both follow these rules, so the view and ListCases(callback_owed) agree.

CALLBACK_WITHIN is the deadline policies' PHONE first-response target (2023.1 and 2026.1: 30 min,
wall clock); the same allowance is given to the answer's and the escalation's call.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from casedesk_case.domain.values import CallbackOwed, CallbackPurpose, Channel, Status

CALLBACK_WITHIN = timedelta(minutes=30)


def owed_on_registration(channel: Channel, at: datetime) -> CallbackOwed | None:
    if channel is not Channel.PHONE:
        return None
    return CallbackOwed(CallbackPurpose.FIRST_RESPONSE, at + CALLBACK_WITHIN)


def owed_after_status(
    owed: CallbackOwed | None, channel: Channel, to_status: Status, at: datetime
) -> CallbackOwed | None:
    if channel is not Channel.PHONE or to_status is Status.CLOSED:
        return None
    if to_status is not Status.ANSWER_READY:
        return owed
    due = at + CALLBACK_WITHIN
    return CallbackOwed(CallbackPurpose.ANSWER, min(due, owed.due) if owed else due)


def owed_after_escalation(
    owed: CallbackOwed | None, channel: Channel, callback_required: bool, at: datetime
) -> CallbackOwed | None:
    if channel is not Channel.PHONE or not callback_required or owed is not None:
        return owed
    return CallbackOwed(CallbackPurpose.ESCALATION, at + CALLBACK_WITHIN)


def owed_after_callback(owed: CallbackOwed | None, reached: bool) -> CallbackOwed | None:
    return None if reached else owed
