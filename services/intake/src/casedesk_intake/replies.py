"""What intake answers: the acknowledgement of a new case, and a case as the citizen sees it.

The citizen never sees internal notes, the assignee, the queue or the tier.
"""

from __future__ import annotations

from datetime import UTC, datetime

from casedesk.case.v1 import case_service_pb2 as case_pb2
from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_deadlines import Deadlines
from casedesk_intake.domain.wording import AcknowledgementFacts, acknowledgement_text, status_label
from casedesk_runtime.events import from_timestamp, to_timestamp


def _status_name(status: int) -> str:
    return types_pb2.Status.Name(status) if status in types_pb2.Status.values() else ""


class Replies:
    def __init__(self, deadlines: Deadlines) -> None:
        self._deadlines = deadlines

    def acknowledgement(
        self,
        case: case_pb2.CaseView,
        linked_to_number: str = "",
        repeat_of_number: str = "",
    ) -> intake_pb2.Acknowledgement:
        registered_at = (
            from_timestamp(case.registered_at)
            if case.HasField("registered_at")
            else datetime.now(UTC)
        )
        due = self._deadlines.compute(types_pb2.Channel.Name(case.channel), registered_at)
        deadlines = types_pb2.Deadlines(
            resolution_due=to_timestamp(due.resolution_due),
            policy_version=due.policy_version,
            calendar_version=due.calendar_version,
        )
        if due.first_response_due is not None:
            deadlines.first_response_due.CopyFrom(to_timestamp(due.first_response_due))
        facts = AcknowledgementFacts(
            number=case.number,
            status=_status_name(case.status),
            resolution_due=due.resolution_due,
            first_response_due=due.first_response_due,
            linked_to_number=linked_to_number,
            repeat_of_number=repeat_of_number,
        )
        return intake_pb2.Acknowledgement(
            case_id=case.case_id,
            number=case.number,
            status=case.status,
            deadlines=deadlines,
            text=acknowledgement_text(facts),
            linked_to_number=linked_to_number,
        )


def citizen_case(case: case_pb2.CaseView) -> intake_pb2.CitizenCase:
    view = intake_pb2.CitizenCase(
        number=case.number,
        status=case.status,
        status_label=status_label(_status_name(case.status)),
        channel=case.channel,
        subject=case.content.subject,
        registered_at=case.registered_at,
        updated_at=case.updated_at,
    )
    for comment in case.comments:
        if comment.public:
            view.comments.add(
                body=comment.body,
                from_support=comment.author.kind != types_pb2.Actor.CITIZEN,
                at=comment.at,
            )
    return view


def citizen_case_summary(case: case_pb2.CaseSummary) -> intake_pb2.CitizenCase:
    return intake_pb2.CitizenCase(
        number=case.number,
        status=case.status,
        status_label=status_label(_status_name(case.status)),
        channel=case.channel,
        subject=case.subject,
        registered_at=case.registered_at,
        updated_at=case.updated_at,
    )
