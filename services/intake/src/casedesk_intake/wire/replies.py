"""Intake's replies (casedesk.intake.v1) <-> domain values, and how idempotency records keep them.

A record keeps the reply as its protobuf bytes, so records written by any version of intake
replay alike.
"""

from __future__ import annotations

from casedesk.common.v1 import types_pb2
from casedesk.intake.v1 import intake_service_pb2 as intake_pb2
from casedesk_intake.domain.access_codes import CodeRequested
from casedesk_intake.domain.mail_rules import IgnoredReason, MailIgnored
from casedesk_intake.domain.replies import (
    Acknowledgement,
    CitizenCase,
    CitizenCaseChange,
    CitizenCaseList,
    CitizenComment,
    DueDates,
    MailOutcome,
)
from casedesk_intake.wire.enums import from_proto, to_proto
from casedesk_intake.wire.values import optional_instant, stamp
from casedesk_runtime.events import from_timestamp
from casedesk_vocabulary.enums import Channel, Status


def code_requested_message(reply: CodeRequested) -> intake_pb2.AccessCodeRequested:
    return intake_pb2.AccessCodeRequested(valid_for_s=reply.valid_for_s, text=reply.text)


def acknowledgement_message(reply: Acknowledgement) -> intake_pb2.Acknowledgement:
    message = intake_pb2.Acknowledgement(
        case_id=reply.case_id,
        number=reply.number,
        status=to_proto(reply.status),  # type: ignore[arg-type]
        text=reply.text,
        linked_to_number=reply.linked_to_number,
    )
    due = reply.deadlines
    if due is not None:
        message.deadlines.CopyFrom(
            types_pb2.Deadlines(
                resolution_due=stamp(due.resolution_due),
                first_response_due=stamp(due.first_response_due),
                policy_version=due.policy_version,
                calendar_version=due.calendar_version,
            )
        )
    return message


def acknowledgement(message: intake_pb2.Acknowledgement) -> Acknowledgement:
    due = message.deadlines
    deadlines = None
    if message.HasField("deadlines"):
        deadlines = DueDates(
            resolution_due=from_timestamp(due.resolution_due),
            first_response_due=optional_instant(due, "first_response_due"),
            policy_version=due.policy_version,
            calendar_version=due.calendar_version,
        )
    return Acknowledgement(
        case_id=message.case_id,
        number=message.number,
        status=from_proto(Status, message.status),
        deadlines=deadlines,
        text=message.text,
        linked_to_number=message.linked_to_number,
    )


def citizen_case_message(reply: CitizenCase) -> intake_pb2.CitizenCase:
    return intake_pb2.CitizenCase(
        number=reply.number,
        status=to_proto(reply.status),  # type: ignore[arg-type]
        status_label=reply.status_label,
        channel=to_proto(reply.channel),  # type: ignore[arg-type]
        subject=reply.subject,
        comments=[
            intake_pb2.CitizenComment(
                body=comment.body, from_support=comment.from_support, at=stamp(comment.at)
            )
            for comment in reply.comments
        ],
        registered_at=stamp(reply.registered_at),
        updated_at=stamp(reply.updated_at),
        rating=reply.rating,
        can_repeat=reply.can_repeat,
        can_rate=reply.can_rate,
    )


def citizen_case_change_message(change: CitizenCaseChange) -> intake_pb2.CitizenCaseChange:
    return intake_pb2.CitizenCaseChange(
        case=citizen_case_message(change.case), version=change.version
    )


def citizen_case(message: intake_pb2.CitizenCase) -> CitizenCase:
    return CitizenCase(
        number=message.number,
        status=from_proto(Status, message.status),
        status_label=message.status_label,
        channel=from_proto(Channel, message.channel),
        subject=message.subject,
        comments=tuple(
            CitizenComment(c.body, c.from_support, optional_instant(c, "at"))
            for c in message.comments
        ),
        registered_at=optional_instant(message, "registered_at"),
        updated_at=optional_instant(message, "updated_at"),
        rating=message.rating,
        can_repeat=message.can_repeat,
        can_rate=message.can_rate,
    )


def citizen_case_list_message(reply: CitizenCaseList) -> intake_pb2.CitizenCaseList:
    return intake_pb2.CitizenCaseList(
        cases=[citizen_case_message(c) for c in reply.cases],
        next_page_token=reply.next_page_token,
    )


def mail_outcome_message(reply: MailOutcome) -> intake_pb2.IngestEmailResponse:
    if reply.created is not None:
        return intake_pb2.IngestEmailResponse(created=acknowledgement_message(reply.created))
    if reply.commented is not None:
        return intake_pb2.IngestEmailResponse(commented=citizen_case_message(reply.commented))
    if reply.ignored is not None:
        reason = intake_pb2.MailIgnored.Reason.Value(reply.ignored.reason.value)
        ignored = intake_pb2.MailIgnored(reason=reason, detail=reply.ignored.detail)
        return intake_pb2.IngestEmailResponse(ignored=ignored)
    return intake_pb2.IngestEmailResponse()


def mail_outcome(message: intake_pb2.IngestEmailResponse) -> MailOutcome:
    outcome = message.WhichOneof("outcome")
    if outcome == "created":
        return MailOutcome(created=acknowledgement(message.created))
    if outcome == "commented":
        return MailOutcome(commented=citizen_case(message.commented))
    if outcome == "ignored":
        reason = IgnoredReason(intake_pb2.MailIgnored.Reason.Name(message.ignored.reason))
        return MailOutcome(ignored=MailIgnored(reason, message.ignored.detail))
    return MailOutcome()


class AcknowledgementRecords:
    def encode(self, reply: Acknowledgement) -> bytes:
        return acknowledgement_message(reply).SerializeToString()

    def decode(self, stored: bytes) -> Acknowledgement:
        return acknowledgement(intake_pb2.Acknowledgement.FromString(stored))


class CitizenCaseRecords:
    def encode(self, reply: CitizenCase) -> bytes:
        return citizen_case_message(reply).SerializeToString()

    def decode(self, stored: bytes) -> CitizenCase:
        return citizen_case(intake_pb2.CitizenCase.FromString(stored))


class MailOutcomeRecords:
    def encode(self, reply: MailOutcome) -> bytes:
        return mail_outcome_message(reply).SerializeToString()

    def decode(self, stored: bytes) -> MailOutcome:
        return mail_outcome(intake_pb2.IngestEmailResponse.FromString(stored))
