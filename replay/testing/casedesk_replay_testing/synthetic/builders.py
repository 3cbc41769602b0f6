"""Builders of single events for tests and examples: one case's events, SLA and journal events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from casedesk.case.v1 import events_pb2 as ce
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk.notification.v1 import events_pb2 as ne
from casedesk.sla.v1 import events_pb2 as se
from casedesk_deadlines import MOSCOW
from casedesk_runtime.events import to_timestamp

T0 = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

ACTORS = {
    "citizen": types_pb2.Actor(kind=types_pb2.Actor.CITIZEN, id="ivanov.ii"),
    "specialist": types_pb2.Actor(kind=types_pb2.Actor.SPECIALIST, id="l1-004"),
    "system": types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk-case"),
    "supervisor": types_pb2.Actor(kind=types_pb2.Actor.SPECIALIST, id="super.orlova"),
}


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Moscow wall-clock instant (the deadlines are defined in Moscow time)."""
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


@dataclass
class CaseEvents:
    """Events of one case with consecutive versions, as the relay publishes them."""

    case_id: str = "4f1c2d3e-0000-4000-8000-000000000001"
    version: int = 0
    current_status: int = types_pb2.REGISTERED
    events: list[ce.CaseEvent] = field(default_factory=list)

    def _event(self, at: datetime, actor: str, **payload: object) -> ce.CaseEvent:
        self.version += 1
        meta = envelope_pb2.EventMeta(
            event_id=f"{self.case_id}/{self.version}",
            case_id=self.case_id,
            case_version=self.version,
            event_type="case." + next(iter(payload)),
            occurred_at=to_timestamp(at),
            actor=ACTORS[actor],
        )
        event = ce.CaseEvent(meta=meta, **payload)  # type: ignore[arg-type]
        self.events.append(event)
        return event

    def created(self, at: datetime, channel: str = "EMAIL", **fields: object) -> ce.CaseEvent:
        created = ce.Created(
            number=fields.pop("number", "2025-0000001"),  # type: ignore[arg-type]
            channel=types_pb2.Channel.Value(channel),
            type=types_pb2.TECHNICAL,
            category=fields.pop("category", types_pb2.TECHNICAL_FAULT),  # type: ignore[arg-type]
            queue="tech",
            tier=types_pb2.L1,
            priority=types_pb2.NORMAL,
            registered_at=to_timestamp(at),
            citizen=types_pb2.Citizen(
                full_name="Иванов Иван Иванович",
                snils="11223344595",
                account_login="ivanov.ii",
                mobile_phone="+79161234567",
                email="ivanov@example.ru",
            ),
            content=types_pb2.CaseContent(subject="Не приходит СМС-код на +79161234567"),
            **fields,  # type: ignore[arg-type]
        )
        return self._event(at, "system", created=created)

    def move(
        self,
        at: datetime,
        to_status: str,
        actor: str = "specialist",
        close_reason: str = "",
        reason: str = "",
    ) -> ce.CaseEvent:
        change = ce.StatusChanged(
            from_status=self.current_status,  # type: ignore[arg-type]
            to_status=types_pb2.Status.Value(to_status),
            close_reason=ce.CloseReason.Value(close_reason) if close_reason else 0,
            reason=reason,
        )
        self.current_status = change.to_status
        return self._event(at, actor, status_changed=change)

    def comment(self, at: datetime, public: bool = True, actor: str = "specialist") -> ce.CaseEvent:
        return self._event(
            at, actor, commented=ce.Commented(comment_id="c", body="…", public=public)
        )

    def assigned(
        self, at: datetime, specialist: str, queue: str = "tech", tier: str = ""
    ) -> ce.CaseEvent:
        """`tier` empty: the assignment leaves the case's tier as it is."""
        assigned = ce.Assigned(specialist_id=specialist, queue=queue,
                               tier=types_pb2.Tier.Value(tier) if tier else 0)  # fmt: skip
        return self._event(at, "system", assigned=assigned)

    def rated(
        self, at: datetime, score: int, channel: str = "PORTAL_CHAT", comment: str = "Спасибо"
    ) -> ce.CaseEvent:
        rating = ce.AnswerRated(score=score, comment=comment,
                                channel=types_pb2.Channel.Value(channel))  # fmt: skip
        return self._event(at, "citizen", answer_rated=rating)

    def merged_into(self, at: datetime, target_case_id: str, target_number: str) -> ce.CaseEvent:
        merged = ce.MergedInto(target_case_id=target_case_id, target_number=target_number,
                               reason="дубликат")  # fmt: skip
        return self._event(at, "supervisor", merged_into=merged)

    def duplicate_merged(self, at: datetime, duplicate_case_id: str) -> ce.CaseEvent:
        merged = ce.DuplicateMerged(duplicate_case_id=duplicate_case_id,
                                    duplicate_number="2025-0000002")  # fmt: skip
        return self._event(at, "supervisor", duplicate_merged=merged)

    def callback(self, at: datetime, reached: bool) -> ce.CaseEvent:
        called = ce.CallbackRecorded(reached=reached, note="Перезвонил, +79161234567")
        return self._event(at, "specialist", callback_recorded=called)

    def escalated(self, at: datetime, to_tier: str = "L2") -> ce.CaseEvent:
        escalated = ce.Escalated(
            from_tier=types_pb2.L1,
            to_tier=types_pb2.Tier.Value(to_tier),
            reason=ce.RESOLUTION_BREACH,
            cause_ref="breach-1",
            priority=types_pb2.HIGH,
        )
        return self._event(at, "system", escalated=escalated)

    def requested(self, at: datetime, explanation: str = "") -> ce.CaseEvent:
        request = ce.EscalationRequested(request_id="req-1", reason=ce.UNSATISFYING_ANSWER,
                                         explanation=explanation)  # fmt: skip
        return self._event(at, "citizen", escalation_requested=request)

    def repeated(
        self, at: datetime, new_case_id: str, new_number: str, reason: str = "Не помогло"
    ) -> ce.CaseEvent:
        repeated = ce.Repeated(new_case_id=new_case_id, new_case_number=new_number, reason=reason)
        return self._event(at, "citizen", repeated=repeated)

    def attachment(self, at: datetime, file_name: str = "паспорт Иванова.pdf") -> ce.CaseEvent:
        attachment = types_pb2.Attachment(attachment_id=f"a{self.version + 1}",
                                          file_name=file_name, media_type="application/pdf",
                                          size_bytes=1024, sha256="00" * 32)  # fmt: skip
        return self._event(
            at, "citizen", attachment_added=ce.AttachmentAdded(attachment=attachment)
        )


def sla_event(
    case_id: str, target: str, at: datetime, due: datetime, **payload: object
) -> se.SlaEvent:
    return se.SlaEvent(
        meta=envelope_pb2.EventMeta(
            event_id=f"{case_id}/{target}/{next(iter(payload))}/{at.isoformat()}",
            case_id=case_id,
            occurred_at=to_timestamp(at),
        ),
        target=se.Target.Value(target),
        channel=types_pb2.EMAIL,
        policy_version="2023.1",
        calendar_version="RU/test",
        due_at=to_timestamp(due),
        **payload,  # type: ignore[arg-type]
    )


def notification_event(
    notification_id: str, at: datetime, **payload: object
) -> ne.NotificationEvent:
    return ne.NotificationEvent(
        meta=envelope_pb2.EventMeta(
            event_id=f"{notification_id}/{next(iter(payload))}/{at.isoformat()}",
            case_id="case-1",
            occurred_at=to_timestamp(at),
        ),
        notification_id=notification_id,
        source_event_id="case-1/2",
        channel=ne.EMAIL,
        template="status_changed@v1",
        **payload,  # type: ignore[arg-type]
    )
