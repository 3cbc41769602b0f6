"""Case events as the case service records them with `CASEDESK_SEAL_PERSONAL_DATA` on (#18).

`sealed(event)` is a copy of a case event whose personal fields and free texts are token-shaped
strings (`cdk1.` + unpadded base64url of a version byte, 48 bytes standing for the subject id,
key generation, nonce and tag, and as many bytes as the text), in every place the case service
seals (`casedesk_vocabulary.sealed_fields`, services/case/README.md "Sealed personal data").
They are not real tokens and open with no key: the replay has none and must not need any.
`erased=True`: the free texts are empty, as the case service stores them for an erased citizen.
"""

from __future__ import annotations

import base64
import hashlib

from casedesk.case.v1 import events_pb2 as ce
from casedesk.common.v1 import types_pb2
from casedesk_vocabulary.sealed_fields import (
    CITIZEN_FIELDS,
    CONTENT_FIELDS,
    FIELD_ACTOR_ID,
    FIELD_CALLBACK_NOTE,
    FIELD_ESCALATION_EXPLANATION,
    FIELD_MERGE_REASON,
    FIELD_RATING_COMMENT,
    FIELD_REPEAT_REASON,
    FIELD_STATUS_REASON,
    TOKEN_PREFIX,
    attachment_field,
    citizen_field,
    comment_field,
    content_field,
    origin_field,
)

_ORIGINS = {
    "email": ("message_id", "from_address"),
    "phone": ("caller_number",),
    "social": ("author_handle", "post_reference"),
}
# (payload, its free-text field, the name the text is sealed under)
_FREE_TEXTS = (
    ("status_changed", "reason", FIELD_STATUS_REASON),
    ("escalation_requested", "explanation", FIELD_ESCALATION_EXPLANATION),
    ("answer_rated", "comment", FIELD_RATING_COMMENT),
    ("callback_recorded", "note", FIELD_CALLBACK_NOTE),
    ("merged_into", "reason", FIELD_MERGE_REASON),
    ("repeated", "reason", FIELD_REPEAT_REASON),
)


def token(case_id: str, name: str, value: str) -> str:
    """A token-shaped stand-in for `value` sealed in its place (deterministic)."""
    size = 1 + 48 + len(value.encode())
    body = b"\x01" + hashlib.shake_256(f"{case_id}\0{name}\0{value}".encode()).digest(size - 1)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(body).decode().rstrip("=")


def sealed(event: ce.CaseEvent, *, erased: bool = False) -> ce.CaseEvent:
    copy = ce.CaseEvent()
    copy.CopyFrom(event)
    case_id = copy.meta.case_id

    def seal(message: object, attribute: str, name: str) -> None:
        value = getattr(message, attribute)
        if value:
            setattr(message, attribute, token(case_id, name, value))

    if copy.meta.actor.kind == types_pb2.Actor.CITIZEN:
        seal(copy.meta.actor, "id", FIELD_ACTOR_ID)
    payload = copy.WhichOneof("payload")
    if payload == "created":
        created = copy.created
        for name in CITIZEN_FIELDS:
            seal(created.citizen, name, citizen_field(name))
        for name in CONTENT_FIELDS:
            seal(created.content, name, content_field(name))
        origin = created.provenance.WhichOneof("origin")
        for name in _ORIGINS.get(origin or "", ()):
            seal(getattr(created.provenance, origin), name, origin_field(name))  # type: ignore[arg-type]
        for attachment in created.attachments:
            seal(attachment, "file_name", attachment_field(attachment.attachment_id))
    elif payload == "commented":
        seal(copy.commented, "body", comment_field(copy.commented.comment_id))
        for attachment in copy.commented.attachments:
            seal(attachment, "file_name", attachment_field(attachment.attachment_id))
    elif payload == "attachment_added":
        attachment = copy.attachment_added.attachment
        seal(attachment, "file_name", attachment_field(attachment.attachment_id))
    for kind, attribute, name in _FREE_TEXTS:
        if payload == kind:
            message = getattr(copy, kind)
            if erased:
                setattr(message, attribute, "")
            else:
                seal(message, attribute, name)
    return copy


def sealed_log(events: list[ce.CaseEvent], *, erased: bool = False) -> list[ce.CaseEvent]:
    return [sealed(event, erased=erased) for event in events]
