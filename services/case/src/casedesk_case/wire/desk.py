"""The desk's views -> protobuf: queue changes, a case's timeline, the supervisors' overview."""

from __future__ import annotations

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk_case.application.timeline import NotificationFact, SlaFact
from casedesk_case.application.views import CaseTimelineView, DeskOverview, QueueChange
from casedesk_case.wire.enums import to_proto
from casedesk_case.wire.timestamps import to_timestamp
from casedesk_case.wire.values import summary_to_proto


def queue_change_to_proto(change: QueueChange) -> pb.QueueChange:
    return pb.QueueChange(
        position=str(change.position),
        summary=summary_to_proto(change.summary),
        event_type=change.event_type,
    )


def timeline_to_proto(timeline: CaseTimelineView) -> pb.CaseTimeline:
    return pb.CaseTimeline(
        sla=[_sla_fact(f) for f in timeline.sla],
        notifications=[_notification_fact(f) for f in timeline.notifications],
    )


def _sla_fact(fact: SlaFact) -> pb.SlaFact:
    message = pb.SlaFact(
        event_id=fact.event_id, at=to_timestamp(fact.at), target=fact.target, kind=fact.kind,
        late=fact.late,
    )  # fmt: skip
    if fact.due_at is not None:
        message.due_at.CopyFrom(to_timestamp(fact.due_at))
    return message


def _notification_fact(fact: NotificationFact) -> pb.NotificationFact:
    return pb.NotificationFact(
        notification_id=fact.notification_id,
        at=to_timestamp(fact.at),
        channel=fact.channel,
        kind=fact.kind,
        recipient_masked=fact.recipient_masked,
        template=fact.template,
        error=fact.error,
    )


def overview_to_proto(overview: DeskOverview) -> pb.DeskOverview:
    return pb.DeskOverview(
        as_of=to_timestamp(overview.as_of),
        queues=[
            pb.QueueLoad(
                tier=to_proto(q.tier),  # type: ignore[arg-type]
                queue=q.queue, open=q.open, unassigned=q.unassigned, breached=q.breached,
            )
            for q in overview.load.queues
        ],
        specialists=[
            pb.SpecialistLoad(
                specialist_id=s.specialist_id, open=s.open,
                waiting_for_citizen=s.waiting_for_citizen,
            )
            for s in overview.load.specialists
        ],
        breaches_today=overview.breaches_today,
        compliance=[
            pb.DayCompliance(
                date=d.day.isoformat(), met_on_time=d.met_on_time, met_late=d.met_late,
                breached=d.breached,
            )
            for d in overview.compliance
        ],
    )  # fmt: skip
