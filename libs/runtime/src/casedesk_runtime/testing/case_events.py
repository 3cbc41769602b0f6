"""Case events (`casedesk.case.v1.CaseEvent`) as the case service's relay publishes them.

One `CaseStream` per case numbers the versions itself and remembers the status and the tier, so
a test writes the story (`created()`, `status_changed(to=...)`, `commented(...)`) and not the
bookkeeping. Every method returns the protobuf message; `.SerializeToString()` is the Kafka value
and `case_id` the key.

Defaults follow the relay: ids derived from (case id, version), so building the same version again
gives the same event id, the way a re-publish after a crash does; one correlation id per case, as
if a single request opened it; the actor of the command behind the event (the system for
`created`, a specialist otherwise). Every one of them can be overridden per event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypedDict, Unpack

from google.protobuf.message import Message

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk_runtime.events import to_timestamp
from casedesk_vocabulary.enums import (
    ActorKind,
    CaseType,
    Category,
    Channel,
    ContactChannel,
    EscalationReason,
    Priority,
    Status,
    Tier,
)

CaseEvent = events_pb2.CaseEvent

ACTOR_IDS = {
    ActorKind.CITIZEN: "ivanov.ii",
    ActorKind.SPECIALIST: "l1-004",
    ActorKind.SYSTEM: "casedesk",
}


def _contact(preferred: ContactChannel) -> int:
    if preferred is ContactChannel.UNSPECIFIED:
        return types_pb2.CONTACT_CHANNEL_UNSPECIFIED
    return types_pb2.ContactChannel.Value(f"CONTACT_{preferred.value}")


def _reason(reason: EscalationReason) -> int:
    if reason is EscalationReason.UNSPECIFIED:
        return events_pb2.ESCALATION_REASON_UNSPECIFIED
    return events_pb2.EscalationReason.Value(reason.value)


class Envelope(TypedDict, total=False):
    """What any method may set in the envelope (`CaseStream.event` says what each one means)."""

    at: datetime
    version: int
    by: ActorKind
    actor_id: str
    event_id: str
    correlation_id: str
    causation_id: str


def a_citizen(
    *,
    full_name: str = "Иванов Иван Иванович",
    phone: str = "+79161234567",
    email: str = "citizen@example.org",
    preferred: ContactChannel = ContactChannel.SMS_AND_EMAIL,
    account_login: str = "ivanov.ii",
) -> types_pb2.Citizen:
    """The citizen of a `Created` event (only what notifying and routing read)."""
    return types_pb2.Citizen(
        full_name=full_name,
        account_login=account_login,
        mobile_phone=phone,
        email=email,
        preferred_contact=_contact(preferred),
    )


class CaseStream:
    """The events of one case, version after version; `events` holds every one built so far."""

    def __init__(
        self,
        case_id: str | None = None,
        *,
        number: str = "2026-0000001",
        channel: Channel = Channel.PORTAL_CHAT,
        tier: Tier = Tier.L1,
        at: datetime | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.case_id = case_id or str(uuid.uuid4())
        self.number = number
        self.channel = channel
        self.tier = tier
        self.status = Status.REGISTERED
        self.at = at or datetime.now(UTC)
        self.correlation_id = f"corr-{self.case_id}" if correlation_id is None else correlation_id
        self.version = 0
        self.events: list[events_pb2.CaseEvent] = []

    # -- one method per payload ------------------------------------------------------------------

    def created(
        self,
        *,
        number: str | None = None,
        channel: Channel | None = None,
        tier: Tier | None = None,
        case_type: CaseType = CaseType.TECHNICAL,
        category: Category = Category.TECHNICAL_FAULT,
        priority: Priority = Priority.NORMAL,
        citizen: types_pb2.Citizen | None = None,
        subject: str = "Не приходит SMS-код",
        registered_at: datetime | None = None,
        **envelope: Unpack[Envelope],
    ) -> events_pb2.CaseEvent:
        """`Created`, by the system (intake); `registered_at` defaults to the event's instant."""
        self.number = number or self.number
        self.channel = channel or self.channel
        self.tier = tier or self.tier
        envelope.setdefault("by", ActorKind.SYSTEM)
        at = envelope["at"] = self._advance(envelope.get("at"))
        payload = events_pb2.Created(
            number=self.number,
            channel=types_pb2.Channel.Value(self.channel.value),
            type=types_pb2.CaseType.Value(case_type.value),
            category=types_pb2.Category.Value(category.value),
            tier=types_pb2.Tier.Value(self.tier.value),
            priority=types_pb2.Priority.Value(priority.value),
            citizen=citizen if citizen is not None else a_citizen(),
            content=types_pb2.CaseContent(subject=subject),
            registered_at=to_timestamp(registered_at or at),
        )
        return self.event("created", payload, **envelope)

    def status_changed(
        self,
        *,
        to: Status,
        from_: Status | None = None,
        reason: str = "",
        **envelope: Unpack[Envelope],
    ) -> events_pb2.CaseEvent:
        """`StatusChanged` from the current status (or `from_`) to `to`, which becomes current."""
        before = from_ or self.status
        self.status = to
        payload = events_pb2.StatusChanged(
            from_status=types_pb2.Status.Value(before.value),
            to_status=types_pb2.Status.Value(to.value),
            reason=reason,
        )
        return self.event("status_changed", payload, **envelope)

    def commented(
        self,
        *,
        public: bool = True,
        body: str = "Проверьте раздел «Мои заявления»",
        comment_id: str | None = None,
        **envelope: Unpack[Envelope],
    ) -> events_pb2.CaseEvent:
        """`Commented`: a specialist's public reply; `public=False` a note, `by=CITIZEN` theirs."""
        payload = events_pb2.Commented(
            comment_id=comment_id or f"{self.case_id}/comment/{self.version + 1}",
            body=body,
            public=public,
        )
        return self.event("commented", payload, **envelope)

    def assigned(
        self,
        *,
        specialist_id: str = "l1-004",
        queue: str = "tech",
        tier: Tier | None = None,
        previous_specialist_id: str = "",
        **envelope: Unpack[Envelope],
    ) -> events_pb2.CaseEvent:
        payload = events_pb2.Assigned(
            specialist_id=specialist_id,
            queue=queue,
            tier=types_pb2.Tier.Value((tier or self.tier).value),
            previous_specialist_id=previous_specialist_id,
        )
        return self.event("assigned", payload, **envelope)

    def escalated(
        self,
        *,
        to_tier: Tier | None = None,
        from_tier: Tier | None = None,
        reason: EscalationReason = EscalationReason.NO_ANSWER_IN_TIME,
        cause_ref: str = "",
        priority: Priority | None = None,
        callback_required: bool = False,
        **envelope: Unpack[Envelope],
    ) -> events_pb2.CaseEvent:
        """`Escalated` from the current tier (or `from_tier`) one up (or to `to_tier`)."""
        before = from_tier or self.tier
        after = to_tier or before.above()
        if after is None:
            raise ValueError(f"nothing above {before.value}: name to_tier")
        self.tier = after
        payload = events_pb2.Escalated(
            from_tier=types_pb2.Tier.Value(before.value),
            to_tier=types_pb2.Tier.Value(after.value),
            reason=_reason(reason),
            cause_ref=cause_ref,
            priority=types_pb2.Priority.Value(priority.value) if priority else None,
            callback_required=callback_required,
        )
        return self.event("escalated", payload, **envelope)

    def escalation_requested(
        self,
        *,
        reason: EscalationReason = EscalationReason.UNSATISFYING_ANSWER,
        request_id: str | None = None,
        explanation: str = "",
        **envelope: Unpack[Envelope],
    ) -> events_pb2.CaseEvent:
        """`EscalationRequested`: the citizen's complaint, by default."""
        envelope.setdefault("by", ActorKind.CITIZEN)
        if request_id is None:
            request_id = f"{self.case_id}/request/{self.version + 1}"
        payload = events_pb2.EscalationRequested(
            request_id=request_id,
            reason=_reason(reason),
            explanation=explanation,
        )
        return self.event("escalation_requested", payload, **envelope)

    def repeated(
        self,
        *,
        new_case_id: str,
        new_case_number: str = "",
        reason: str = "",
        **envelope: Unpack[Envelope],
    ) -> events_pb2.CaseEvent:
        """`Repeated`: the citizen asked again, in the new case `new_case_id`."""
        payload = events_pb2.Repeated(
            new_case_id=new_case_id, new_case_number=new_case_number, reason=reason
        )
        return self.event("repeated", payload, **envelope)

    # -- any payload -----------------------------------------------------------------------------

    def event(
        self,
        field: str,
        payload: Message,
        *,
        at: datetime | None = None,
        version: int | None = None,
        by: ActorKind = ActorKind.SPECIALIST,
        actor_id: str | None = None,
        event_id: str | None = None,
        correlation_id: str | None = None,
        causation_id: str = "",
    ) -> events_pb2.CaseEvent:
        """The next event with `payload` in oneof `field`: the envelope of every method above.

        `at` moves the stream's clock (later events default to it); `version` builds an event
        out of turn (a duplicate, a gap) and does not move the numbering.
        """
        moment = self._advance(at)
        if version is None:
            self.version += 1
            version = self.version
        meta = envelope_pb2.EventMeta(
            event_id=event_id or f"{self.case_id}/v{version}",
            case_id=self.case_id,
            case_version=version,
            event_type=f"case.{payload.DESCRIPTOR.name}",
            occurred_at=to_timestamp(moment),
            causation_id=causation_id,
            correlation_id=self.correlation_id if correlation_id is None else correlation_id,
            actor=types_pb2.Actor(
                kind=types_pb2.Actor.Kind.Value(by.value),
                id=ACTOR_IDS[by] if actor_id is None else actor_id,
            ),
        )
        built = events_pb2.CaseEvent(meta=meta, **{field: payload})
        self.events.append(built)
        return built

    def _advance(self, at: datetime | None) -> datetime:
        if at is not None:
            self.at = at
        return self.at
