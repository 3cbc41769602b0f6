"""The access journal's records -> protobuf (ListAccessRecords)."""

from __future__ import annotations

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk_case.application.views import AccessPage
from casedesk_case.domain.access_journal import AccessRecord
from casedesk_case.wire.timestamps import to_timestamp


def access_record_to_proto(record: AccessRecord) -> pb.AccessRecord:
    entry = record.entry
    return pb.AccessRecord(
        sequence=record.sequence,
        at=to_timestamp(entry.at),
        person=entry.person,
        role=entry.role,
        case_id=entry.case_id,
        purpose=entry.purpose,
        caller=entry.caller,
        rpc=entry.rpc,
        previous_hash=record.previous_hash,
        record_hash=record.record_hash,
    )


def access_page_to_proto(page: AccessPage) -> pb.AccessRecordPage:
    return pb.AccessRecordPage(
        records=[access_record_to_proto(r) for r in page.records],
        next_page_token=page.next_page_token,
    )
