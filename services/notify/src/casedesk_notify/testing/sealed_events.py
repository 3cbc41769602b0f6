"""Case events as the case service writes them with CASEDESK_SEAL_PERSONAL_DATA on (issue #18):
every personal text a `casedesk_keys` token bound to its case and field name
(`casedesk_vocabulary.sealed_fields`). For tests and benchmarks, never used by the service."""

from __future__ import annotations

from casedesk.case.v1 import events_pb2
from casedesk_keys import DataKey, FieldContext, encrypt_field
from casedesk_vocabulary.sealed_fields import (
    CITIZEN_FIELDS,
    CONTENT_FIELDS,
    ORIGIN_FIELDS,
    citizen_field,
    comment_field,
    content_field,
    origin_field,
)


def sealed(event: events_pb2.CaseEvent, key: DataKey) -> events_pb2.CaseEvent:
    """`event` with its personal texts sealed with `key` (changed in place, and returned)."""
    case_id = event.meta.case_id

    def seal(field: str, value: str) -> str:
        return encrypt_field(key, value, FieldContext(case_id, field)) if value else value

    kind = event.WhichOneof("payload")
    if kind == "created":
        citizen, content = event.created.citizen, event.created.content
        for name in CITIZEN_FIELDS:
            setattr(citizen, name, seal(citizen_field(name), getattr(citizen, name)))
        for name in CONTENT_FIELDS:
            setattr(content, name, seal(content_field(name), getattr(content, name)))
        origin_kind = event.created.provenance.WhichOneof("origin")
        if origin_kind is not None:
            origin = getattr(event.created.provenance, origin_kind)
            for name in ORIGIN_FIELDS:
                if name in origin.DESCRIPTOR.fields_by_name:
                    setattr(origin, name, seal(origin_field(name), getattr(origin, name)))
    if kind == "commented":
        comment = event.commented
        comment.body = seal(comment_field(comment.comment_id), comment.body)
    return event
