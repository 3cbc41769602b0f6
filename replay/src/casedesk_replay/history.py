"""One case as it stood at a moment: the same projections, fed only that case's events up to then.

The view adds what the flat tables leave out on purpose: the event history line by line and the
citizen's contact details, masked (an analyst may need to know an e-mail was given, never which).
A field the case service sealed (a token, issue #18) is shown as `[sealed]`, never masked as if
it were the text: the replay has no keys (`casedesk_replay.sealed`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from casedesk_replay.projections import ReplayState
from casedesk_replay.projections.sla import outcome
from casedesk_replay.sealed import shown
from casedesk_replay.topics import Stream
from casedesk_replay.wire import (
    ACTOR_KIND,
    CHANNEL,
    CITIZEN,
    CLOSE_REASON,
    ESCALATION_REASON,
    STATUS,
    TIER,
    Micros,
    from_micros,
    micros,
)
from casedesk_runtime.masking import mask_email, mask_phone, mask_text

_NUMBER = re.compile(r"\d{4}-\d{7,}")


@dataclass(frozen=True)
class CaseRef:
    """How an analyst names a case: by id, or by number (the id is then looked up)."""

    case_id: str | None = None
    number: str | None = None


def parse_case_ref(reference: str) -> CaseRef:
    try:
        return CaseRef(case_id=str(UUID(reference)))
    except ValueError:
        pass
    if not _NUMBER.fullmatch(reference):
        raise ValueError(f"{reference!r} is neither a case id nor a number like 2026-0001234")
    return CaseRef(number=reference)


class NumberLookup:
    """A fold over case.events.v1 that finds the id of the case registered with a number."""

    def __init__(self, number: str) -> None:
        self.number = number
        self.case_id: str | None = None

    def apply(self, stream: Stream, events: Sequence[Any]) -> None:
        if self.case_id is not None or stream is not Stream.CASE:
            return
        for event in events:
            if event.WhichOneof("payload") == "created" and event.created.number == self.number:
                self.case_id = event.meta.case_id
                return

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError("a number lookup is not checkpointed")

    def restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError("a number lookup is not checkpointed")


class CaseTimeline:
    """A fold for the runner: keeps one case's events that happened at or before `as_of`."""

    def __init__(self, case_id: str, as_of: Micros | None = None, from_start: bool = True) -> None:
        self.case_id = case_id
        self.as_of = as_of
        self.state = ReplayState(from_start=from_start)
        self.case_events: list[Any] = []

    def apply(self, stream: Stream, events: Sequence[Any]) -> None:
        as_of = self.as_of
        mine = [
            event
            for event in events
            if event.meta.case_id == self.case_id
            and (as_of is None or (micros(event.meta.occurred_at) or 0) <= as_of)
        ]
        if not mine:
            return
        if stream is Stream.CASE:
            known = self.state.cases.rows.get(self.case_id, {}).get("version", 0)
            self.case_events.extend(e for e in mine if e.meta.case_version > known)
        self.state.apply(stream, mine)

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError("a single-case replay is not checkpointed")

    def restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError("a single-case replay is not checkpointed")

    def view(self) -> dict[str, Any] | None:
        row = self.state.cases.rows.get(self.case_id)
        if row is None:
            return None
        view: dict[str, Any] = {key: _plain(key, value) for key, value in row.items()}
        view["as_of"] = _iso(self.as_of)
        created = next((e.created for e in self.case_events if e.HasField("created")), None)
        if created is not None:
            view["citizen"] = _masked_citizen(created.citizen)
            view["subject"] = shown(created.content.subject, mask_text)
            view["service_code"] = created.content.service_code
        view["history"] = [_line(event) for event in self.case_events]
        view["sla"] = [
            {"target": c["target"], "policy_version": c["policy_version"],
             "due_at": _iso(c["due_at"]), "met_at": _iso(c["met_at"]), "outcome": outcome(c)}
            for c in self.state.sla.clocks.values()
        ]  # fmt: skip
        view["notifications"] = [
            {"channel": n["channel"], "template": n["template"], "state": n["state"],
             "attempts": n["attempts"]}
            for n in self.state.notifications.notifications.values()
        ]  # fmt: skip
        return view


def _line(event: Any) -> dict[str, Any]:
    meta = event.meta
    payload = event.WhichOneof("payload") or ""
    actor_kind = ACTOR_KIND[meta.actor.kind]
    # A citizen's portal login is masked (sealed: `[sealed]`); staff and services in clear.
    mask = _mask_login if meta.actor.kind == CITIZEN else _as_is
    actor_id = shown(meta.actor.id, mask)
    return {
        "version": meta.case_version,
        "at": _iso(micros(meta.occurred_at)),
        "event": meta.event_type or payload,
        "actor": f"{actor_kind}:{actor_id}" if actor_id else actor_kind,
        "summary": _summary(event, payload),
    }


def _summary(event: Any, payload: str) -> str:
    if payload == "status_changed":
        change = event.status_changed
        moved = f"{STATUS[change.from_status]} -> {STATUS[change.to_status]}"
        return f"{moved} ({CLOSE_REASON[change.close_reason]})" if change.close_reason else moved
    if payload == "assigned":
        a = event.assigned
        return f"{a.specialist_id or '(nobody)'} in {a.queue} at {TIER[a.tier]}"
    if payload == "escalated":
        e = event.escalated
        return f"{TIER[e.from_tier]} -> {TIER[e.to_tier]}: {ESCALATION_REASON[e.reason]}"
    if payload == "escalation_requested":
        return ESCALATION_REASON[event.escalation_requested.reason]
    if payload == "commented":
        c = event.commented
        return "public comment" if c.public else "internal note"
    if payload == "repeated":
        return f"repeated as {event.repeated.new_case_number}"
    if payload == "linked":
        return f"linked to {event.linked.linked_case_id}"
    return _loop_summary(event, payload)


def _loop_summary(event: Any, payload: str) -> str:
    """Ratings, merges and callbacks: never the citizen's comment or the call's note (free text,
    personal data)."""
    if payload == "answer_rated":
        rated = event.answer_rated
        return f"rated {rated.score}/5 via {CHANNEL[rated.channel]}"
    if payload == "merged_into":
        return f"merged into {event.merged_into.target_number or event.merged_into.target_case_id}"
    if payload == "duplicate_merged":
        d = event.duplicate_merged
        return f"duplicate {d.duplicate_number or d.duplicate_case_id} merged in"
    if payload == "callback_recorded":
        return "callback: reached" if event.callback_recorded.reached else "callback: not reached"
    return ""


def _masked_citizen(citizen: Any) -> dict[str, str]:
    # A sealed SNILS or INN was given all the same: `has_*` says so whether sealed or not.
    return {
        "account_login": shown(citizen.account_login, _mask_login),
        "mobile_phone": shown(citizen.mobile_phone, mask_phone),
        "email": shown(citizen.email, mask_email),
        "has_snils": str(bool(citizen.snils)).lower(),
        "has_inn": str(bool(citizen.inn)).lower(),
    }


def _as_is(value: str) -> str:
    return value


def _mask_login(login: str) -> str:
    # A login is chosen by the citizen and may be a name or an address: keep one letter.
    return f"{login[:1]}***" if login else ""


def _plain(key: str, value: Any) -> Any:
    return _iso(value) if key.endswith("_at") else value


def _iso(value: Micros | None) -> str | None:
    return from_micros(value).isoformat() if value is not None else None
