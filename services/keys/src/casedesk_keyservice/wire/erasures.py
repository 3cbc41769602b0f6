"""Erasure orders, their outcomes, the journal's records and tombstones on the wire."""

from __future__ import annotations

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk_keys import CitizenIdentity, Tombstone
from casedesk_keyservice.domain import ErasureOrder, ErasureOutcome, ErasureRecord, InvalidOrder
from casedesk_keyservice.domain.erasure import MAX_SUBJECTS
from casedesk_keyservice.wire.keys import generation_of, subject_of
from casedesk_runtime.events import from_timestamp, to_timestamp


def order_from(request: pb.EraseCitizenRequest) -> ErasureOrder:
    named = request.identifiers
    identity = CitizenIdentity(
        login=named.login, snils=named.snils, inn=named.inn, email=named.email, phone=named.phone
    )
    if len(request.subjects) > MAX_SUBJECTS:
        raise InvalidOrder("subjects", f"at most {MAX_SUBJECTS} in one request")
    subjects = tuple(subject_of(text, f"subjects[{i}]") for i, text in enumerate(request.subjects))
    return ErasureOrder(identity, subjects, request.reason)


def erase_response(outcomes: list[ErasureOutcome]) -> pb.EraseCitizenResponse:
    return pb.EraseCitizenResponse(
        subjects=[
            pb.ErasedSubject(
                derived_from=outcome.derived_from,
                erasure=erasure_message(outcome.record),
                erased_by=outcome.record.erased_by,
                reason=outcome.record.reason,
                already_erased=outcome.already_erased,
            )
            for outcome in outcomes
        ]
    )


def erasure_message(record: ErasureRecord) -> pb.Erasure:
    return pb.Erasure(
        position=record.position,
        subject=str(record.subject),
        generation=record.generation,
        erased_at=to_timestamp(record.erased_at),
    )


def erased_detail(tombstone: Tombstone) -> pb.Erasure:
    """What an erased subject's refusal carries: whose key, which generation, since when."""
    return pb.Erasure(
        subject=str(tombstone.subject),
        generation=tombstone.generation,
        erased_at=to_timestamp(tombstone.erased_at),
    )


def tombstone_from(erasure: pb.Erasure) -> Tombstone:
    """A client's tombstone from an erasure on the wire: who erased and why stay with the key
    service (the caller needs only whose key, which generation and since when)."""
    return Tombstone(
        subject=subject_of(erasure.subject),
        generation=generation_of(erasure.generation),
        erased_at=from_timestamp(erasure.erased_at),
        erased_by="",
        reason="",
    )


def watch_start(request: pb.WatchErasuresRequest) -> int | None:
    """Where a watch starts: after a position, or (None) from now on."""
    if request.after_position < 0:
        raise InvalidOrder("after_position", "0 or a position received before")
    if request.from_now and request.after_position:
        raise InvalidOrder("after_position", "leave it 0 with from_now")
    return None if request.from_now else request.after_position


def erasure_batch(records: list[ErasureRecord], position: int) -> pb.ErasureBatch:
    return pb.ErasureBatch(erasures=[erasure_message(r) for r in records], position=position)
