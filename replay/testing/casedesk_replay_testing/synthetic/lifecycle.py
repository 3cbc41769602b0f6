"""Random but legal case lifecycles, as the case service's relay would publish them.

Every case is registered, assigned, answered (sometimes late), may wait for the citizen, may be
escalated on the citizen's request, and ends in progress, answered or closed; a few answered
cases are repeated as new cases. Citizens are fictitious (no real personal data).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from casedesk.case.v1 import events_pb2 as ce
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk_runtime.events import to_timestamp

NAMESPACE = UUID("5b0e7c4e-2f31-4a7e-9d0c-3a1f6e2b8c11")
CITIZEN = types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id="citizen-login")
SYSTEM = types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk-case")
CHANNELS = (types_pb2.PORTAL_CHAT, types_pb2.PERSONAL_ACCOUNT, types_pb2.EMAIL,
            types_pb2.PHONE, types_pb2.SOCIAL, types_pb2.MFC)  # fmt: skip
CATEGORIES = (types_pb2.REGISTRATION_SIGN_IN, types_pb2.SERVICE_DELIVERY,
              types_pb2.TECHNICAL_FAULT, types_pb2.OTHER)  # fmt: skip
# How long support takes to react: minutes for most, hours or days for some (those breach).
_REACTION = (timedelta(minutes=2), timedelta(minutes=20), timedelta(hours=3),
             timedelta(hours=14), timedelta(hours=40))  # fmt: skip
_REACTION_WEIGHTS = (35, 25, 20, 12, 8)


def specialist(number: int) -> types_pb2.Actor:
    return types_pb2.Actor(kind=types_pb2.Actor.SPECIALIST, id=f"spec-{number:03d}")


@dataclass
class CaseStory:
    """One case's events, built in order; `at` is the time of the next event."""

    case_id: str
    number: str
    at: datetime
    events: list[ce.CaseEvent] = field(default_factory=list)
    status: int = types_pb2.REGISTERED
    tier: int = types_pb2.L1

    def record(self, actor: types_pb2.Actor, **payload: object) -> ce.CaseEvent:
        version = len(self.events) + 1
        (name,) = payload
        event = ce.CaseEvent(
            meta=envelope_pb2.EventMeta(
                event_id=str(uuid5(NAMESPACE, f"{self.case_id}/{version}")),
                case_id=self.case_id,
                case_version=version,
                event_type="case." + type(payload[name]).__name__,
                occurred_at=to_timestamp(self.at),
                correlation_id=self.case_id,
                actor=actor,
            ),
            **payload,  # type: ignore[arg-type]
        )
        self.events.append(event)
        return event

    def move(self, to_status: int, actor: types_pb2.Actor) -> ce.CaseEvent:
        change = ce.StatusChanged(from_status=self.status, to_status=to_status)  # type: ignore[arg-type]
        self.status = to_status
        return self.record(actor, status_changed=change)

    def wait(self, rng: random.Random, longest: timedelta) -> None:
        self.at += timedelta(seconds=rng.uniform(30, longest.total_seconds()))


def new_case(serial: int, registered_at: datetime, rng: random.Random, repeat_of: str = "",
             channel: int | None = None) -> CaseStory:  # fmt: skip
    number = f"{registered_at.year}-{serial:07d}"
    story = CaseStory(str(uuid5(NAMESPACE, number)), number, registered_at)
    created = ce.Created(
        number=number,
        channel=channel if channel is not None else rng.choice(CHANNELS),  # type: ignore[arg-type]
        type=rng.choice((types_pb2.TECHNICAL, types_pb2.CONSULTATION, types_pb2.COMPLAINT)),
        category=rng.choice(CATEGORIES),
        queue="general",
        citizen=types_pb2.Citizen(full_name="Тестовый Гражданин", account_login="citizen-login"),
        content=types_pb2.CaseContent(subject="Синтетическое обращение"),
        repeat_of=repeat_of,
        tier=types_pb2.L1,
        priority=types_pb2.NORMAL,
        registered_at=to_timestamp(registered_at),
    )
    story.record(SYSTEM, created=created)
    story.at += timedelta(seconds=1)
    story.record(SYSTEM, assigned=ce.Assigned(specialist_id="spec-001", queue="general",
                                              tier=types_pb2.L1))  # fmt: skip
    return story


def work_case(story: CaseStory, rng: random.Random, on_escalation: Callable[..., bool]) -> None:
    """Play a lifecycle after registration; `on_escalation(story, request)` decides requests."""
    agent = specialist(rng.randrange(1, 40))
    story.at += rng.choices(_REACTION, _REACTION_WEIGHTS)[0] * rng.uniform(0.5, 1.5)
    if rng.random() < 0.3:
        story.record(agent, commented=ce.Commented(comment_id="c1", body="Ответ", public=True))
        story.wait(rng, timedelta(minutes=30))
    story.move(types_pb2.IN_PROGRESS, agent)
    if rng.random() < 0.25:
        story.wait(rng, timedelta(hours=2))
        story.move(types_pb2.WAITING_FOR_CITIZEN, agent)
        story.wait(rng, timedelta(days=2))
        story.record(
            CITIZEN, commented=ce.Commented(comment_id="c2", body="Уточнение", public=True)
        )
        story.move(types_pb2.IN_PROGRESS, CITIZEN)
    if rng.random() < 0.15:
        story.wait(rng, timedelta(hours=6))
        request = story.record(CITIZEN, escalation_requested=ce.EscalationRequested(
            request_id=f"req-{story.number}", reason=ce.UNSATISFYING_ANSWER))  # fmt: skip
        if on_escalation(story, request):
            story.at += timedelta(seconds=2)
            story.record(SYSTEM, escalated=ce.Escalated(
                from_tier=story.tier, to_tier=story.tier + 1, reason=ce.UNSATISFYING_ANSWER,
                cause_ref=request.escalation_requested.request_id, priority=types_pb2.HIGH))  # type: ignore[arg-type]  # fmt: skip
            story.tier += 1
    ending = rng.random()
    if ending < 0.2:
        return
    story.wait(rng, timedelta(days=3))
    story.move(types_pb2.ANSWER_READY, agent)
    if ending >= 0.6:
        story.wait(rng, timedelta(days=1))
        story.move(types_pb2.CLOSED, SYSTEM)
